/**
 * The slice of the WebSocket API the client uses: browsers' native WebSocket and
 * `ws` both provide it (`ws` delivers text frames to `onmessage` as strings).
 */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export const WS_OPEN = 1;

/** Closes `ws` and resolves once its close event came, or after `waitMs` at the latest. */
export function closeAndWait(ws: WebSocketLike, code: number, reason: string, waitMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, waitMs);
    ws.onclose = () => {
      clearTimeout(t);
      resolve();
    };
    try {
      ws.close(code, reason);
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}
