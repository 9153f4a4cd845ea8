/**
 * Publishing validated messages: deduplicate, give out ids, store, deliver, emit.
 *
 * Order matters for the guarantees:
 * - dedup claims come first, so a duplicate costs no id and no delivery;
 * - ids are given out per channel in one head write for all of that channel's messages;
 * - stored messages are written before delivery, so whatever a subscriber receives is
 *   already readable through the history API; a failed delivery deletes it again;
 * - chunks of one channel go out one after another (ids reach subscribers in order),
 *   channels in parallel;
 * - a message is reported published only when AppSync acknowledged it.
 */
import type { ValidatedMessage } from '../core/message';
import { LIMITS } from '../core/limits';
import { EventsockError } from '../core/errors';
import { own } from '../core/own';
import type { Logger } from '../shared/log';
import { deleteMessage, expiryFor, putMessage } from '../shared/messages-table';
import type { Dedup } from './dedup';
import type { Deliverer, EventOutcome } from './deliver';
import type { IdAllocator } from './ids';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * A repeat of a deduplicationId answers the first message: `id`, `channel` and `event`
 * are the first message's, and `duplicateOf` says so explicitly (dedup is API-wide, so
 * the first may have gone to another channel: nothing was delivered on this one).
 */
export type PublishResult =
  | { id: string; channel: string; event: string; duplicate?: true; duplicateOf?: { id: string; channel: string } }
  | { channel: string; event: string; error: { code: string; message: string; field?: string } };

export interface PubSubEmitter {
  /** Puts published envelopes on EventBridge; failures are logged, never undo a publish. */
  emit(envelopes: string[]): Promise<void>;
}

export interface PublisherDeps {
  dynamo: Pick<DynamoDBClient, 'send'>;
  messagesTable: string;
  namespaces: Record<string, { ordering: 'channel' | 'none' }>;
  ids: IdAllocator;
  dedup: Dedup;
  deliverer: Deliverer;
  emitter?: PubSubEmitter;
  logger: Logger;
  now: () => number;
}

/** The envelope JSON, built around the already-serialized data (it was measured as it is). */
export function envelopeJson(id: string, m: ValidatedMessage, metaJson: string = BACKEND_META): string {
  return `{"id":${JSON.stringify(id)},"event":${JSON.stringify(m.event)},"channel":${JSON.stringify(m.channel.path)},"data":${m.dataJson},"meta":${metaJson}}`;
}

/** The meta of a backend publish (API key or IAM): no user. */
const BACKEND_META = '{"uid":null,"umd":null}';

function duplicateOf(id: string, channel: string, event: string): PublishResult {
  return { id, channel, event, duplicate: true, duplicateOf: { id, channel } };
}

const failure = (m: ValidatedMessage, code: string, message: string, field?: string): PublishResult => ({
  channel: m.channel.path,
  event: m.event,
  error: field ? { code, message, field } : { code, message },
});

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof EventsockError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: 'internal error' };
}

/** A won claim is renewed before delivery once it is older than this. */
const RENEW_SLACK_MS = 1000;

/**
 * `opts.metaJson`: the envelope meta as JSON, for a token publisher (from its verified
 * claims, see token-publish.ts); backends publish with `{"uid":null,"umd":null}`.
 */
export async function publishMessages(messages: ValidatedMessage[], deps: PublisherDeps, opts: { metaJson?: string } = {}): Promise<PublishResult[]> {
  const results: Array<PublishResult | undefined> = messages.map(() => undefined);
  const owners = new Map<number, string>();
  const leases = new Map<number, number>();
  const firstWithId = new Map<string, number>();
  const sameAs = new Map<number, number>();

  // 1. Dedup claims, one per distinct id; later copies in the same batch follow the first.
  await Promise.all(
    messages.map(async (m, i) => {
      if (m.deduplicationId === undefined) return;
      const first = firstWithId.get(m.deduplicationId);
      if (first !== undefined) {
        sameAs.set(i, first);
        return;
      }
      firstWithId.set(m.deduplicationId, i);
      try {
        const c = await deps.dedup.claim(m.deduplicationId);
        if (c.kind === 'won') {
          owners.set(i, c.owner);
          leases.set(i, c.leaseUntil);
        } else {
          results[i] = duplicateOf(c.messageId, c.channel || m.channel.path, c.event || m.event);
        }
      } catch (e) {
        deps.logger.error('dedup claim failed', { code: errorOf(e).code, error: (e as Error).message });
        const { code, message } = errorOf(e);
        results[i] = failure(m, code, message, code === 'DUPLICATE_IN_FLIGHT' ? 'deduplicationId' : undefined);
      }
    }),
  );

  // 2. Everything still unanswered goes out, grouped by channel in publish order, all
  // chunks within one delivery budget (counted from here: dedup waits are not delivery).
  const deliverBy = deps.now() + deps.deliverer.budgetMs;

  // A claim won early in a batch may have aged while other claims of the batch waited.
  // Its lease must outlast this delivery, or a concurrent retry would take it over and
  // deliver the message a second time: start the lease again, or step back if it is gone.
  const margin = deps.dedup.leaseMs - deps.deliverer.budgetMs;
  await Promise.all(
    [...leases].map(async ([i, leaseUntil]) => {
      if (leaseUntil >= deliverBy + margin - RENEW_SLACK_MS) return;
      const m = messages[i];
      try {
        const r = await deps.dedup.renew(m.deduplicationId!, owners.get(i)!);
        if (r.kind === 'renewed') return;
        owners.delete(i);
        results[i] =
          r.kind === 'duplicate'
            ? duplicateOf(r.messageId, r.channel || m.channel.path, r.event || m.event)
            : failure(m, 'DUPLICATE_IN_FLIGHT', 'a publish with this deduplicationId is still in progress; retry later', 'deduplicationId');
      } catch (e) {
        deps.logger.error('dedup renew failed', { error: (e as Error)?.name ?? 'error' });
        // Not delivered unprotected; the claim is released below like any failure.
        const { code, message } = errorOf(e);
        results[i] = failure(m, code, message);
      }
    }),
  );

  const byChannel = new Map<string, number[]>();
  messages.forEach((m, i) => {
    if (results[i] || sameAs.has(i)) return;
    const list = byChannel.get(m.channel.path) ?? [];
    list.push(i);
    byChannel.set(m.channel.path, list);
  });

  const published: string[] = [];
  await Promise.all(
    [...byChannel].map(async ([channel, idx]) => {
      const ordering = own(deps.namespaces, messages[idx[0]].channel.namespace)?.ordering ?? 'channel';
      let ids: string[];
      try {
        ids = await deps.ids.allocate(channel, idx.length, ordering);
      } catch (e) {
        deps.logger.error('id allocation failed', { channel, error: (e as Error).message });
        const { code, message } = errorOf(e);
        for (const i of idx) results[i] = failure(messages[i], code, message);
        return;
      }
      const envelopes = idx.map((i, k) => envelopeJson(ids[k], messages[i], opts.metaJson));

      // Store first (see above); a message that cannot be stored is not sent.
      const ready: number[] = [];
      await Promise.all(
        idx.map(async (i, k) => {
          const m = messages[i];
          if (m.store !== 0) {
            try {
              await putMessage(deps.dynamo, deps.messagesTable, { channel, id: ids[k], envelope: envelopes[k], expiresAt: expiryFor(m.store, deps.now()) });
            } catch (e) {
              deps.logger.error('store failed', { channel, id: ids[k], error: (e as Error).message });
              results[i] = failure(m, 'STORE_FAILED', 'the message could not be stored; it was not delivered');
              return;
            }
          }
          ready.push(k);
        }),
      );
      ready.sort((a, b) => a - b);

      for (let start = 0; start < ready.length; start += LIMITS.eventsPerPublish) {
        const chunk = ready.slice(start, start + LIMITS.eventsPerPublish);
        let outcomes: EventOutcome[];
        try {
          outcomes = await deps.deliverer.deliver(
            channel,
            chunk.map((k) => envelopes[k]),
            deliverBy,
          );
        } catch (e) {
          // Never leave the chunk unanswered: its stored copies and dedup claims are undone below.
          deps.logger.error('delivery failed unexpectedly', { channel, error: (e as Error)?.name ?? 'error' });
          outcomes = chunk.map(() => ({ ok: false as const, code: 'DELIVERY_FAILED', message: 'the message could not be delivered; it was not published' }));
        }
        // One line per chunk that lost messages: what on-call searches for (and the alarm counts).
        const lost = outcomes.flatMap((o, j) => (o.ok ? [] : [{ id: ids[chunk[j]], code: o.code, message: o.message }]));
        if (lost.length > 0) {
          deps.logger.error('delivery failed', { channel, count: lost.length, ids: lost.map((l) => l.id), codes: [...new Set(lost.map((l) => l.code))], reason: lost[0].message });
        }
        outcomes.forEach((o, j) => {
          const k = chunk[j];
          const i = idx[k];
          const m = messages[i];
          if (o.ok) {
            results[i] = { id: ids[k], channel, event: m.event };
            if (m.emitPubSubEvent) published.push(envelopes[k]);
          } else {
            results[i] = failure(m, o.code, o.message);
          }
        });
      }

      // Undo what a failed delivery left behind, so history and dedup never point at it.
      await Promise.all(
        idx.map(async (i, k) => {
          const r = results[i];
          if (!r || !('error' in r) || messages[i].store === 0 || r.error.code === 'STORE_FAILED') return;
          await deleteMessage(deps.dynamo, deps.messagesTable, channel, ids[k]).catch((e: Error) =>
            deps.logger.error('could not delete an undelivered stored message', { channel, id: ids[k], error: e.message }),
          );
        }),
      );
    }),
  );

  // 3. Settle dedup claims: published ones now answer duplicates, failed ones are given back.
  await Promise.all(
    [...owners].map(async ([i, owner]) => {
      const m = messages[i];
      const r = results[i];
      try {
        if (r && 'id' in r) await deps.dedup.published(m.deduplicationId!, owner, { id: r.id, channel: r.channel, event: r.event });
        else await deps.dedup.release(m.deduplicationId!, owner);
      } catch (e) {
        deps.logger.error('dedup settle failed', { error: (e as Error).message });
      }
    }),
  );

  for (const [i, first] of sameAs) {
    const r = results[first]!;
    results[i] = 'id' in r ? duplicateOf(r.id, r.channel, r.event) : { ...r };
  }

  if (published.length > 0) {
    if (deps.emitter) await deps.emitter.emit(published);
    else deps.logger.warn('emitPubSubEvent requested but no EventBridge client is configured', { count: published.length });
  }

  return results.map((r, i) => r ?? failure(messages[i], 'INTERNAL', 'internal error'));
}
