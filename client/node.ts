/** Node entry: the client with `ws` as its WebSocket, and the token signer for backends. */
import WebSocket, { type ClientOptions as WsClientOptions } from 'ws';
import { connect as connectWith } from './client';
import type { ClientOptions, EventsockClient } from './types';
import type { WebSocketConstructor } from './websocket';

export * from './index';
export { signToken, type SignTokenOptions } from './token';

export interface NodeClientOptions extends ClientOptions {
  /** Passed to `ws` (e.g. `{ ca }` to trust the emulator's self-signed certificate with --tls). */
  wsOptions?: WsClientOptions;
}

export function connect(opts: NodeClientOptions): Promise<EventsockClient> {
  const { wsOptions, ...rest } = opts;
  const WS = wsOptions
    ? class extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, wsOptions);
        }
      }
    : WebSocket;
  return connectWith({ WebSocket: WS as unknown as WebSocketConstructor, ...rest });
}
