/** Who waits for the connection: connect() for the first ack, publishes made while (re)connecting. */
import { EventsockClientError } from './errors';

type Waiter = { resolve: () => void; reject: (e: EventsockClientError) => void };

export class ConnectedWaiters {
  /** Settles with the first connection_ack, or the failure that ended the client first. */
  readonly ready: Promise<void>;
  private readyHandlers?: Waiter;
  private waiters: Waiter[] = [];

  constructor() {
    this.ready = new Promise((resolve, reject) => {
      this.readyHandlers = { resolve, reject };
    });
    // Unhandled if connect() is not awaited; the error still reaches 'error' listeners.
    this.ready.catch(() => undefined);
  }

  /** A connection_ack arrived (`first`: the first one ever). */
  connected(first: boolean): void {
    if (first) this.readyHandlers?.resolve();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** The client ended. */
  fail(err: EventsockClientError): void {
    this.readyHandlers?.reject(err);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** Resolves with the next connection_ack; TIMEOUT after `timeoutMs` (`state()` names where it stood). */
  next(timeoutMs: number, state: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = { resolve: () => (clearTimeout(timer), resolve()), reject: (e: EventsockClientError) => (clearTimeout(timer), reject(e)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new EventsockClientError('TIMEOUT', `not connected within ${timeoutMs} ms (state ${state()})`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}
