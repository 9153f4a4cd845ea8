/**
 * Request/response over the socket: subscribe, unsubscribe and publish frames carry an
 * id, and the server's `*_success` / `*_error` frame with that id settles the request.
 * Each request times out on its own; a socket that drops or a client that closes
 * settles every request still in flight.
 */
import { EventsockClientError, describeServerErrors } from './errors';
import type { ConnectionState } from './types';
import { WS_OPEN, type WebSocketLike } from './websocket';

export type RequestKind = 'subscribe' | 'unsubscribe' | 'publish';

interface Pending {
  resolve: (frame: Record<string, unknown>) => void;
  reject: (e: EventsockClientError) => void;
  timer: ReturnType<typeof setTimeout>;
  kind: RequestKind;
}

/** What requests need of the connection. */
export interface RequestChannel {
  readonly state: ConnectionState;
  /** The current socket, if any. */
  readonly socket: WebSocketLike | undefined;
  /** Sends a frame that expects no tracked answer, if the socket is open. */
  sendQuietly(frame: Record<string, unknown>): void;
  emitError(e: EventsockClientError): void;
}

export class Requests {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly channel: RequestChannel,
    private readonly timeoutMs: number,
  ) {}

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** The kind of the request in flight under `id`, if any. */
  kindOf(id: string): RequestKind | undefined {
    return this.pending.get(id)?.kind;
  }

  /** Sends `frame` and resolves with the server's success frame for `id`. */
  request(kind: RequestKind, id: string, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ws = this.channel.socket;
    if (!ws || ws.readyState !== WS_OPEN || this.channel.state !== 'connected') {
      return Promise.reject(new EventsockClientError('CONNECTION_LOST', `not connected (state ${this.channel.state})`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Through the map entry: answered() may have wrapped its callbacks.
        const p = this.pending.get(id);
        this.pending.delete(id);
        (p?.reject ?? reject)(new EventsockClientError('TIMEOUT', `no answer to ${kind} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { kind, resolve, reject, timer });
      ws.send(JSON.stringify(frame));
    });
  }

  /**
   * Settles once the request of `kind` in flight under `id` is answered (either way);
   * undefined when there is none.
   */
  answered(id: string, kind: RequestKind): Promise<void> | undefined {
    const p = this.pending.get(id);
    if (p?.kind !== kind) return undefined;
    return new Promise<void>((resolve) => {
      const { resolve: ok, reject: fail } = p;
      p.resolve = (f) => (ok(f), resolve());
      p.reject = (e) => (fail(e), resolve());
    });
  }

  /** Fails the request in flight under `id` with `err`; false when there is none. */
  reject(id: string, err: EventsockClientError): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(id);
    p.reject(err);
    return true;
  }

  /**
   * Settles everything in flight: unsubscribes succeed (moot without the socket or the
   * client), the others fail with `errorFor(kind)`.
   */
  settleAll(errorFor: (kind: RequestKind) => EventsockClientError): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      if (p.kind === 'unsubscribe') p.resolve({});
      else p.reject(errorFor(p.kind));
    }
  }

  /** Handles an answer frame (`*_success`, `*_error`, `error`); other frame types are ignored. */
  onAnswer(frame: Record<string, unknown>): void {
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    switch (frame.type) {
      case 'subscribe_success':
        // A success we gave up waiting for: the server holds a subscription nobody reads.
        if (id && !this.pending.has(id)) this.channel.sendQuietly({ type: 'unsubscribe', id });
        if (id) this.settle(id, frame);
        return;
      case 'unsubscribe_success':
      case 'publish_success':
        if (id) this.settle(id, frame);
        return;
      case 'subscribe_error':
      case 'unsubscribe_error':
      case 'publish_error':
      case 'error': {
        const { list, text } = describeServerErrors(frame.errors);
        const p = id ? this.pending.get(id) : undefined;
        if (!p) {
          // The answer to an unsubscribe sent without waiting (after a subscribe timed out).
          if (frame.type === 'unsubscribe_error') return;
          this.channel.emitError(new EventsockClientError('INVALID_FRAME', `server error: ${text}`, { errors: list }));
          return;
        }
        if (p.kind === 'unsubscribe') {
          // An unknown id means the server no longer has it: that is what we wanted.
          this.settle(id!, frame);
          return;
        }
        this.pending.delete(id!);
        clearTimeout(p.timer);
        p.reject(new EventsockClientError(p.kind === 'subscribe' ? 'SUBSCRIBE_REFUSED' : 'PUBLISH_REFUSED', text, { errors: list }));
        return;
      }
      default:
        // Unknown frame types are tolerated, as the service tolerates ours.
        return;
    }
  }

  private settle(id: string, frame: Record<string, unknown>): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(frame);
  }
}
