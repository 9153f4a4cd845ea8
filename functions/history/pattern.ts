/**
 * History for a wildcard pattern (`/chat/*`): the messages table's namespace index
 * (core/tables.ts MESSAGES_BY_NAMESPACE, `namespace` + `id`) read after `after`, kept
 * when the channel matches the pattern (core/channels.ts subscriptionMatches, the
 * subscription rule) and has not expired nor is pending delivery. The work per request is bounded: at most
 * `maxExamined` index items are read, matching or not; when that budget runs out the
 * page ends early (possibly empty) with `next`, the id to continue after. A client
 * must therefore follow `next` even when `items` is empty.
 *
 * The index is eventually consistent (DynamoDB propagates to a GSI within about a
 * second): a message stored a moment ago may show up on a pattern query only a little
 * later, while a per-channel query (consistent read) sees it at once.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Channel, patternCovers, subscriptionMatches } from '../core/channels';
import type { ParsedClaims } from '../core/claims';
import { MESSAGES_BY_NAMESPACE } from '../core/tables';
import { isVisible, type MessagePage, type StoredMessage } from '../shared/messages-table';

/** Index items one pattern request may read (matching or not) before it answers with `next`. */
export const PATTERN_MAX_EXAMINED = 1000;

/** DynamoDB's own cap on one Query's Limit we ask for; larger budgets take several reads. */
const READ_LIMIT = 1000;

/**
 * Does the token grant `history` on every channel the wildcard pattern stands for?
 * The authorizer's rule (patternCovers): `/chat/*` needs `/chat/*` or wider, never
 * `/chat/room-1`.
 */
export function grantsPatternHistory(claims: ParsedClaims, pattern: Channel): boolean {
  return claims.grants.some((g) => g.permissions.history === true && patternCovers(g.pattern, pattern));
}

export async function queryPattern(
  dynamo: Pick<DynamoDBClient, 'send'>,
  table: string,
  q: { pattern: Channel; after?: string; limit: number; nowMs: number; maxExamined?: number },
): Promise<MessagePage> {
  const nowS = Math.floor(q.nowMs / 1000);
  const max = q.maxExamined ?? PATTERN_MAX_EXAMINED;
  const prefix = q.pattern.segments.slice(0, -1);
  const out: StoredMessage[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  let examined = 0;
  const names: Record<string, string> = { '#ns': MESSAGES_BY_NAMESPACE.partitionKey, '#c': 'channel' };
  const values: Record<string, AttributeValue> = { ':ns': { S: q.pattern.namespace }, ':prefix': { S: `/${prefix.join('/')}/` } };
  if (q.after !== undefined) {
    names['#id'] = 'id';
    values[':after'] = { S: q.after };
  }
  for (let reads = 0; examined < max; reads++) {
    const res = await dynamo.send(
      new QueryCommand({
        TableName: table,
        IndexName: MESSAGES_BY_NAMESPACE.name,
        KeyConditionExpression: q.after !== undefined ? '#ns = :ns AND #id > :after' : '#ns = :ns',
        // Limit counts items read before this filter, so the budget holds whatever matches.
        FilterExpression: 'begins_with(#c, :prefix)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
        // As per channel: one more than still needed, doubling while filtered or expired items show up.
        Limit: Math.min(max - examined, READ_LIMIT, (q.limit - out.length + 1) * 2 ** reads),
      }),
    );
    examined += res.ScannedCount ?? res.Items?.length ?? 0;
    for (const item of res.Items ?? []) {
      const id = item.id?.S;
      const channel = item.channel?.S;
      const envelope = item.envelope?.S;
      if (!id || !channel || envelope === undefined) continue;
      if (!subscriptionMatches(q.pattern, channel.slice(1).split('/'))) continue;
      if (!isVisible(item, nowS)) continue;
      const expiresAt = item.expiresAt?.N !== undefined ? Number(item.expiresAt.N) : undefined;
      if (out.length === q.limit) return { messages: out, next: out[out.length - 1].id };
      out.push({ channel, id, envelope, expiresAt });
    }
    if (!res.LastEvaluatedKey) return { messages: out };
    startKey = res.LastEvaluatedKey;
  }
  // Budget spent: continue after the last index item read (every earlier one was looked at).
  return { messages: out, next: startKey?.id?.S ?? out[out.length - 1]?.id };
}
