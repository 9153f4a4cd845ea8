/**
 * DynamoDB table definitions: the stack creates them, the handlers read and write
 * them, the emulator creates the same ones in dynalite. All keys are strings; every
 * table has a TTL attribute, which the handlers also check themselves because
 * DynamoDB deletes expired items lazily (and dynalite never does).
 */
export interface TableDefinition {
  /** Suffix of the table name: `${apiName}-${suffix}`. */
  suffix: string;
  partitionKey: string;
  sortKey?: string;
  /** Epoch seconds; absent means never expires. */
  ttlAttribute: string;
}

export const TABLES = {
  /** Stored messages: one item per message, `channel` + ULID `id`, `envelope` (JSON string). */
  messages: { suffix: 'messages', partitionKey: 'channel', sortKey: 'id', ttlAttribute: 'expiresAt' },
  /** Per-channel head: the last id given out on the channel (`lastId`), for strictly increasing ids. */
  heads: { suffix: 'heads', partitionKey: 'channel', ttlAttribute: 'expiresAt' },
  /** Deduplication records: `deduplicationId` -> first message's `messageId`, kept for the dedup window. */
  dedup: { suffix: 'dedup', partitionKey: 'deduplicationId', ttlAttribute: 'expiresAt' },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;

export function tableName(apiName: string, table: TableName): string {
  return `${apiName}-${TABLES[table].suffix}`;
}
