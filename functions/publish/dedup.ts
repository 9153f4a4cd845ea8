/**
 * Deduplication: the first publish of a `deduplicationId` claims it with a
 * conditional write; every other publish within the window is answered as a
 * duplicate with the first message's id and is not delivered.
 *
 * Exact under concurrent retries: the claim is `pending` while the first publish
 * delivers, and the others wait for it. If that delivery fails the claim is released
 * and a waiting retry takes over, so a caller is never told "duplicate" of a message
 * nobody received. A claim whose owner died (Lambda timeout) expires after its lease
 * (the delivery budget + 5 s, 15 s by default), not after the 5-minute window: a
 * retry then takes it over and delivers. A batch renews the claims it won before it
 * delivers, so waiting on its other claims cannot let a lease run out during its delivery.
 *
 * Crash safety: once the publish has an id for the message it records it in the claim
 * (`reserve`: id, channel, event, whether a copy is stored) before storing anything. A
 * retry that takes a lapsed claim over gets that record (`recorded`) and finishes the
 * dead publish under the same id instead of allocating another (publish.ts): the dead
 * owner may have delivered already, so subscribers may get that id twice (at least
 * once, never lost, never under two ids). A takeover is conditioned on the dead owner,
 * so two retries cannot both take it.
 * DynamoDB deletes expired items lazily and dynalite never does, so expiry is
 * compared in the condition and in code, never left to TTL.
 */
import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { EventsockError } from '../core/errors';
import { LIMITS } from '../core/limits';

/** What a publish recorded in its claim once it had an id, before storing or delivering. */
export interface RecordedMessage {
  id: string;
  channel: string;
  event: string;
  /** A copy was (to be) written to the messages table under `channel` + `id`. */
  stored: boolean;
}

export type ClaimOutcome =
  | { kind: 'won'; owner: string; leaseUntil: number; recorded?: RecordedMessage }
  | { kind: 'duplicate'; messageId: string; channel: string; event: string };
export type RenewOutcome = { kind: 'renewed'; leaseUntil: number } | { kind: 'duplicate'; messageId: string; channel: string; event: string } | { kind: 'lost' };

export interface Dedup {
  /**
   * Claims the id, or waits for the publish that holds it and answers as its duplicate.
   * Taking over a lapsed claim answers what the dead publish recorded, if anything.
   */
  claim(deduplicationId: string): Promise<ClaimOutcome>;
  /** Records the message's id in a held claim before it is stored; false when the claim is no longer ours. */
  reserve(deduplicationId: string, owner: string, message: RecordedMessage): Promise<boolean>;
  /** Marks the claim published: later publishes get this id. */
  published(deduplicationId: string, owner: string, message: { id: string; channel: string; event: string }): Promise<void>;
  /** Gives the claim up after a failed delivery so a retry can publish. */
  release(deduplicationId: string, owner: string): Promise<void>;
  /**
   * Starts a held claim's lease again (a batch whose other claims made it wait), so it
   * outlasts the delivery that follows. When the claim was taken over meanwhile: the
   * taker's published id (`duplicate`), or `lost` while the taker is still at it.
   */
  renew(deduplicationId: string, owner: string): Promise<RenewOutcome>;
  /** How long a claim is held from its (re)start. */
  readonly leaseMs: number;
}

export interface DedupOptions {
  dynamo: Pick<DynamoDBClient, 'send'>;
  table: string;
  now: () => number;
  /** How long a pending claim is honoured: longer than a whole delivery. */
  leaseMs: number;
  /** Pause between looks at a pending claim. Default: 25 ms. */
  pollMs?: number;
}

const isConditionFailure = (e: unknown) => e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException';

export function createDedup(opts: DedupOptions): Dedup {
  const pollMs = opts.pollMs ?? 25;
  const key = (id: string) => ({ deduplicationId: { S: id } });

  /** Takes a lapsed pending claim from its dead owner, keeping what it recorded; undefined if someone else moved first. */
  async function takeOver(deduplicationId: string, item: Record<string, AttributeValue>, owner: string, now: number): Promise<ClaimOutcome | undefined> {
    const leaseUntil = now + opts.leaseMs;
    try {
      await opts.dynamo.send(
        new UpdateItemCommand({
          TableName: opts.table,
          Key: key(deduplicationId),
          UpdateExpression: 'SET #owner = :owner, leaseUntil = :lease, expiresAt = :exp',
          ConditionExpression: '#owner = :dead AND #st = :pending AND leaseUntil < :nowMs',
          ExpressionAttributeNames: { '#owner': 'owner', '#st': 'status' },
          ExpressionAttributeValues: {
            ':owner': { S: owner },
            ':dead': { S: item.owner?.S ?? '' },
            ':pending': { S: 'pending' },
            ':nowMs': { N: String(now) },
            ':lease': { N: String(leaseUntil) },
            ':exp': { N: String(Math.ceil(leaseUntil / 1000) + LIMITS.dedupWindowSeconds) },
          },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      return undefined;
    }
    const id = item.messageId?.S;
    const recorded = id && item.channel?.S ? { id, channel: item.channel.S, event: item.event?.S ?? '', stored: item.stored?.BOOL === true } : undefined;
    return recorded ? { kind: 'won', owner, leaseUntil, recorded } : { kind: 'won', owner, leaseUntil };
  }

  return {
    leaseMs: opts.leaseMs,
    async claim(deduplicationId) {
      const deadline = opts.now() + opts.leaseMs + pollMs;
      for (;;) {
        const now = opts.now();
        const owner = randomUUID();
        try {
          await opts.dynamo.send(
            new PutItemCommand({
              TableName: opts.table,
              Item: {
                ...key(deduplicationId),
                owner: { S: owner },
                status: { S: 'pending' },
                leaseUntil: { N: String(now + opts.leaseMs) },
                expiresAt: { N: String(Math.ceil((now + opts.leaseMs) / 1000) + LIMITS.dedupWindowSeconds) },
              },
              // A lapsed pending claim is not overwritten here: it may record a message (taken over below).
              ConditionExpression: 'attribute_not_exists(deduplicationId) OR expiresAt < :nowS',
              ExpressionAttributeValues: { ':nowS': { N: String(Math.floor(now / 1000)) } },
            }),
          );
          return { kind: 'won', owner, leaseUntil: now + opts.leaseMs };
        } catch (e) {
          if (!isConditionFailure(e)) throw e;
        }
        const got = await opts.dynamo.send(new GetItemCommand({ TableName: opts.table, Key: key(deduplicationId), ConsistentRead: true }));
        const item = got.Item;
        const at = opts.now();
        // Gone, expired or abandoned since our write: try to claim again at once.
        if (!item || Number(item.expiresAt?.N) < Math.floor(at / 1000)) continue;
        if (item.status?.S === 'published' && item.messageId?.S) {
          return { kind: 'duplicate', messageId: item.messageId.S, channel: item.channel?.S ?? '', event: item.event?.S ?? '' };
        }
        if (Number(item.leaseUntil?.N) < at) {
          const taken = await takeOver(deduplicationId, item, owner, at);
          if (taken) return taken;
          continue;
        }
        if (at >= deadline) {
          throw new EventsockError('DUPLICATE_IN_FLIGHT', 'a publish with this deduplicationId is still in progress; retry later', { field: 'deduplicationId' });
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },

    async reserve(deduplicationId, owner, message) {
      try {
        await opts.dynamo.send(
          new UpdateItemCommand({
            TableName: opts.table,
            Key: key(deduplicationId),
            UpdateExpression: 'SET messageId = :id, #ch = :channel, #ev = :event, #stored = :stored',
            ConditionExpression: '#owner = :owner AND #st = :pending',
            ExpressionAttributeNames: { '#owner': 'owner', '#st': 'status', '#ch': 'channel', '#ev': 'event', '#stored': 'stored' },
            ExpressionAttributeValues: {
              ':id': { S: message.id },
              ':channel': { S: message.channel },
              ':event': { S: message.event },
              ':stored': { BOOL: message.stored },
              ':owner': { S: owner },
              ':pending': { S: 'pending' },
            },
          }),
        );
        return true;
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
        return false;
      }
    },

    async published(deduplicationId, owner, message) {
      const now = opts.now();
      await opts.dynamo.send(
        new UpdateItemCommand({
          TableName: opts.table,
          Key: key(deduplicationId),
          UpdateExpression: 'SET #st = :published, messageId = :id, #ch = :channel, #ev = :event, expiresAt = :exp REMOVE leaseUntil, #stored',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#st': 'status', '#owner': 'owner', '#ch': 'channel', '#ev': 'event', '#stored': 'stored' },
          ExpressionAttributeValues: {
            ':published': { S: 'published' },
            ':id': { S: message.id },
            ':channel': { S: message.channel },
            ':event': { S: message.event },
            ':exp': { N: String(Math.floor(now / 1000) + LIMITS.dedupWindowSeconds) },
            ':owner': { S: owner },
          },
        }),
      );
    },

    async renew(deduplicationId, owner) {
      const now = opts.now();
      const leaseUntil = now + opts.leaseMs;
      try {
        await opts.dynamo.send(
          new UpdateItemCommand({
            TableName: opts.table,
            Key: key(deduplicationId),
            UpdateExpression: 'SET leaseUntil = :lease, expiresAt = :exp',
            ConditionExpression: '#owner = :owner AND #st = :pending',
            ExpressionAttributeNames: { '#owner': 'owner', '#st': 'status' },
            ExpressionAttributeValues: {
              ':lease': { N: String(leaseUntil) },
              ':exp': { N: String(Math.ceil(leaseUntil / 1000) + LIMITS.dedupWindowSeconds) },
              ':owner': { S: owner },
              ':pending': { S: 'pending' },
            },
          }),
        );
        return { kind: 'renewed', leaseUntil };
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
      const got = await opts.dynamo.send(new GetItemCommand({ TableName: opts.table, Key: key(deduplicationId), ConsistentRead: true }));
      const item = got.Item;
      if (item?.status?.S === 'published' && item.messageId?.S && !(Number(item.expiresAt?.N) < Math.floor(opts.now() / 1000))) {
        return { kind: 'duplicate', messageId: item.messageId.S, channel: item.channel?.S ?? '', event: item.event?.S ?? '' };
      }
      return { kind: 'lost' };
    },

    async release(deduplicationId, owner) {
      try {
        await opts.dynamo.send(
          new DeleteItemCommand({
            TableName: opts.table,
            Key: key(deduplicationId),
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
        );
      } catch (e) {
        // Someone took the claim over after our lease ran out; it is theirs to release.
        if (!isConditionFailure(e)) throw e;
      }
    },
  };
}
