import WebSocket from 'ws';
import type { WebSocketConstructor } from '../../client/websocket';

/**
 * A `ws` WebSocket class whose network can be cut: while `online` is false, new
 * connections go to a closed port (so reconnects fail as on a dead network), and
 * `current` is the last socket made, to drop the live one with `terminate()`.
 */
export function flakyNetwork(): { online: boolean; current?: WebSocket; WebSocket: WebSocketConstructor } {
  const net = { online: true, current: undefined as WebSocket | undefined, WebSocket: undefined as unknown as WebSocketConstructor };
  class FlakyNetworkWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(net.online ? url : url.replace(/:\d+\//, ':1/'), protocols);
      net.current = this; // eslint-disable-line @typescript-eslint/no-this-alias
    }
  }
  net.WebSocket = FlakyNetworkWebSocket as unknown as WebSocketConstructor;
  return net;
}
