/**
 * History for wildcard patterns (`GET /history?channel=/chat/*`): the messages
 * table's namespace index in dynalite, the token's coverage of the whole pattern,
 * matching channels only, id order, expiry, and a bounded read per request.
 */
import { DescribeTableCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { signToken } from '../../client/token';
import { createHistoryHandler, type HistoryHandlerDeps } from '../../functions/history/handler';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { newUlid } from '../../functions/publish/ids';
import { putMessage } from '../../functions/shared/messages-table';
import { MESSAGES_BY_NAMESPACE } from '../../functions/core/tables';
import { createPublishHandler } from '../../functions/publish/handler';
import { CREDENTIALS, httpEvent, startRig, type Rig } from '../publish/support';

const SECRET = 'pattern-test-secret-0123456789abcdef';
let rig: Rig;
let clock: number;
let secrets: ReturnType<typeof staticSecretSource>;

beforeAll(async () => {
  rig = await startRig({ name: 'es-pat', namespaces: { default: {}, chat: { defaultStoreSeconds: 60 }, feed: {} } });
  secrets = staticSecretSource({ [rig.settings.tokens.hs256Keys[0].parameterName]: SECRET });
});
afterAll(() => rig.close());
beforeEach(() => {
  clock = Date.UTC(2026, 5, 1, 12);
});

const now = () => clock;
const history = (over: Partial<HistoryHandlerDeps> = {}) => createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets, logger: memoryLogger(), now, ...over });
const token = (channels: Record<string, { history?: boolean; subscribe?: boolean }>) => signToken({ secret: SECRET, kid: 'k1', channels, ttlSeconds: 600, now: clock });

type Http = { statusCode: number; body: string };
async function get(query: Record<string, string>, bearer: string, over: Partial<HistoryHandlerDeps> = {}) {
  const r = (await history(over)(httpEvent({ method: 'GET', path: '/history', query, headers: { authorization: `Bearer ${bearer}` } }))) as Http;
  return { status: r.statusCode, body: JSON.parse(r.body) };
}
const idsOf = (b: { items: Array<{ id: string }> }) => b.items.map((m) => m.id);

/** Stores one message per (channel, expiresAt) with ids in the given order; returns the ids. */
async function store(entries: Array<{ channel: string; expiresAt?: number }>): Promise<string[]> {
  const base = clock - 500_000 - Math.floor(Math.random() * 100_000);
  const ids = entries.map((_e, i) => newUlid(base + i));
  await Promise.all(
    entries.map((e, i) =>
      putMessage(rig.dynamo, rig.settings.tables.messages, {
        channel: e.channel,
        id: ids[i],
        envelope: JSON.stringify({ id: ids[i], event: 'e', channel: e.channel, data: i, meta: { uid: null, umd: null } }),
        expiresAt: e.expiresAt,
      }),
    ),
  );
  return ids;
}

describe('the messages table namespace index', () => {
  it('exists in dynalite with namespace + id keys and projection ALL', async () => {
    const d = await rig.dynamo.send(new DescribeTableCommand({ TableName: rig.settings.tables.messages }));
    const gsi = d.Table?.GlobalSecondaryIndexes ?? [];
    expect(gsi.map((g) => [g.IndexName, g.KeySchema, g.Projection?.ProjectionType])).toEqual([
      [MESSAGES_BY_NAMESPACE.name, [{ AttributeName: 'namespace', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }], 'ALL'],
    ]);
  });

  it('is written by the publish function on every stored message', async () => {
    const p = createPublishHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets, eventApiUrl: rig.endpoint.url, credentials: CREDENTIALS, logger: memoryLogger(), now });
    const r = (await p({ channel: '/feed/a/b', event: 'e', data: 1, store: 60 })) as { id: string };
    const item = await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.messages, Key: { channel: { S: '/feed/a/b' }, id: { S: r.id } }, ConsistentRead: true }));
    expect(item.Item?.namespace).toEqual({ S: 'feed' });
    const t = await token({ '/feed/*': { history: true } });
    expect(idsOf((await get({ channel: '/feed/*' }, t)).body)).toEqual([r.id]);
  });
});

describe('history for a wildcard pattern', () => {
  it('returns the matching channels only, at any depth, in id order, answering with the pattern as channel', async () => {
    const ids = await store([
      { channel: '/chat/m1/room-a' },
      { channel: '/chat/m1/room-b/x' },
      { channel: '/chat/m2' },
      { channel: '/chat/m1' },
      { channel: '/chat/m1/room-a' },
    ]);
    const t = await token({ '/chat/*': { history: true } });
    const r = await get({ channel: '/chat/m1/*' }, t);
    expect(r.status).toBe(200);
    expect(r.body.channel).toBe('/chat/m1/*');
    expect(idsOf(r.body)).toEqual([ids[0], ids[1], ids[4]]);
    expect(r.body.items.map((m: { channel: string }) => m.channel)).toEqual(['/chat/m1/room-a', '/chat/m1/room-b/x', '/chat/m1/room-a']);
    expect(r.body.next).toBeUndefined();
    // `after` is exclusive, and the Lambda invoke path answers the same.
    const inv = (await history()({ channel: '/chat/m1/*', after: ids[0] })) as { channel: string; items: Array<{ id: string }> };
    expect(inv.channel).toBe('/chat/m1/*');
    expect(idsOf(inv)).toEqual([ids[1], ids[4]]);
  });

  it('refuses a token whose history grant does not cover the whole pattern', async () => {
    await store([{ channel: '/chat/g/room-1' }]);
    for (const grant of ['/chat/g/room-1', '/chat/g/*/x', '/feed/*', '/chat/h/*']) {
      const r = await get({ channel: '/chat/g/*' }, await token({ [grant]: { history: true } }));
      expect([grant, r.status, r.body.error.code, r.body.error.field]).toEqual([grant, 403, 'FORBIDDEN', 'channel']);
    }
    const sub = await get({ channel: '/chat/g/*' }, await token({ '/chat/*': { subscribe: true } }));
    expect(sub.status).toBe(403);
    for (const grant of ['/chat/g/*', '/chat/*', '/*/*']) {
      expect([grant, (await get({ channel: '/chat/g/*' }, await token({ [grant]: { history: true } }))).status]).toEqual([grant, 200]);
    }
  });

  it('refuses malformed patterns naming the channel field', async () => {
    const t = await token({ '/*/*': { history: true } });
    for (const channel of ['/chat/*/x', '/*', '/chat/a*', '/nope/*']) {
      const r = await get({ channel }, t);
      expect([channel, r.status, r.body.error.field]).toEqual([channel, 400, 'channel']);
    }
    expect(((await history()({ channel: '/chat/*/x' })) as { error: { field: string } }).error.field).toBe('channel');
  });

  it('never returns expired messages, whether or not TTL deleted them', async () => {
    const nowS = Math.floor(clock / 1000);
    const ids = await store([
      { channel: '/chat/exp/a', expiresAt: nowS - 1 },
      { channel: '/chat/exp/b', expiresAt: nowS + 5 },
      { channel: '/chat/exp/c' },
      { channel: '/chat/exp/a', expiresAt: nowS },
    ]);
    const t = await token({ '/chat/exp/*': { history: true } });
    expect(idsOf((await get({ channel: '/chat/exp/*' }, t)).body)).toEqual([ids[1], ids[2]]);
    clock += 6_000;
    expect(idsOf((await get({ channel: '/chat/exp/*' }, await token({ '/chat/exp/*': { history: true } }))).body)).toEqual([ids[2]]);
  });

  it('pages with limit and next', async () => {
    const ids = await store(Array.from({ length: 7 }, (_x, i) => ({ channel: `/chat/pg/r${i % 3}` })));
    const t = await token({ '/chat/pg/*': { history: true } });
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await get({ channel: '/chat/pg/*', limit: '3', ...(after ? { after } : {}) }, t);
      expect(r.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...idsOf(r.body));
      if (!r.body.next) break;
      after = r.body.next;
    }
    expect(seen).toEqual(ids);
  });

  it('bounds the index items read per request in a namespace full of other channels, and continues with next', async () => {
    const entries = Array.from({ length: 130 }, (_x, i) => ({ channel: i % 40 === 7 ? `/chat/few/r${i}` : `/chat/busy/c${i % 9}` }));
    const ids = await store(entries);
    const wanted = ids.filter((_id, i) => entries[i].channel.startsWith('/chat/few/'));
    expect(wanted).toHaveLength(4);
    const t = await token({ '/chat/few/*': { history: true } });
    const seen: string[] = [];
    const requests: Array<{ limits: number[]; items: number; next?: string }> = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const limits: number[] = [];
      const counting = { send: (cmd: { input: { Limit?: number } }) => (limits.push(cmd.input.Limit ?? Infinity), rig.dynamo.send(cmd as never)) } as never;
      const r = await get({ channel: '/chat/few/*', limit: '100', ...(after ? { after } : {}) }, t, { dynamo: counting, patternMaxExamined: 25 });
      expect(r.status).toBe(200);
      requests.push({ limits, items: r.body.items.length, next: r.body.next });
      seen.push(...idsOf(r.body));
      if (!r.body.next) break;
      after = r.body.next;
    }
    expect(seen).toEqual(wanted);
    // Every request read at most 25 index items, so it took several, some of them empty pages with next.
    for (const q of requests) expect(q.limits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(25);
    expect(requests.length).toBeGreaterThanOrEqual(Math.ceil(130 / 25));
    expect(requests.some((q) => q.items === 0 && q.next !== undefined)).toBe(true);
  });
});
