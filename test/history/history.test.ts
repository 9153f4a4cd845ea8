import { signToken } from '../../client/token';
import { createHistoryHandler, type HistoryHandlerDeps } from '../../functions/history/handler';
import { createPublishHandler } from '../../functions/publish/handler';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { putMessage } from '../../functions/shared/messages-table';
import { newUlid } from '../../functions/publish/ids';
import { isMessageId, MESSAGE_ID_RE } from '../../functions/core/message';
import { CREDENTIALS, httpEvent, startRig, type Rig } from '../publish/support';

const SECRET = 'history-test-secret-0123456789abcdef';
let rig: Rig;
let clock: number;
let secrets: ReturnType<typeof staticSecretSource>;

beforeAll(async () => {
  rig = await startRig({
    name: 'es-hist',
    namespaces: { default: {}, chat: { defaultStoreSeconds: 60 } },
    history: { corsAllowedOrigins: ['https://app.example.com'] },
  });
  secrets = staticSecretSource({ [rig.settings.tokens.hs256Keys[0].parameterName]: SECRET });
});
afterAll(() => rig.close());
beforeEach(() => {
  clock = Date.UTC(2026, 5, 1, 12);
});

const now = () => clock;
const publish = () =>
  createPublishHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets, eventApiUrl: rig.endpoint.url, credentials: CREDENTIALS, logger: memoryLogger(), now });
const logs = memoryLogger();
const history = (over: Partial<HistoryHandlerDeps> = {}) => createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets, logger: logs, now, ...over });

const token = (channels: Record<string, { history?: boolean; subscribe?: boolean }>, o: { ttlSeconds?: number; secret?: string } = {}) =>
  signToken({ secret: o.secret ?? SECRET, kid: 'k1', channels, ttlSeconds: o.ttlSeconds ?? 600, now: clock });

type Http = { statusCode: number; headers: Record<string, string>; body: string };
async function get(query: Record<string, string>, bearer?: string, headers: Record<string, string> = {}) {
  const r = (await history()(
    httpEvent({ method: 'GET', path: '/history', query, headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), origin: 'https://app.example.com', ...headers } }),
  )) as Http;
  return { status: r.statusCode, headers: r.headers, body: r.body ? JSON.parse(r.body) : undefined };
}

async function seed(channel: string, n: number, store: number) {
  const ids: string[] = [];
  const p = publish();
  for (let i = 0; i < n; i++) ids.push(((await p({ channel, event: 'e', data: { i }, store })) as { id: string }).id);
  return ids;
}

describe('history over HTTP', () => {
  it('pages through stored messages in id order with after and limit', async () => {
    const ids = await seed('/chat/paged', 7, 3600);
    const t = await token({ '/chat/*': { history: true } });
    const p1 = await get({ channel: '/chat/paged', limit: '3' }, t);
    expect(p1.status).toBe(200);
    expect(p1.body.items.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 3));
    expect(p1.body.items[0]).toEqual({ id: ids[0], event: 'e', channel: '/chat/paged', data: { i: 0 }, meta: { uid: null, umd: null } });
    expect(p1.body.next).toBe(ids[2]);
    const p2 = await get({ channel: '/chat/paged', limit: '3', after: p1.body.next }, t);
    expect(p2.body.items.map((m: { id: string }) => m.id)).toEqual(ids.slice(3, 6));
    const p3 = await get({ channel: '/chat/paged', limit: '3', after: p2.body.next }, t);
    expect(p3.body.items.map((m: { id: string }) => m.id)).toEqual(ids.slice(6));
    expect(p3.body.next).toBeUndefined();
    const def = await get({ channel: '/chat/paged' }, t);
    expect(def.body.items).toHaveLength(7);
  });

  it('never returns expired messages, keeps messages stored forever', async () => {
    const short = await seed('/chat/exp', 2, 10);
    const forever = await seed('/chat/exp', 1, -1);
    const t = await token({ '/chat/exp': { history: true } }, { ttlSeconds: 3600 });
    expect((await get({ channel: '/chat/exp' }, t)).body.items.map((m: { id: string }) => m.id)).toEqual([...short, ...forever]);
    clock += 11_000;
    expect((await get({ channel: '/chat/exp' }, t)).body.items.map((m: { id: string }) => m.id)).toEqual(forever);
    clock += 100 * 365 * 86_400_000;
    const t2 = await token({ '/chat/exp': { history: true } });
    expect((await get({ channel: '/chat/exp' }, t2)).body.items.map((m: { id: string }) => m.id)).toEqual(forever);
  });

  it('keeps a message for the whole of its store seconds when published late in a second, and not a second longer', async () => {
    clock += 999;
    const [id] = await seed('/chat/whole', 1, 10);
    const t = await token({ '/chat/whole': { history: true } }, { ttlSeconds: 3600 });
    const ids = async () => (await get({ channel: '/chat/whole' }, t)).body.items.map((m: { id: string }) => m.id);
    clock += 9_999;
    expect(await ids()).toEqual([id]);
    clock += 1_001;
    expect(await ids()).toEqual([]);
  });

  it('skips a long run of expired messages not yet deleted and still finds the live ones', async () => {
    const nowS = Math.floor(clock / 1000);
    const ids = Array.from({ length: 152 }, (_x, i) => newUlid(clock - 200_000 + i)).sort();
    await Promise.all(
      ids.map((id, i) =>
        putMessage(rig.dynamo, rig.settings.tables.messages, {
          channel: '/chat/stale',
          id,
          envelope: JSON.stringify({ id, event: 'e', channel: '/chat/stale', data: i, meta: { uid: null, umd: null } }),
          expiresAt: i < 150 ? nowS - 1 : nowS + 60,
        }),
      ),
    );
    const t = await token({ '/chat/stale': { history: true } });
    const page = await get({ channel: '/chat/stale', limit: '5' }, t);
    expect(page.body.items.map((m: { id: string }) => m.id)).toEqual(ids.slice(150));
    expect(page.body.next).toBeUndefined();
  });

  it('reads only about as many items as a page needs when a few are expired', async () => {
    const nowS = Math.floor(clock / 1000);
    const ids = Array.from({ length: 60 }, (_x, i) => newUlid(clock - 100_000 + i)).sort();
    await Promise.all(
      ids.map((id, i) =>
        putMessage(rig.dynamo, rig.settings.tables.messages, {
          channel: '/chat/few-stale',
          id,
          envelope: JSON.stringify({ id, event: 'e', channel: '/chat/few-stale', data: i, meta: { uid: null, umd: null } }),
          expiresAt: i === 3 ? nowS - 1 : nowS + 60,
        }),
      ),
    );
    const limits: number[] = [];
    const counting = { send: (cmd: { input: { Limit?: number } }) => (limits.push(cmd.input.Limit ?? Infinity), rig.dynamo.send(cmd as never)) } as never;
    const t = await token({ '/chat/few-stale': { history: true } });
    const r = (await history({ dynamo: counting })(httpEvent({ method: 'GET', path: '/history', query: { channel: '/chat/few-stale', limit: '50' }, headers: { authorization: `Bearer ${t}` } }))) as Http;
    const body = JSON.parse(r.body);
    expect(body.items.map((m: { id: string }) => m.id)).toEqual(ids.filter((_x, i) => i !== 3).slice(0, 50));
    expect(body.next).toBe(ids[50]);
    expect(limits.length).toBeGreaterThan(1);
    for (const l of limits) expect(l).toBeLessThanOrEqual(2 * 51);
  });

  it('requires a token that grants history on that channel', async () => {
    await seed('/chat/secret', 1, 60);
    expect((await get({ channel: '/chat/secret' })).status).toBe(401);
    const sub = await get({ channel: '/chat/secret' }, await token({ '/chat/secret': { subscribe: true } }));
    expect(sub).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', field: 'channel' } } });
    const other = await get({ channel: '/chat/secret' }, await token({ '/chat/public': { history: true } }));
    expect(other.status).toBe(403);
    const forged = await get({ channel: '/chat/secret' }, await token({ '/chat/secret': { history: true } }, { secret: 'not-the-secret-0123456789abcdef' }));
    expect(forged).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: expect.stringContaining('SIGNATURE_INVALID') } } });
    const t = await token({ '/chat/secret': { history: true } }, { ttlSeconds: 60 });
    clock += 120_000;
    const expired = await get({ channel: '/chat/secret' }, t);
    expect(expired.body.error.message).toContain('TOKEN_EXPIRED');
    expect(JSON.stringify(expired.body)).not.toContain(t);
  });

  it('names bad parameters', async () => {
    const t = await token({ '/chat/*': { history: true } });
    expect((await get({}, t)).body.error).toMatchObject({ code: 'MISSING_FIELD', field: 'channel' });
    expect((await get({ channel: '/chat/*/x' }, t)).body.error).toMatchObject({ code: 'INVALID_CHANNEL', field: 'channel' });
    expect((await get({ channel: '/nope/a' }, t)).body.error).toMatchObject({ code: 'UNKNOWN_NAMESPACE', field: 'channel' });
    expect((await get({ channel: '/chat/a', limit: '101' }, t)).body.error).toMatchObject({ code: 'INVALID_FIELD', field: 'limit', limit: 100 });
    expect((await get({ channel: '/chat/a', limit: '0' }, t)).status).toBe(400);
    expect((await get({ channel: '/chat/a', after: 'nope' }, t)).body.error).toMatchObject({ field: 'after' });
    expect((await get({ channel: '/chat/a', cursor: 'x' }, t)).body.error).toMatchObject({ code: 'UNKNOWN_FIELD', field: 'cursor' });
  });

  it('answers CORS for the allowed origin only, with a preflight', async () => {
    const t = await token({ '/chat/*': { history: true } });
    const ok = await get({ channel: '/chat/none' }, t);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const foreign = await get({ channel: '/chat/none' }, t, { origin: 'https://evil.example.com' });
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const pre = (await history()(httpEvent({ method: 'OPTIONS', path: '/history', headers: { origin: 'https://app.example.com', 'access-control-request-headers': 'authorization' } }))) as Http;
    expect(pre.statusCode).toBe(204);
    expect(pre.headers).toMatchObject({ 'access-control-allow-origin': 'https://app.example.com', 'access-control-allow-methods': 'GET, OPTIONS' });
    expect(pre.headers['access-control-allow-headers']).toContain('authorization');
    const denied = await get({ channel: '/chat/none' }, undefined);
    expect(denied.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const wildcard = createHistoryHandler({ settings: { ...rig.settings, history: { enabled: true, corsAllowedOrigins: ['*'] } }, dynamo: rig.dynamo, secrets, now });
    const w = (await wildcard(httpEvent({ method: 'OPTIONS', path: '/history', headers: { origin: 'https://x.example' } }))) as Http;
    expect(w.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers 404 and 405 for other paths and methods', async () => {
    const h = history();
    expect(((await h(httpEvent({ method: 'GET', path: '/other' }))) as Http).statusCode).toBe(404);
    const post = (await h(httpEvent({ method: 'POST', path: '/history' }))) as Http;
    expect(post.statusCode).toBe(405);
    expect(post.headers.allow).toBe('GET, OPTIONS');
  });
});

describe('history by invoke', () => {
  it('returns the same page body, and errors naming the field', async () => {
    const ids = await seed('inv-hist', 3, 60);
    const h = history();
    expect(await h({ channel: 'inv-hist', limit: 2 })).toEqual({
      channel: '/default/inv-hist',
      items: [expect.objectContaining({ id: ids[0] }), expect.objectContaining({ id: ids[1] })],
      next: ids[1],
    });
    expect(await h({ channel: '/default/inv-hist', after: ids[1] })).toEqual({ channel: '/default/inv-hist', items: [expect.objectContaining({ id: ids[2] })] });
    expect(await h({ channel: 'x', limit: '5' } as never)).toEqual({ error: expect.objectContaining({ field: 'limit' }) });
  });

  it('parses each stored envelope once and never re-parses a whole page it built as text', async () => {
    const ids = await seed('inv-once', 2, 60);
    const spy = jest.spyOn(JSON, 'parse');
    try {
      const body = await history()({ channel: 'inv-once' });
      expect(body).toEqual({ channel: '/default/inv-once', items: ids.map((id) => expect.objectContaining({ id })) });
      const texts = spy.mock.calls.map((c) => String(c[0]));
      expect(texts.filter((t) => t.startsWith('{"channel":'))).toEqual([]);
      for (const id of ids) expect(texts.filter((t) => t.startsWith(`{"id":"${id}"`))).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('isMessageId (core)', () => {
  it('accepts the ids publish gives out and nothing else', async () => {
    const ids = await seed('ids-shape', 2, 60);
    for (const id of [...ids, newUlid(Date.now()), '7ZZZZZZZZZZZZZZZZZZZZZZZZZ', '00000000000000000000000000']) expect(isMessageId(id)).toBe(true);
    for (const bad of ['', '8ZZZZZZZZZZZZZZZZZZZZZZZZZ', ids[0].toLowerCase(), `${ids[0]}0`, ids[0].slice(1), '0000000000000000000000000I', 'O0000000000000000000000000', 26, null, undefined, [ids[0]]]) {
      expect(isMessageId(bad)).toBe(false);
    }
    expect(MESSAGE_ID_RE.source).toBe('^[0-7][0-9A-HJKMNP-TV-Z]{25}$');
  });
});
