/**
 * The embedded DynamoDB for the emulator and the tests: dynalite on 127.0.0.1
 * (in memory, or LevelDB on disk with a path), and the tables the stack deploys,
 * built from the same TABLES definitions (string keys, on-demand billing, the same
 * global secondary indexes with projection ALL).
 *
 * dynalite has no TTL (UpdateTimeToLive is an unknown operation there), so the
 * TTL attribute is not configured here; the handlers compare expiry themselves,
 * as they must in AWS too, where deletion is lazy.
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  PutItemCommand,
  ResourceInUseException,
  ScanCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { TABLES, type TableDefinition, type TableName } from '../functions/core/tables';
import type { RuntimeSettings } from '../functions/core/config';

// dynalite ships no types.
const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;

export interface LocalDynamo {
  /** `http://127.0.0.1:<port>`, for `new DynamoDBClient({ endpoint })`. */
  endpoint: string;
  /** DynamoDB requests served so far, by operation (`UpdateItem`, `Scan`, …): what a bench or a cost estimate counts. */
  requests(): Record<string, number>;
  close(): Promise<void>;
}

/** Starts dynalite on an ephemeral loopback port. Tables become ACTIVE at once. */
export async function startDynalite(opts: { path?: string } = {}): Promise<LocalDynamo> {
  const server = dynalite({ path: opts.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const requests: Record<string, number> = {};
  // X-Amz-Target: DynamoDB_20120810.<Operation>
  server.on('request', (req: IncomingMessage) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() || 'unknown';
    requests[op] = (requests[op] ?? 0) + 1;
  });
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => ({ ...requests }),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        // SDK clients keep connections alive; without this close() waits for them.
        server.closeAllConnections?.();
        server.close((err) => (err ? reject(err) : resolve()));
      });
      return closing;
    },
  };
}

function keySchema(k: { partitionKey: string; sortKey?: string }): KeySchemaElement[] {
  const keys: KeySchemaElement[] = [{ AttributeName: k.partitionKey, KeyType: 'HASH' }];
  if (k.sortKey) keys.push({ AttributeName: k.sortKey, KeyType: 'RANGE' });
  return keys;
}

/** The CreateTable input for one Eventsock table: what the stack declares (its indexes too), minus TTL. */
export function createTableInput(table: TableName, name: string): CreateTableCommandInput {
  const def: TableDefinition = TABLES[table];
  const keys = keySchema(def);
  const indexes = (def.indexes ?? []).map((ix) => ({ IndexName: ix.name, KeySchema: keySchema(ix), Projection: { ProjectionType: 'ALL' as const } }));
  const attributes = [...new Set([...keys, ...indexes.flatMap((ix) => ix.KeySchema)].map((k) => k.AttributeName!))];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keys,
    AttributeDefinitions: attributes.map((a) => ({ AttributeName: a, AttributeType: 'S' as const })),
    ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
  };
}

async function waitActive(client: DynamoDBClient, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: name }));
    if (d.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`table ${name} did not become ACTIVE`);
}

/**
 * An existing table (an on-disk store from an older version) that lacks an index the
 * definitions declare is rebuilt with it, items kept as they are. dynalite cannot add
 * an index to a table (UpdateTable accepts one but never builds it), so: read every
 * item, delete the table, create it anew, write the items back. As in AWS, where an
 * added index is backfilled, old items without the index key stay out of the index.
 */
async function addMissingIndexes(client: DynamoDBClient, table: TableName, name: string): Promise<void> {
  const declared = (TABLES[table] as TableDefinition).indexes ?? [];
  if (declared.length === 0) return;
  await waitActive(client, name);
  const have = new Set(((await client.send(new DescribeTableCommand({ TableName: name }))).Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
  if (declared.every((ix) => have.has(ix.name))) return;
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: name, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  await client.send(new DeleteTableCommand({ TableName: name }));
  for (let i = 0; ; i++) {
    try {
      await client.send(new DescribeTableCommand({ TableName: name }));
    } catch (e) {
      if ((e as Error).name === 'ResourceNotFoundException') break;
      throw e;
    }
    if (i === 100) throw new Error(`table ${name} was not deleted`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.send(new CreateTableCommand(createTableInput(table, name)));
  await waitActive(client, name);
  for (const item of items) await client.send(new PutItemCommand({ TableName: name, Item: item }));
}

/**
 * Creates every table named in `tables` (existing ones, e.g. from an on-disk store,
 * are kept, and given the indexes they lack) and waits until each is ACTIVE.
 */
export async function createTables(client: DynamoDBClient, tables: RuntimeSettings['tables']): Promise<void> {
  await Promise.all(
    (Object.keys(TABLES) as TableName[]).map(async (t) => {
      const name = tables[t];
      try {
        await client.send(new CreateTableCommand(createTableInput(t, name)));
      } catch (e) {
        if (!(e instanceof ResourceInUseException) && (e as Error).name !== 'ResourceInUseException') throw e;
        await addMissingIndexes(client, t, name);
      }
      await waitActive(client, name);
    }),
  );
}
