/**
 * Browser entry: the client on the page's native WebSocket. Nothing on this path
 * imports a Node built-in (test/client/browser.test.ts checks the bundle).
 */
import { connect as connectWith, type ClientOptions, type EventsockClient } from './client';

export * from './index';

export function connect(opts: ClientOptions): Promise<EventsockClient> {
  return connectWith(opts);
}
