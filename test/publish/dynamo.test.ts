import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { createTableInput, createTables, startDynalite } from '../../local/dynamo';
import { MESSAGES_BY_NAMESPACE } from '../../functions/core/tables';

const tables = { messages: 't-messages', heads: 't-heads', dedup: 't-dedup', presence: 't-presence', revocations: 't-revocations' };
const client = (endpoint: string) => new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });

describe('local dynamo', () => {
  it('creates the tables with string keys, on demand, and is idempotent', async () => {
    const db = await startDynalite();
    const c = client(db.endpoint);
    try {
      expect(db.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await createTables(c, tables);
      await createTables(c, tables);
      const m = await c.send(new DescribeTableCommand({ TableName: 't-messages' }));
      expect(m.Table?.TableStatus).toBe('ACTIVE');
      expect(m.Table?.KeySchema).toEqual([
        { AttributeName: 'channel', KeyType: 'HASH' },
        { AttributeName: 'id', KeyType: 'RANGE' },
      ]);
      expect(m.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
      // The namespace index, as core/tables.ts declares it.
      expect(m.Table?.GlobalSecondaryIndexes?.map((g) => [g.IndexName, g.KeySchema, g.Projection])).toEqual([
        [MESSAGES_BY_NAMESPACE.name, [{ AttributeName: 'namespace', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }], { ProjectionType: 'ALL' }],
      ]);
      expect(m.Table?.AttributeDefinitions?.map((a) => a.AttributeName).sort()).toEqual(['channel', 'id', 'namespace']);
      const d = await c.send(new DescribeTableCommand({ TableName: 't-dedup' }));
      expect(d.Table?.GlobalSecondaryIndexes).toBeUndefined();
      expect(d.Table?.KeySchema).toEqual([{ AttributeName: 'deduplicationId', KeyType: 'HASH' }]);
      expect(d.Table?.AttributeDefinitions).toEqual([{ AttributeName: 'deduplicationId', AttributeType: 'S' }]);
    } finally {
      c.destroy();
      await db.close();
    }
  });

  it('keeps items on disk across restarts with a path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventsock-dyn-'));
    try {
      let db = await startDynalite({ path: dir });
      let c = client(db.endpoint);
      await createTables(c, tables);
      await c.send(new PutItemCommand({ TableName: 't-heads', Item: { channel: { S: '/default/a' }, lastId: { S: 'X' } } }));
      c.destroy();
      await db.close();
      db = await startDynalite({ path: dir });
      c = client(db.endpoint);
      await createTables(c, tables);
      const got = await c.send(new GetItemCommand({ TableName: 't-heads', Key: { channel: { S: '/default/a' } } }));
      expect(got.Item?.lastId).toEqual({ S: 'X' });
      c.destroy();
      await db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a stored messages table from before the namespace index the index, keeping its items', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventsock-dyn-'));
    try {
      let db = await startDynalite({ path: dir });
      let c = client(db.endpoint);
      // The table as an older version created it: no index.
      const { GlobalSecondaryIndexes: _none, ...old } = createTableInput('messages', 't-messages');
      await c.send(new CreateTableCommand({ ...old, AttributeDefinitions: old.AttributeDefinitions!.filter((a) => a.AttributeName !== 'namespace') }));
      await c.send(new PutItemCommand({ TableName: 't-messages', Item: { channel: { S: '/chat/a' }, id: { S: '01OLD' }, envelope: { S: '{}' } } }));
      c.destroy();
      await db.close();
      db = await startDynalite({ path: dir });
      c = client(db.endpoint);
      await createTables(c, tables);
      const m = await c.send(new DescribeTableCommand({ TableName: 't-messages' }));
      expect(m.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName)).toEqual([MESSAGES_BY_NAMESPACE.name]);
      expect((await c.send(new GetItemCommand({ TableName: 't-messages', Key: { channel: { S: '/chat/a' }, id: { S: '01OLD' } } }))).Item?.envelope).toEqual({ S: '{}' });
      await c.send(new PutItemCommand({ TableName: 't-messages', Item: { channel: { S: '/chat/b' }, id: { S: '01NEW' }, namespace: { S: 'chat' }, envelope: { S: '{}' } } }));
      const q = await c.send(
        new QueryCommand({ TableName: 't-messages', IndexName: MESSAGES_BY_NAMESPACE.name, KeyConditionExpression: '#ns = :ns', ExpressionAttributeNames: { '#ns': 'namespace' }, ExpressionAttributeValues: { ':ns': { S: 'chat' } } }),
      );
      // Old items without the index key stay out of the index, as in AWS.
      expect(q.Items?.map((i) => i.id.S)).toEqual(['01NEW']);
      c.destroy();
      await db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
