/** Reconnect backoff: the default policy and the jittered delay per attempt (also used for resubscribe retries). */
import type { ReconnectOptions } from './types';

export const DEFAULT_RECONNECT: ReconnectOptions = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, maxAttempts: Infinity };

/** Equal jitter: at least half the backoff, so a fleet that lost one server does not return in one wave. */
export function backoffDelay(r: Pick<ReconnectOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor'>, attempt: number, random: () => number): number {
  const base = Math.min(r.maxDelayMs, r.initialDelayMs * Math.pow(r.factor, attempt));
  return base / 2 + random() * (base / 2);
}
