/**
 * Publishing validated messages: deduplicate, give out ids, store, deliver, emit.
 *
 * Order matters for the guarantees:
 * - dedup claims come first, so a duplicate costs no id and no delivery;
 * - ids are given out per channel in one head write for all of that channel's messages;
 * - a deduplicated message's id is recorded in its claim before it is stored;
 * - stored messages are written (pending) before delivery, so whatever a subscriber
 *   receives is already stored; once AppSync acknowledged the delivery the copy is
 *   confirmed and history shows it; a failed delivery deletes it again;
 * - chunks of one channel go out one after another in id order (ids reach subscribers
 *   in order), channels in parallel;
 * - a message is reported published only when AppSync acknowledged it.
 *
 * Surviving a crash (a Lambda timeout or crash, a killed emulator) at any step:
 * - Chosen: the retry with the same deduplicationId answers the FIRST id and delivers
 *   the message that was stored, rather than hiding the dead attempt's copy and
 *   publishing anew. Hiding alone cannot be enough: a publish that died during delivery
 *   may already have reached subscribers under its id, and a new id would give them a
 *   second copy they cannot tell from the first. Finishing under the recorded id means a
 *   subscriber that got it live gets the same id again at worst, which the client drops
 *   by id (client/subscriptions.ts `seen`), and history holds one item.
 *   How: the claim records `{ id, channel, event, stored }` (dedup.ts `reserve`) before
 *   the copy is written; a retry that takes the lapsed claim over (after its lease)
 *   reads the copy (`recover` below) and delivers it again under its id (pending or
 *   already confirmed: the dead attempt may have died before anyone was told), and
 *   publishes afresh when there is no copy (the dead attempt stopped before storing it,
 *   and copies are stored before delivery, so nobody saw that id). A message with
 *   `store: 0` has no copy: the retry sends its own content under the recorded id on
 *   the same channel. Batches: each message carries its own record, so a retried batch
 *   finishes the messages the dead one got to and publishes the rest, one answer each;
 *   recovered (older) ids go out first on their channel.
 * - Without a deduplicationId nothing ties a retry to the dead attempt, so its copy must
 *   not be visible: copies are written `pending`, which history (and so every client's
 *   catch-up) skips until delivery is confirmed. A dead attempt's pending copy expires
 *   by itself (messages-table.ts pendingExpiry). Such a publish may have been delivered
 *   live without ever showing in history; the publisher got no answer and should retry
 *   with a deduplicationId (functions/publish/README.md).
 * - The price: one more write per stored message (the confirm) and per deduplicated
 *   message (the record), and a message is readable through history from its confirm on
 *   (one write after AppSync's acknowledgment), not from before its delivery.
 * - A recovered message goes out after ids given out since the crash: subscribers that
 *   care sort by id (as for concurrent publishers).
 *
 * `deps.fault` (tests only) is awaited at each named step (`PublishStep`): a hook that
 * never returns is a crash at that step (nothing after it runs, as in a killed process).
 */
import type { ValidatedMessage } from '../core/message';
import { EventsockError } from '../core/errors';
import { own } from '../core/own';
import type { Logger } from '../shared/log';
import { expiryFor, getMessage } from '../shared/messages-table';
import { publishChannel, type FaultHook, type Outgoing } from './channel-publish';
import type { Dedup, RecordedMessage } from './dedup';
import type { Deliverer } from './deliver';
import type { IdAllocator } from './ids';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export type { FaultHook, PublishStep } from './channel-publish';

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
  /** Tests only: awaited at each named step (see the header). */
  fault?: FaultHook;
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

/** What a retry does with the message a dead attempt recorded in the claim it took over. */
type Recovery =
  /** Deliver it (again) under its id. */
  | { kind: 'resume'; channel: string; out: Omit<Outgoing, 'i' | 'message' | 'owner'> }
  /** Nothing of it was ever visible: publish this message afresh. */
  | { kind: 'fresh' };

async function recover(m: ValidatedMessage, rec: RecordedMessage, deps: PublisherDeps, metaJson: string): Promise<Recovery> {
  if (!rec.stored) {
    // No copy to read (store: 0): the dead attempt may have delivered on the recorded channel.
    if (rec.channel !== m.channel.path) return { kind: 'fresh' };
    return { kind: 'resume', channel: rec.channel, out: { id: rec.id, envelope: envelopeJson(rec.id, m, metaJson), event: m.event, stored: false } };
  }
  const copy = await getMessage(deps.dynamo, deps.messagesTable, rec.channel, rec.id);
  // Stored copies are written before delivery: without one, that id was never delivered.
  if (!copy) return { kind: 'fresh' };
  // Pending: maybe delivered, maybe not. Confirmed: delivered by the publish API's deliverer,
  // but for a deliverer whose delivery is its caller's answer (socket-publish) the answer may
  // have died with it. Either way it goes out again under its id (a repeat is dropped by id).
  const expiresAt = copy.pending ? copy.pending.expiresAt : copy.expiresAt;
  return { kind: 'resume', channel: rec.channel, out: { id: rec.id, envelope: copy.envelope, event: rec.event, stored: true, storedAlready: true, expiresAt } };
}

/**
 * `opts.metaJson`: the envelope meta as JSON, for a token publisher (from its verified
 * claims, see token-publish.ts); backends publish with `{"uid":null,"umd":null}`.
 */
export async function publishMessages(messages: ValidatedMessage[], deps: PublisherDeps, opts: { metaJson?: string } = {}): Promise<PublishResult[]> {
  const metaJson = opts.metaJson ?? BACKEND_META;
  const results: Array<PublishResult | undefined> = messages.map(() => undefined);
  const owners = new Map<number, string>();
  const leases = new Map<number, number>();
  const firstWithId = new Map<string, number>();
  const sameAs = new Map<number, number>();
  const resumed = new Map<number, Recovery & { kind: 'resume' }>();
  const published: string[] = [];

  // 1. Dedup claims, one per distinct id; later copies in the same batch follow the first.
  // A claim taken over from a dead publish brings what it recorded: finish that message.
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
        if (c.kind === 'duplicate') {
          results[i] = duplicateOf(c.messageId, c.channel || m.channel.path, c.event || m.event);
          return;
        }
        owners.set(i, c.owner);
        leases.set(i, c.leaseUntil);
        if (!c.recorded) return;
        let r: Recovery;
        try {
          r = await recover(m, c.recorded, deps, metaJson);
        } catch (e) {
          // Not released: the record must survive for the next retry (the claim lapses after its lease).
          owners.delete(i);
          deps.logger.error('recovery read failed', { channel: c.recorded.channel, id: c.recorded.id, error: (e as Error)?.name ?? 'error' });
          results[i] = failure(m, 'STORE_FAILED', 'the stored copy of an earlier attempt could not be read; retry');
          return;
        }
        deps.logger.warn('finishing a publish that died', { channel: c.recorded.channel, id: c.recorded.id, recovery: r.kind });
        if (r.kind === 'resume') resumed.set(i, r);
      } catch (e) {
        deps.logger.error('dedup claim failed', { code: errorOf(e).code, error: (e as Error).message });
        const { code, message } = errorOf(e);
        results[i] = failure(m, code, message, code === 'DUPLICATE_IN_FLIGHT' ? 'deduplicationId' : undefined);
      }
    }),
  );
  await deps.fault?.('claimed', {});

  // 2. Everything still unanswered goes out, grouped by channel in publish order, all
  // chunks within one delivery budget (counted from here: dedup waits are not delivery).
  const deliverBy = deps.now() + deps.deliverer.budgetMs;

  // A claim won early in a batch may have aged while other claims of the batch waited.
  // Its lease must outlast this delivery, or a concurrent retry would take it over and
  // deliver the message a second time: start the lease again, or step back if it is gone.
  const margin = deps.dedup.leaseMs - deps.deliverer.budgetMs;
  await Promise.all(
    [...leases].map(async ([i, leaseUntil]) => {
      if (results[i] || leaseUntil >= deliverBy + margin - RENEW_SLACK_MS) return;
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

  const byChannel = new Map<string, Outgoing[]>();
  const nowMs = deps.now();
  messages.forEach((m, i) => {
    if (results[i] || sameAs.has(i)) return;
    const r = resumed.get(i);
    const out: Outgoing = r
      ? { i, message: m, owner: owners.get(i), ...r.out }
      : { i, message: m, owner: owners.get(i), event: m.event, stored: m.store !== 0, expiresAt: m.store !== 0 ? expiryFor(m.store, nowMs) : undefined };
    // A resumed message goes to the channel it was recorded on (the retry may name another).
    const channel = r ? r.channel : m.channel.path;
    const list = byChannel.get(channel) ?? [];
    list.push(out);
    byChannel.set(channel, list);
  });

  const notOurs = new Set<number>();
  await Promise.all(
    [...byChannel].map(async ([channel, items]) => {
      const ordering = own(deps.namespaces, items[0].message.channel.namespace)?.ordering ?? 'channel';
      const envelopeOf = (id: string, m: ValidatedMessage) => envelopeJson(id, m, metaJson);
      const outcome = await publishChannel(channel, items, deps, { ordering, deliverBy, envelopeOf, notOurs });
      for (const o of items) {
        const r = outcome.get(o.i);
        const m = messages[o.i];
        if (!r) results[o.i] = failure(m, 'INTERNAL', 'internal error');
        else if ('error' in r) results[o.i] = { channel: m.channel.path, event: m.event, error: r.error };
        else {
          results[o.i] = r;
          if (m.emitPubSubEvent) published.push(o.envelope!);
        }
      }
    }),
  );
  for (const i of notOurs) owners.delete(i);

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
