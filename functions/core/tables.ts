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
  /** Global secondary indexes (string keys, projection ALL), in the stack and in dynalite alike. */
  indexes?: readonly IndexDefinition[];
}

export interface IndexDefinition {
  /** Index name; its ARN is `<table-arn>/index/<name>`. */
  name: string;
  partitionKey: string;
  sortKey?: string;
}

/**
 * The messages table's index by namespace: `namespace` (the channel's first segment,
 * which the publish function writes on every stored message) + `id`. The history API
 * reads it for wildcard patterns (`/chat/*`): one query per namespace, in id order.
 * Messages stored before the index attribute was written are not in it (sparse index).
 */
export const MESSAGES_BY_NAMESPACE: IndexDefinition = { name: 'by-namespace', partitionKey: 'namespace', sortKey: 'id' };

export const TABLES = {
  /** Stored messages: one item per message, `channel` + ULID `id`, `namespace`, `envelope` (JSON string). */
  messages: { suffix: 'messages', partitionKey: 'channel', sortKey: 'id', ttlAttribute: 'expiresAt', indexes: [MESSAGES_BY_NAMESPACE] },
  /** Per-channel head: the last id given out on the channel (`lastId`), for strictly increasing ids. */
  heads: { suffix: 'heads', partitionKey: 'channel', ttlAttribute: 'expiresAt' },
  /** Deduplication records: `deduplicationId` -> first message's `messageId`, kept for the dedup window. */
  dedup: { suffix: 'dedup', partitionKey: 'deduplicationId', ttlAttribute: 'expiresAt' },
  /**
   * Presence: `channel` + `member` (`u#<uid>`: `uid`, `umd` JSON, `since`, `conns` {connectionId:
   * deadline ms}, `deadline`), and one `#count` item per channel holding the member count `n`.
   * A member is its item; the sweep deletes those whose deadline passed (functions/presence).
   */
  presence: { suffix: 'presence', partitionKey: 'channel', sortKey: 'member', ttlAttribute: 'expiresAt' },
  /** Revoked identities: `key` = `uid:<uid>` or `jti:<jti>`, until `expiresAt`. */
  revocations: { suffix: 'revocations', partitionKey: 'key', ttlAttribute: 'expiresAt' },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;

export function tableName(apiName: string, table: TableName): string {
  return `${apiName}-${TABLES[table].suffix}`;
}
