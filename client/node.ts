/** Node entry: the client with `ws` as its WebSocket. */
import WebSocket from 'ws';
import { connect as connectWith, type ClientOptions, type EventsockClient } from './client';
import type { WebSocketConstructor } from './websocket';

export * from './index';

export function connect(opts: ClientOptions): Promise<EventsockClient> {
  return connectWith({ WebSocket: WebSocket as unknown as WebSocketConstructor, ...opts });
}
