/**
 * The embedded DynamoDB for the emulator and the tests: dynalite on 127.0.0.1
 * (in memory, or LevelDB on disk with a path), and the tables the stack deploys,
 * built from the same TABLES definitions (string keys, on-demand billing).
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
import { TABLES, type TableName } from '../functions/core/tables';
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

/** The CreateTable input for one Eventsock table: what the stack declares, minus TTL. */
export function createTableInput(table: TableName, name: string): CreateTableCommandInput {
  const def = TABLES[table] as { partitionKey: string; sortKey?: string };
  const keys: KeySchemaElement[] = [{ AttributeName: def.partitionKey, KeyType: 'HASH' }];
  if (def.sortKey) keys.push({ AttributeName: def.sortKey, KeyType: 'RANGE' });
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keys,
    AttributeDefinitions: keys.map((k) => ({ AttributeName: k.AttributeName, AttributeType: 'S' as const })),
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
