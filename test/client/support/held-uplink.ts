/**
 * A `ws` WebSocket whose outgoing publish frames can be held back and released
 * later: a slow uplink, so that a test can make another publisher's message reach
 * the server (and this client) before this client's own, deterministically.
 */
import WebSocket from 'ws';
import type { WebSocketConstructor } from '../../../client/websocket';

export interface HeldUplink {
  WebSocket: WebSocketConstructor;
  /** Hold publish frames from now on. */
  hold(): void;
  /** Send what was held, in order, and stop holding. */
  release(): void;
  /** Publish frames currently held. */
  held(): number;
}

export function heldUplink(): HeldUplink {
  let holding = false;
  const queue: Array<() => void> = [];
  class HeldWebSocket extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      const text = String(data);
      const isPublish = (() => {
        try {
          return (JSON.parse(text) as { type?: unknown }).type === 'publish';
        } catch {
          return false;
        }
      })();
      const go = () => (super.send as (...a: unknown[]) => void)(data, ...rest);
      if (holding && isPublish) queue.push(go);
      else go();
    }
  }
  return {
    WebSocket: HeldWebSocket as unknown as WebSocketConstructor,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const go of queue.splice(0)) go();
    },
    held: () => queue.length,
  };
}
