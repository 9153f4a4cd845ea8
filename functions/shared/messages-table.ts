/**
 * The stored-messages table, shared by the publish function (writes) and the history
 * API (reads): one item per message, `channel` + ULID `id`, the envelope as the JSON
 * string subscribers received, `expiresAt` (epoch seconds; absent = forever) and the
 * channel's `namespace`, the key of the by-namespace index the history API reads for
 * wildcard patterns (`/chat/*`).
 * DynamoDB deletes expired items lazily and dynalite never does, so reads drop
 * expired items themselves.
 *
 * The publish function writes a message `pending` before it delivers it and confirms it
 * (removes `pending`) once AppSync acknowledged the delivery (functions/publish/publish.ts):
 * reads skip pending items, so a copy whose publish died before delivery is never
 * visible. A pending item expires by itself (`pendingExpiry`) unless confirmed.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MESSAGES_BY_NAMESPACE } from '../core/tables';

export interface StoredMessage {
  channel: string;
  id: string;
  /** The envelope JSON, byte for byte as delivered. */
  envelope: string;
  /** Epoch seconds, or undefined for a message kept forever. */
  expiresAt?: number;
  /**
   * Written, not yet confirmed delivered: hidden from reads. `expiresAt` is then the
   * pending copy's own (see pendingExpiry); `pending.expiresAt` the one the message
   * gets when confirmed (undefined: kept forever).
   */
  pending?: { expiresAt?: number };
}

type Send = Pick<DynamoDBClient, 'send'>;

const EXPIRED_READ_LIMIT = 1000;

/**
 * The expiry of a message stored for `store` seconds from `nowMs`: undefined for -1
 * (forever). Rounded up to the next whole second, so a message is kept for at least
 * `store` seconds (at most one more): rounding down would cut up to a second off,
 * which for `store: 1` can be nearly all of it. Reads treat an item as expired from
 * the second `expiresAt` on (`expiresAt <= now` in whole seconds).
 */
export function expiryFor(store: number, nowMs: number): number | undefined {
  return store === -1 ? undefined : Math.ceil(nowMs / 1000) + store;
}

/** `/chat/room-1` -> `chat`. */
export function namespaceOf(channel: string): string {
  return channel.split('/')[1] ?? '';
}

export async function putMessage(dynamo: Send, table: string, m: StoredMessage): Promise<void> {
  const item: Record<string, AttributeValue> = {
    channel: { S: m.channel },
    id: { S: m.id },
    [MESSAGES_BY_NAMESPACE.partitionKey]: { S: namespaceOf(m.channel) },
    envelope: { S: m.envelope },
  };
  if (m.expiresAt !== undefined) item.expiresAt = { N: String(m.expiresAt) };
  if (m.pending) {
    item.pending = { BOOL: true };
    // -1: kept forever once confirmed.
    item.confirmedExpiresAt = { N: String(m.pending.expiresAt ?? -1) };
  }
  await dynamo.send(new PutItemCommand({ TableName: table, Item: item }));
}

/**
 * The expiry of a pending copy written at `nowMs`: the message's own (`expiresAt`) when
 * sooner, else `keepSeconds` from now (long enough for a retry to find it: the dedup
 * window and a lease), so an unconfirmed copy of a message kept forever is not kept forever.
 */
export function pendingExpiry(expiresAt: number | undefined, nowMs: number, keepSeconds: number): number {
  const bound = Math.ceil(nowMs / 1000) + keepSeconds;
  return expiresAt === undefined ? bound : Math.min(expiresAt, bound);
}

/**
 * Makes a pending message visible with its real expiry (undefined: forever). False when
 * the item is gone (it is never created again here).
 */
export async function confirmMessage(dynamo: Send, table: string, channel: string, id: string, expiresAt: number | undefined): Promise<boolean> {
  try {
    await dynamo.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { channel: { S: channel }, id: { S: id } },
        UpdateExpression: expiresAt === undefined ? 'REMOVE pending, confirmedExpiresAt, expiresAt' : 'REMOVE pending, confirmedExpiresAt SET expiresAt = :e',
        ConditionExpression: 'attribute_exists(id)',
        ...(expiresAt === undefined ? {} : { ExpressionAttributeValues: { ':e': { N: String(expiresAt) } } }),
      }),
    );
    return true;
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException || (e as Error)?.name === 'ConditionalCheckFailedException') return false;
    throw e;
  }
}

/** One stored message, pending or not, expired or not (consistent read); undefined when absent. */
export async function getMessage(dynamo: Send, table: string, channel: string, id: string): Promise<StoredMessage | undefined> {
  const res = await dynamo.send(new GetItemCommand({ TableName: table, Key: { channel: { S: channel }, id: { S: id } }, ConsistentRead: true }));
  const item = res.Item;
  if (!item?.envelope?.S) return undefined;
  return {
    channel,
    id,
    envelope: item.envelope.S,
    ...(item.expiresAt?.N !== undefined ? { expiresAt: Number(item.expiresAt.N) } : {}),
    ...(item.pending?.BOOL ? { pending: confirmedExpiry(item.confirmedExpiresAt?.N) } : {}),
  };
}

function confirmedExpiry(n: string | undefined): { expiresAt?: number } {
  const v = n === undefined ? -1 : Number(n);
  return v === -1 || !Number.isFinite(v) ? {} : { expiresAt: v };
}

/** Is this item a message readers may see (not pending delivery, not expired at `nowS`)? */
export function isVisible(item: Record<string, AttributeValue>, nowS: number): boolean {
  if (item.pending?.BOOL) return false;
  const expiresAt = item.expiresAt?.N !== undefined ? Number(item.expiresAt.N) : undefined;
  return expiresAt === undefined || expiresAt > nowS;
}

export async function deleteMessage(dynamo: Send, table: string, channel: string, id: string): Promise<void> {
  await dynamo.send(new DeleteItemCommand({ TableName: table, Key: { channel: { S: channel }, id: { S: id } } }));
}

export interface MessagePage {
  messages: StoredMessage[];
  /** Pass as `after` for the next page; undefined when there is none. */
  next?: string;
}

/**
 * Messages of a channel after `after` (exclusive), in id order, at most `limit`,
 * expired and pending ones skipped. Reads at most `maxReads` DynamoDB pages per call so a long
 * run of expired items cannot make one request unbounded; `next` then resumes.
 */
export async function queryMessages(
  dynamo: Send,
  table: string,
  q: { channel: string; after?: string; limit: number; nowMs: number; maxReads?: number },
): Promise<MessagePage> {
  const nowS = Math.floor(q.nowMs / 1000);
  const out: StoredMessage[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  let lastSeen = q.after;
  for (let reads = 0; reads < (q.maxReads ?? 10); reads++) {
    const values: Record<string, AttributeValue> = { ':c': { S: q.channel } };
    if (q.after !== undefined) values[':after'] = { S: q.after };
    const res = await dynamo.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: q.after !== undefined ? '#c = :c AND #id > :after' : '#c = :c',
        ExpressionAttributeNames: q.after !== undefined ? { '#c': 'channel', '#id': 'id' } : { '#c': 'channel' },
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
        // One more than still needed tells us whether another page exists; each further
        // read (expired items showed up) doubles, so a long run of them does not end the
        // page empty, while a page short by a few items does not read a thousand more.
        Limit: Math.min(EXPIRED_READ_LIMIT, (q.limit - out.length + 1) * 2 ** reads),
        ConsistentRead: true,
      }),
    );
    for (const item of res.Items ?? []) {
      const id = item.id?.S;
      const envelope = item.envelope?.S;
      if (!id || envelope === undefined) continue;
      const expiresAt = item.expiresAt?.N !== undefined ? Number(item.expiresAt.N) : undefined;
      if (out.length === q.limit) return { messages: out, next: out[out.length - 1].id };
      lastSeen = id;
      if (!isVisible(item, nowS)) continue;
      out.push({ channel: q.channel, id, envelope, expiresAt });
    }
    if (!res.LastEvaluatedKey) return { messages: out };
    startKey = res.LastEvaluatedKey;
  }
  // Read budget spent on expired items: let the caller resume after the last one seen.
  return { messages: out, next: lastSeen };
}
