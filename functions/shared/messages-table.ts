/**
 * The stored-messages table, shared by the publish function (writes) and the history
 * API (reads): one item per message, `channel` + ULID `id`, the envelope as the JSON
 * string subscribers received, `expiresAt` (epoch seconds; absent = forever) and the
 * channel's `namespace`, the key of the by-namespace index the history API reads for
 * wildcard patterns (`/chat/*`).
 * DynamoDB deletes expired items lazily and dynalite never does, so reads drop
 * expired items themselves.
 */
import { DeleteItemCommand, PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MESSAGES_BY_NAMESPACE } from '../core/tables';

export interface StoredMessage {
  channel: string;
  id: string;
  /** The envelope JSON, byte for byte as delivered. */
  envelope: string;
  /** Epoch seconds, or undefined for a message kept forever. */
  expiresAt?: number;
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
  await dynamo.send(new PutItemCommand({ TableName: table, Item: item }));
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
 * expired ones skipped. Reads at most `maxReads` DynamoDB pages per call so a long
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
      if (expiresAt !== undefined && expiresAt <= nowS) continue;
      out.push({ channel: q.channel, id, envelope, expiresAt });
    }
    if (!res.LastEvaluatedKey) return { messages: out };
    startKey = res.LastEvaluatedKey;
  }
  // Read budget spent on expired items: let the caller resume after the last one seen.
  return { messages: out, next: lastSeen };
}
