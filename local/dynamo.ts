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
import type { Server } from 'node:http';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
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
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
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

/**
 * Creates every table named in `tables` (existing ones, e.g. from an on-disk store,
 * are kept) and waits until each is ACTIVE.
 */
export async function createTables(client: DynamoDBClient, tables: RuntimeSettings['tables']): Promise<void> {
  await Promise.all(
    (Object.keys(TABLES) as TableName[]).map(async (t) => {
      const name = tables[t];
      try {
        await client.send(new CreateTableCommand(createTableInput(t, name)));
      } catch (e) {
        if (!(e instanceof ResourceInUseException) && (e as Error).name !== 'ResourceInUseException') throw e;
      }
      for (let i = 0; i < 100; i++) {
        const d = await client.send(new DescribeTableCommand({ TableName: name }));
        if (d.Table?.TableStatus === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`table ${name} did not become ACTIVE`);
    }),
  );
}
