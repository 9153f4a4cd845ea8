/**
 * One subscription's client-side state: what it has delivered (ids, per-channel
 * high-water marks for history catch-up), messages held back during a catch-up,
 * and the queue behind its async iterator.
 */
import type { Envelope } from '../functions/core/envelope';
import type { Authorizer } from './auth';
import type { EventsockClientError } from './errors';
import { SeenIds, randomId } from './ids';
import type { Presence } from './presence';
import type { MessageHandler, Subscription } from './types';

export interface SubRecord {
  id: string;
  channel: string;
  authorizer: Authorizer;
  handler?: MessageHandler<unknown>;
  /** Settles the subscribe() promise the first time the server answers. */
  first?: { resolve: () => void; reject: (e: EventsockClientError) => void };
  /** Has the server ever accepted this subscription? (Then a later success is a resubscribe.) */
  accepted: boolean;
  /** When the server first accepted it (client clock): catch-up never reaches before this. */
  acceptedAt: number;
  seen: SeenIds;
  /** Highest id delivered per concrete channel: where a history catch-up starts. */
  lastIds: Map<string, string>;
  catchingUp: boolean;
  catchUpAgain: boolean;
  /**
   * A subscribe whose success starts a catch-up is in flight: live messages wait in
   * `buffer` from the first one on. (`ws` can hand over subscribe_success and the next
   * data frames in one tick, before the code awaiting the answer runs.)
   */
  holdLive: boolean;
  /** Resubscribes whose authorization could not be built, in a row (the backoff attempt). */
  authRetries: number;
  authRetryTimer?: ReturnType<typeof setTimeout>;
  buffer: Envelope[];
  queue: Envelope[];
  waiters: Array<{ resolve: (r: IteratorResult<Envelope>) => void; reject: (e: unknown) => void }>;
  iterating: boolean;
  /** A presence subscription (`{ presence: true }`) and whether its join succeeded. */
  presence?: boolean;
  joined?: boolean;
  ended: boolean;
  endError?: EventsockClientError;
}

export function createSubRecord(channel: string, authorizer: Authorizer, handler?: MessageHandler<unknown>): SubRecord {
  return {
    id: randomId(),
    channel,
    authorizer,
    handler,
    accepted: false,
    acceptedAt: 0,
    seen: new SeenIds(),
    lastIds: new Map(),
    catchingUp: false,
    catchUpAgain: false,
    holdLive: false,
    authRetries: 0,
    buffer: [],
    queue: [],
    waiters: [],
    iterating: !handler,
    ended: false,
  };
}

/** Ends the iterator: pending next() calls finish (or reject with the error). */
export function endSub(sub: SubRecord, err?: EventsockClientError): void {
  clearTimeout(sub.authRetryTimer);
  if (sub.ended) return;
  sub.ended = true;
  sub.endError = err;
  for (const w of sub.waiters.splice(0)) {
    if (err) w.reject(err);
    else w.resolve({ value: undefined, done: true });
  }
}

/** Records a delivered envelope and hands it to the iterator, if one is in use. */
export function recordAndQueue(sub: SubRecord, env: Envelope): void {
  sub.seen.add(env.id);
  const last = sub.lastIds.get(env.channel);
  if (!last || env.id > last) sub.lastIds.set(env.channel, env.id);
  if (!sub.iterating) return;
  const w = sub.waiters.shift();
  if (w) w.resolve({ value: env, done: false });
  else sub.queue.push(env);
}

/** The handle subscribe() resolves to. */
export function subscriptionHandle<D>(sub: SubRecord, unsubscribe: () => Promise<void>, presence?: Presence): Subscription<D> {
  return {
    id: sub.id,
    channel: sub.channel,
    unsubscribe,
    members: () => (sub.presence && presence ? presence.members(sub.channel) : []),
    onMember: (listener) => (sub.presence && presence ? presence.onMember(sub.channel, listener) : () => false),
    [Symbol.asyncIterator](): AsyncIterator<Envelope<D>> {
      sub.iterating = true;
      return {
        next(): Promise<IteratorResult<Envelope<D>>> {
          const v = sub.queue.shift();
          if (v) return Promise.resolve({ value: v as Envelope<D>, done: false });
          if (sub.ended) return sub.endError ? Promise.reject(sub.endError) : Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve, reject) => sub.waiters.push({ resolve: resolve as (r: IteratorResult<Envelope>) => void, reject }));
        },
        async return(): Promise<IteratorResult<Envelope<D>>> {
          await unsubscribe();
          return { value: undefined, done: true };
        },
      };
    },
  };
}
