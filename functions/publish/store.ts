/**
 * Writes a stored message with the attribute the messages table's namespace index
 * (core/tables.ts MESSAGES_BY_NAMESPACE) is keyed on: the channel's namespace. The
 * history API reads that index for wildcard patterns (`/chat/*`). The item is
 * otherwise the one functions/shared/messages-table.ts putMessage writes.
 */
import { PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MESSAGES_BY_NAMESPACE } from '../core/tables';
import type { StoredMessage } from '../shared/messages-table';

/** `/chat/room-1` -> `chat`. */
export function namespaceOf(channel: string): string {
  return channel.split('/')[1] ?? '';
}

export async function putIndexedMessage(dynamo: Pick<DynamoDBClient, 'send'>, table: string, m: StoredMessage): Promise<void> {
  const item: Record<string, AttributeValue> = {
    channel: { S: m.channel },
    id: { S: m.id },
    [MESSAGES_BY_NAMESPACE.partitionKey]: { S: namespaceOf(m.channel) },
    envelope: { S: m.envelope },
  };
  if (m.expiresAt !== undefined) item.expiresAt = { N: String(m.expiresAt) };
  await dynamo.send(new PutItemCommand({ TableName: table, Item: item }));
}
