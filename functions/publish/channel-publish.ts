/**
 * One channel's part of a publish (publish.ts runs one per channel, in parallel): ids
 * for the new messages, the ids recorded in their dedup claims, pending copies stored,
 * delivery in id order in chunks of 5, then failed copies deleted and delivered ones
 * confirmed (made visible to history). Why in this order: publish.ts's header.
 */
import type { ValidatedMessage } from '../core/message';
import { LIMITS } from '../core/limits';
import { EventsockError } from '../core/errors';
import type { Logger } from '../shared/log';
import { confirmMessage, deleteMessage, pendingExpiry, putMessage } from '../shared/messages-table';
import type { Dedup } from './dedup';
import type { Deliverer, EventOutcome } from './deliver';
import type { IdAllocator } from './ids';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The named steps a fault hook is called at (tests: a hook that never returns is a crash there). */
export type PublishStep = 'claimed' | 'allocated' | 'reserved' | 'stored' | 'delivered' | 'confirmed';
export type FaultHook = (step: PublishStep, detail: { channel?: string; ids?: string[] }) => void | Promise<void>;

export type ChannelResult = { id: string; channel: string; event: string } | { error: { code: string; message: string; field?: string } };

/** One message going out on this channel. */
export interface Outgoing {
  /** Index in the batch. */
  i: number;
  message: ValidatedMessage;
  /** Known already: the id a dead attempt recorded (then `envelope` too); else allocated here. */
  id?: string;
  envelope?: string;
  event: string;
  /** Is a copy kept in the messages table? */
  stored: boolean;
  /** The stored copy exists (pending, written by a dead attempt). */
  storedAlready?: boolean;
  /** The stored copy's expiry once confirmed (undefined: forever). */
  expiresAt?: number;
  /** The dedup claim this publish holds for it, if any: its id gets recorded there before storing. */
  owner?: string;
}

export interface ChannelDeps {
  dynamo: Pick<DynamoDBClient, 'send'>;
  messagesTable: string;
  ids: IdAllocator;
  dedup: Dedup;
  deliverer: Deliverer;
  logger: Logger;
  now: () => number;
  fault?: FaultHook;
}

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof EventsockError) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: 'internal error' };
}

/**
 * Publishes `items` on `channel`; answers one result per item (by batch index). `lost`
 * collects the items whose dedup claim must be left to lapse, not released (it was
 * taken over meanwhile).
 */
export async function publishChannel(
  channel: string,
  items: Outgoing[],
  deps: ChannelDeps,
  opts: { ordering: 'channel' | 'none'; deliverBy: number; envelopeOf: (id: string, m: ValidatedMessage) => string; notOurs: Set<number> },
): Promise<Map<number, ChannelResult>> {
  const results = new Map<number, ChannelResult>();
  const fail = (o: Outgoing, code: string, message: string, field?: string) => results.set(o.i, { error: field ? { code, message, field } : { code, message } });
  const alive = () => items.filter((o) => !results.has(o.i));

  // Ids for the new messages, in one head write for the channel.
  const fresh = items.filter((o) => o.id === undefined);
  if (fresh.length > 0) {
    try {
      const ids = await deps.ids.allocate(channel, fresh.length, opts.ordering);
      fresh.forEach((o, k) => {
        o.id = ids[k];
        o.envelope = opts.envelopeOf(ids[k], o.message);
      });
      await deps.fault?.('allocated', { channel, ids });
    } catch (e) {
      deps.logger.error('id allocation failed', { channel, error: (e as Error).message });
      const { code, message } = errorOf(e);
      for (const o of fresh) fail(o, code, message);
    }
  }

  // Record each deduplicated message's id in its claim before anything is stored, so a
  // retry taking the claim over finishes this message instead of publishing another.
  const toReserve = fresh.filter((o) => o.owner !== undefined && !results.has(o.i));
  if (toReserve.length > 0) {
    await Promise.all(
      toReserve.map(async (o) => {
        try {
          const held = await deps.dedup.reserve(o.message.deduplicationId!, o.owner!, { id: o.id!, channel, event: o.event, stored: o.stored });
          if (held) return;
          opts.notOurs.add(o.i);
          fail(o, 'DUPLICATE_IN_FLIGHT', 'a publish with this deduplicationId is still in progress; retry later', 'deduplicationId');
        } catch (e) {
          deps.logger.error('dedup reserve failed', { channel, id: o.id, error: (e as Error)?.name ?? 'error' });
          fail(o, 'STORE_FAILED', 'the message could not be recorded; it was not delivered');
        }
      }),
    );
    await deps.fault?.('reserved', { channel, ids: toReserve.map((o) => o.id!) });
  }

  // Store first, pending (hidden from history until confirmed); a message that cannot be stored is not sent.
  const keepSeconds = Math.ceil(deps.dedup.leaseMs / 1000) + LIMITS.dedupWindowSeconds;
  await Promise.all(
    alive()
      .filter((o) => o.stored && !o.storedAlready)
      .map(async (o) => {
        try {
          await putMessage(deps.dynamo, deps.messagesTable, {
            channel,
            id: o.id!,
            envelope: o.envelope!,
            expiresAt: pendingExpiry(o.expiresAt, deps.now(), keepSeconds),
            pending: o.expiresAt === undefined ? {} : { expiresAt: o.expiresAt },
          });
        } catch (e) {
          deps.logger.error('store failed', { channel, id: o.id, error: (e as Error).message });
          fail(o, 'STORE_FAILED', 'the message could not be stored; it was not delivered');
        }
      }),
  );
  const ready = alive().sort((a, b) => (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0));
  await deps.fault?.('stored', { channel, ids: ready.filter((o) => o.stored).map((o) => o.id!) });

  // Chunks of the channel one after another, in id order (recovered, older ids first).
  for (let start = 0; start < ready.length; start += LIMITS.eventsPerPublish) {
    const chunk = ready.slice(start, start + LIMITS.eventsPerPublish);
    let outcomes: EventOutcome[];
    try {
      outcomes = await deps.deliverer.deliver(
        channel,
        chunk.map((o) => o.envelope!),
        opts.deliverBy,
      );
    } catch (e) {
      // Never leave the chunk unanswered: its stored copies and dedup claims are undone below.
      deps.logger.error('delivery failed unexpectedly', { channel, error: (e as Error)?.name ?? 'error' });
      outcomes = chunk.map(() => ({ ok: false as const, code: 'DELIVERY_FAILED', message: 'the message could not be delivered; it was not published' }));
    }
    // One line per chunk that lost messages: what on-call searches for (and the alarm counts).
    const lost = outcomes.flatMap((o, j) => (o.ok ? [] : [{ id: chunk[j].id!, code: o.code, message: o.message }]));
    if (lost.length > 0) {
      deps.logger.error('delivery failed', { channel, count: lost.length, ids: lost.map((l) => l.id), codes: [...new Set(lost.map((l) => l.code))], reason: lost[0].message });
    }
    outcomes.forEach((r, j) => {
      const o = chunk[j];
      if (r.ok) results.set(o.i, { id: o.id!, channel, event: o.event });
      else fail(o, r.code, r.message, r.field);
    });
    await deps.fault?.('delivered', { channel, ids: chunk.map((o) => o.id!) });
  }

  // Undo what a failed delivery left behind, so history and dedup never point at it;
  // make what was delivered visible to history.
  const confirmed: string[] = [];
  await Promise.all(
    ready
      .filter((o) => o.stored)
      .map(async (o) => {
        const r = results.get(o.i);
        if (r && 'error' in r) {
          await deleteMessage(deps.dynamo, deps.messagesTable, channel, o.id!).catch((e: Error) =>
            deps.logger.error('could not delete an undelivered stored message', { channel, id: o.id, error: e.message }),
          );
          return;
        }
        try {
          if (await confirmMessage(deps.dynamo, deps.messagesTable, channel, o.id!, o.expiresAt)) confirmed.push(o.id!);
          else deps.logger.error('a delivered message was not found to confirm; history does not show it', { channel, id: o.id });
        } catch (e) {
          // Delivered all the same (AppSync acknowledged it): answered as published, missing from history.
          deps.logger.error('could not confirm a delivered stored message; history does not show it', { channel, id: o.id, error: (e as Error)?.name ?? 'error' });
        }
      }),
  );
  await deps.fault?.('confirmed', { channel, ids: confirmed });
  return results;
}
