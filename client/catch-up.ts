/**
 * History catch-up after a (re)subscribe: what the drop made a subscription miss is
 * read from the history API (client/history.ts) and delivered in id order, merged with
 * the live messages held meanwhile, before live delivery resumes. A wildcard
 * subscription reads its pattern once, so channels it never saw before the drop are
 * caught up on too; a refused pattern read falls back to the channels it saw.
 */
import type { Envelope } from '../functions/core/envelope';
import type { TokenSource } from './auth';
import { asClientError } from './as-client-error';
import type { EchoFilter } from './echo';
import { EventsockClientError } from './errors';
import { readHistorySince, type HistoryOptions } from './history';
import { ulidFloor } from './ids';
import type { SubRecord } from './subscription';

export interface CatchUpDeps {
  history: HistoryOptions & { token: TokenSource };
  echo: EchoFilter;
  /** Delivers one envelope to the subscription (dropped if already seen). */
  deliver(sub: SubRecord, env: Envelope): void;
  /** Live delivery resumes (unless a subscribe in flight will start another catch-up). */
  releaseLive(sub: SubRecord): void;
  emitError(e: EventsockClientError): void;
  /** The last ka/data of the connection that dropped (0: none). */
  lastAliveBeforeDrop(): number;
}

export class CatchUp {
  /** Wildcard subscriptions (by id) due a pattern catch-up, and the id it starts after. */
  private readonly patternFrom = new Map<string, string>();

  constructor(private readonly deps: CatchUpDeps) {}

  /** The server accepted `sub` (again, when `resubscribed`): start the catch-up it is due, if any. */
  afterSubscribe(sub: SubRecord, resubscribed: boolean): void {
    const { history } = this.deps;
    if (resubscribed && sub.channel.endsWith('/*')) {
      // A wildcard subscription catches up with one query of its pattern, so that a channel
      // it never received anything on before the drop is caught up on too.
      const from = this.wildcardCatchUpFrom(sub);
      if (from !== undefined) {
        this.patternFrom.set(sub.id, from);
        void this.catchUp(sub);
      }
    } else if (resubscribed) {
      // A concrete channel that delivered nothing yet still catches up, from the last
      // sign of life of the old connection (less a margin for clock skew): ULIDs begin with time.
      const lastAlive = this.deps.lastAliveBeforeDrop();
      if (sub.lastIds.size === 0 && !sub.channel.endsWith('/*') && lastAlive > 0) {
        sub.lastIds.set(sub.channel, ulidFloor(Math.max(sub.acceptedAt, lastAlive - (history.clockSkewMs ?? 2000))));
      }
      if (sub.lastIds.size > 0) void this.catchUp(sub);
    } else if (sub.lastIds.size > 0) {
      void this.catchUp(sub);
    }
  }

  /**
   * Where a wildcard subscription's pattern catch-up starts: the old connection's last
   * sign of life less the clock-skew margin (nothing before it was missed, and ids a
   * little older that arrived late are read again and dropped as seen), never before
   * the subscription was accepted; without one, the newest id it delivered on any of
   * its channels (ULIDs sort by time). Undefined: nothing to catch up from.
   */
  private wildcardCatchUpFrom(sub: SubRecord): string | undefined {
    const lastAlive = this.deps.lastAliveBeforeDrop();
    if (lastAlive > 0) return ulidFloor(Math.max(sub.acceptedAt, lastAlive - (this.deps.history.clockSkewMs ?? 2000)));
    let newest: string | undefined;
    for (const id of sub.lastIds.values()) if (newest === undefined || id > newest) newest = id;
    return newest;
  }

  /** Delivers what the drop made us miss, in id order, then what arrived live meanwhile. */
  private async catchUp(sub: SubRecord): Promise<void> {
    if (sub.catchingUp) {
      sub.catchUpAgain = true;
      return;
    }
    sub.catchingUp = true;
    try {
      do {
        sub.catchUpAgain = false;
        const from = this.patternFrom.get(sub.id);
        this.patternFrom.delete(sub.id);
        if (from !== undefined && (await this.catchUpOn(sub, sub.channel, from, true))) continue;
        for (const [channel, after] of [...sub.lastIds]) await this.catchUpOn(sub, channel, after, false);
      } while (sub.catchUpAgain);
    } finally {
      sub.catchingUp = false;
      this.deps.releaseLive(sub);
    }
  }

  /**
   * Reads one channel (or the subscription's whole pattern) after `after` and delivers
   * it, merged by id with the live messages held meanwhile for it. False when a pattern
   * read was refused as such (a token granting history on some channels only, or a
   * history API without patterns): the caller then falls back to the channels it saw.
   */
  private async catchUpOn(sub: SubRecord, channel: string, after: string, pattern: boolean): Promise<boolean> {
    try {
      const { items, truncated } = await readHistorySince(this.deps.history, channel, after);
      // Live messages held meanwhile that history does not hold (published with store 0)
      // take their place by id among the stored ones instead of trailing them.
      const mine = (env: Envelope) => pattern || env.channel === channel;
      const held = sub.buffer.filter(mine);
      sub.buffer = sub.buffer.filter((env) => !mine(env));
      const stored = new Set(items);
      for (const env of [...items, ...held].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
        if (sub.seen.has(env.id)) continue;
        if (stored.has(env) && this.deps.echo.isOwnEcho(sub.id, env)) sub.seen.add(env.id);
        else this.deps.deliver(sub, env);
      }
      if (truncated) {
        this.deps.emitError(new EventsockClientError('HISTORY_FAILED', `more than ${items.length} messages were missed on ${channel}; delivered the first ${items.length}`, { channel }));
      }
    } catch (e) {
      const err = asClientError(e, 'HISTORY_FAILED');
      if (pattern && (err.errors ?? []).some((x) => x.errorType === 'FORBIDDEN' || x.errorType === 'INVALID_CHANNEL')) return false;
      this.deps.emitError(err);
    }
    return true;
  }
}
