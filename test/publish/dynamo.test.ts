import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createTables, startDynalite } from '../../local/dynamo';

const tables = { messages: 't-messages', heads: 't-heads', dedup: 't-dedup' };
const client = (endpoint: string) => new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });

describe('local dynamo', () => {
  it('creates the three tables with string keys, on demand, and is idempotent', async () => {
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
      const d = await c.send(new DescribeTableCommand({ TableName: 't-dedup' }));
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
});
