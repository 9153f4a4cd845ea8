/**
 * The presence members table on dynalite: joins, leaves, several connections of one uid,
 * and the sweep's count repair, which must not undo a join or leave in flight between
 * its count write and its item write (a sweep every 200 ms in the e2e suite hit that).
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createTableInput, startDynalite, type LocalDynamo } from '../../local/dynamo';
import { COUNT_MEMBER, createMembersTable, type MembersTable } from '../../functions/presence/members';

const TABLE = 'presence-test';
let db: LocalDynamo;
let dynamo: DynamoDBClient;
let now = 1_000_000;
let members: MembersTable;

beforeAll(async () => {
  db = await startDynalite();
  dynamo = new DynamoDBClient({ endpoint: db.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
  await dynamo.send(new CreateTableCommand(createTableInput('presence', TABLE)));
  members = createMembersTable({ dynamo, table: TABLE, now: () => now });
});
afterAll(async () => {
  dynamo.destroy();
  await db.close();
});

const setCount = (channel: string, n: number) =>
  dynamo.send(new UpdateItemCommand({ TableName: TABLE, Key: { channel: { S: channel }, member: { S: COUNT_MEMBER } }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: String(n) } } }));

it('counts one member per uid across connections, and removes it with its last connection', async () => {
  expect(await members.heartbeat('/r/a', { uid: 'u1' }, 'c1', now + 10_000, 10)).toEqual({ status: 'joined' });
  expect(await members.heartbeat('/r/a', { uid: 'u1' }, 'c2', now + 10_000, 10)).toEqual({ status: 'present' });
  expect(await members.count('/r/a')).toBe(1);
  expect(await members.leave('/r/a', 'u1', 'c1')).toEqual({ status: 'present' });
  expect(await members.leave('/r/a', 'u1', 'c2')).toEqual({ status: 'left' });
  expect(await members.leave('/r/a', 'u1', 'c2')).toEqual({ status: 'absent' });
  expect(await members.count('/r/a')).toBe(0);
});

it('does not undo a join in flight: a count ahead of the items is marked by one sweep, left alone once the item lands', async () => {
  await members.heartbeat('/r/b', { uid: 'u1' }, 'c1', now + 10_000, 10);
  await setCount('/r/b', 2); // u2's join took its place in the count; its item is not written yet
  expect((await members.sweep()).corrected).toBe(0);
  expect(await members.count('/r/b')).toBe(2);
  // u2's join completes (replayed here from the start: the count back to 1, then the real join).
  await setCount('/r/b', 1);
  expect(await members.heartbeat('/r/b', { uid: 'u2' }, 'c2', now + 10_000, 10)).toEqual({ status: 'joined' });
  expect((await members.list('/r/b', { limit: 10 })).members.map((m) => m.uid)).toEqual(['u1', 'u2']);
  expect((await members.sweep()).corrected).toBe(0);
  expect(await members.count('/r/b')).toBe(2);
  const item = await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { channel: { S: '/r/b' }, member: { S: COUNT_MEMBER } }, ConsistentRead: true }));
  expect(item.Item?.suspect).toBeUndefined(); // the mark is cleared once the count agrees
});

it('repairs a count that stays wrong on two sweeps running (a crash between the count and the item)', async () => {
  await members.heartbeat('/r/c', { uid: 'u1' }, 'c1', now + 10_000, 10);
  await setCount('/r/c', 4);
  expect((await members.sweep()).corrected).toBe(0);
  expect(await members.count('/r/c')).toBe(4);
  expect((await members.sweep()).corrected).toBe(1);
  expect(await members.count('/r/c')).toBe(1);
  expect((await members.sweep()).corrected).toBe(0);
});

it('does not repair when the count moved between the two sweeps', async () => {
  await members.heartbeat('/r/d', { uid: 'u1' }, 'c1', now + 10_000, 10);
  await setCount('/r/d', 3);
  await members.sweep();
  await setCount('/r/d', 5); // a different drift: marked again, not corrected
  expect((await members.sweep()).corrected).toBe(0);
  expect(await members.count('/r/d')).toBe(5);
  expect((await members.sweep()).corrected).toBe(1);
  expect(await members.count('/r/d')).toBe(1);
});

it('sweeps members whose deadline passed, and the count follows', async () => {
  await members.heartbeat('/r/e', { uid: 'u1', umdJson: '{"name":"A"}' }, 'c1', now + 1_000, 10);
  await members.heartbeat('/r/e', { uid: 'u2' }, 'c2', now + 60_000, 10);
  now += 5_000;
  const r = await members.sweep();
  expect(r.removed).toEqual(expect.arrayContaining([{ channel: '/r/e', uid: 'u1', umd: { name: 'A' } }]));
  expect(r.removed.filter((m) => m.channel === '/r/e')).toHaveLength(1);
  expect(await members.count('/r/e')).toBe(1);
  expect((await members.list('/r/e', { limit: 10 })).members.map((m) => m.uid)).toEqual(['u2']);
});
