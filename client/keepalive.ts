/**
 * The keep-alive watchdog: the server sends `ka` (and data) at least every
 * connectionTimeoutMs (announced in connection_ack); silence for that long means the
 * connection is half-open, which TCP alone may not notice for a long time.
 */
import { LIMITS } from '../functions/core/limits';

export class KeepAliveWatchdog {
  /** Silence allowed before `onSilence`; set from connection_ack. */
  timeoutMs: number = LIMITS.connectionTimeoutMs;
  /** When the last ka/data arrived (0: never). */
  lastActivity = 0;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(private readonly onSilence: () => void) {}

  /** A sign of life: (re)arms the watchdog. */
  touch(): void {
    this.lastActivity = Date.now();
    if (this.timer) return;
    const check = () => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= this.timeoutMs) {
        this.timer = undefined;
        this.onSilence();
        return;
      }
      this.timer = setTimeout(check, this.timeoutMs - idle);
    };
    this.timer = setTimeout(check, this.timeoutMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
