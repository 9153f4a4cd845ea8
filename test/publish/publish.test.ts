import { GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { createDedup } from '../../functions/publish/dedup';
import type { PublishHandlerDeps } from '../../functions/publish/handler';
import { memoryLogger } from '../../functions/shared/log';
import { ssmSecretSource, staticSecretSource } from '../../functions/shared/secrets';
import { CREDENTIALS, httpEvent, rigPublishHandler, startRig, type Rig } from './support';

const KEY1 = 'pk_first_key_0123456789';
const KEY2 = 'pk_second_key_9876543210';

let rig: Rig;
let secretMap: Map<string, string>;

beforeAll(async () => {
  rig = await startRig();
});
afterAll(() => rig.close());
beforeEach(() => {
  rig.endpoint.received.length = 0;
  rig.endpoint.refused.length = 0;
  rig.endpoint.respond = undefined;
  rig.endpoint.requests = 0;
  const [p1, p2] = rig.settings.publish.apiKeyParameterNames;
  secretMap = new Map([
    [p1, KEY1],
    [p2, KEY2],
  ]);
});

function handler(over: Partial<PublishHandlerDeps> = {}) {
  return rigPublishHandler(rig, secretMap, over);
}

const post = (body: unknown, key: string | null = KEY1, path = '/publish') =>
  httpEvent({ path, body: typeof body === 'string' ? body : JSON.stringify(body), headers: key ? { authorization: `Bearer ${key}` } : {} });

type Http = { statusCode: number; headers: Record<string, string>; body: string };
const parse = (r: unknown) => ({ status: (r as Http).statusCode, body: JSON.parse((r as Http).body) });

describe('publish over HTTP', () => {
  it('publishes one message: 202 with id, channel and event, delivered as a signed envelope', async () => {
    const r = parse(await handler()(post({ channel: 'room-1', event: 'msg', data: { text: 'hi' } })));
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ id: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/), channel: '/default/room-1', event: 'msg' });
    expect(rig.endpoint.refused).toEqual([]);
    expect(rig.endpoint.received).toHaveLength(1);
    expect(rig.endpoint.received[0].channel).toBe('/default/room-1');
    expect(rig.endpoint.received[0].events).toEqual([{ id: r.body.id, event: 'msg', channel: '/default/room-1', data: { text: 'hi' }, meta: { uid: null, umd: null } }]);
  });

  it('answers a batch with one result per message in order, grouped by channel, at most 5 events per request', async () => {
    const messages = [
      ...Array.from({ length: 7 }, (_x, i) => ({ channel: '/default/batch-a', event: 'n', data: i })),
      { channel: '/default/batch-b', event: 'other' },
    ];
    const r = parse(await handler()(post({ messages })));
    expect(r.status).toBe(202);
    expect(r.body.results).toHaveLength(8);
    expect(r.body.results.map((x: { channel: string }) => x.channel)).toEqual([...Array(7).fill('/default/batch-a'), '/default/batch-b']);
    const a = rig.endpoint.received.filter((x) => x.channel === '/default/batch-a');
    expect(a.map((x) => x.events.length)).toEqual([5, 2]);
    expect(a.flatMap((x) => x.events.map((e) => e.data))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const ids = r.body.results.slice(0, 7).map((x: { id: string }) => x.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(7);
  });

  it('refuses invalid input with 400 naming the field and the limit, and publishes nothing', async () => {
    const r = parse(await handler()(post({ messages: [{ channel: 'a', event: 'e' }, { channel: 'a', event: 'e', data: 'x'.repeat(40000) }] })));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'DATA_TOO_LARGE', field: 'messages[1].data', limit: 32768 });
    expect(r.body.error.message).toContain('32768');
    const bad = parse(await handler()(post('{"channel":')));
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON', field: 'body' } } });
    expect(rig.endpoint.received).toEqual([]);
  });

  it('answers 401 for a missing or wrong key without saying which key, 413, 404 and 405', async () => {
    const h = handler();
    for (const key of [null, 'wrong', KEY1 + 'x']) {
      const r = parse(await h(post({ channel: 'a', event: 'e' }, key)));
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
      expect(JSON.stringify(r.body)).not.toMatch(/pk_|first|second|\/publish-api-key/);
    }
    const basic = parse(await h(httpEvent({ path: '/publish', body: '{}', headers: { authorization: `Basic ${KEY1}` } })));
    expect(basic.status).toBe(401);
    const big = parse(await h(post({ channel: 'a', event: 'e', data: 'x'.repeat(4 * 1024 * 1024) })));
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', field: 'body' } } });
    expect(parse(await h(post({ channel: 'a', event: 'e' }, KEY1, '/other'))).status).toBe(404);
    const get = (await h(httpEvent({ method: 'GET', path: '/publish', headers: { authorization: `Bearer ${KEY1}` } }))) as Http;
    expect(get.statusCode).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(rig.endpoint.received).toEqual([]);
  });

  it('accepts either key, and a rotated key without a new handler', async () => {
    const h = handler();
    expect(parse(await h(post({ channel: 'rot', event: 'e' }, KEY1))).status).toBe(202);
    expect(parse(await h(post({ channel: 'rot', event: 'e' }, KEY2))).status).toBe(202);
    const [p1] = rig.settings.publish.apiKeyParameterNames;
    secretMap.set(p1, 'pk_rotated_key');
    expect(parse(await h(post({ channel: 'rot', event: 'e' }, KEY1))).status).toBe(401);
    expect(parse(await h(post({ channel: 'rot', event: 'e' }, 'pk_rotated_key'))).status).toBe(202);
    expect(parse(await h(post({ channel: 'rot', event: 'e' }, KEY2))).status).toBe(202);
  });

  it('reads base64 bodies and never logs keys or message data', async () => {
    const logger = memoryLogger();
    const body = Buffer.from(JSON.stringify({ channel: 'b64', event: 'e', data: { secretText: 'do-not-log-me' } })).toString('base64');
    const ev = { ...post('', KEY1), body, isBase64Encoded: true };
    expect(parse(await handler({ logger })(ev)).status).toBe(202);
    await handler({ logger })(post({ channel: 'b64', event: 'e' }, 'pk_wrong_key_attempt'));
    const logs = JSON.stringify(logger.entries);
    expect(logs).toContain('publish');
    expect(logs).not.toContain('do-not-log-me');
    expect(logs).not.toContain(KEY1);
    expect(logs).not.toContain('pk_wrong_key_attempt');
  });

  it('refuses to start without the Event API host', () => {
    expect(() => handler({ settings: { ...rig.settings, eventApiHttpHost: '' } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field: 'eventApiHttpHost' }));
  });

  it('picks up a key rotated in SSM after the cache time, with no new handler', async () => {
    let t = Date.now();
    const params = new Map(secretMap);
    let reads = 0;
    // Mocked at the AWS boundary: GetParameter answers from the map.
    const ssm = { send: async (cmd: { input: { Name: string } }) => (reads++, { Parameter: { Value: params.get(cmd.input.Name) } }) };
    const h = handler({ secrets: ssmSecretSource(ssm as never, { ttlSeconds: 60, now: () => t }), now: () => t });
    expect(parse(await h(post({ channel: 'ssm', event: 'e' }, KEY1))).status).toBe(202);
    const [p1] = rig.settings.publish.apiKeyParameterNames;
    params.set(p1, 'pk_from_ssm_rotated');
    expect(parse(await h(post({ channel: 'ssm', event: 'e' }, KEY1))).status).toBe(202);
    t += 61_000;
    expect(parse(await h(post({ channel: 'ssm', event: 'e' }, KEY1))).status).toBe(401);
    expect(parse(await h(post({ channel: 'ssm', event: 'e' }, 'pk_from_ssm_rotated'))).status).toBe(202);
    expect(parse(await h(post({ channel: 'ssm', event: 'e' }, KEY2))).status).toBe(202);
    expect(reads).toBe(4);
  });

  it('answers 503, not 401, when no key can be read', async () => {
    const r = parse(await handler({ secrets: staticSecretSource({}) })(post({ channel: 'a', event: 'e' })));
    expect(r).toMatchObject({ status: 503, body: { error: { code: 'SECRET_UNAVAILABLE' } } });
  });
});

describe('publish by invoke', () => {
  it('returns the same bodies as HTTP', async () => {
    const h = handler();
    const one = await h({ channel: '/chat/inv', event: 'e', data: 1 });
    expect(one).toEqual({ id: expect.any(String), channel: '/chat/inv', event: 'e' });
    const many = (await h({ messages: [{ channel: 'x', event: 'a' }, { channel: 'y', event: 'b' }] })) as { results: unknown[] };
    expect(many.results).toEqual([
      { id: expect.any(String), channel: '/default/x', event: 'a' },
      { id: expect.any(String), channel: '/default/y', event: 'b' },
    ]);
    expect(await h({ channel: 'x', event: 'eventsock.sys' })).toEqual({ error: expect.objectContaining({ code: 'RESERVED_EVENT', field: 'event' }) });
  });
});

describe('ids', () => {
  it('strictly increase within a channel under 8 concurrent publishers', async () => {
    const publishers = Array.from({ length: 8 }, () => handler());
    const ids: string[] = [];
    await Promise.all(
      publishers.map(async (h, p) => {
        for (let i = 0; i < 5; i++) {
          const r = (await h({ channel: '/default/ordered', event: 'e', data: { p, i } })) as { id: string };
          ids.push(r.id);
        }
      }),
    );
    expect(new Set(ids).size).toBe(40);
    // Every publisher's own sequence increases, and ids are unique: a total order the head enforced.
    const head = await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.heads, Key: { channel: { S: '/default/ordered' } } }));
    expect(head.Item?.lastId?.S).toBe([...ids].sort().at(-1));
    const delivered = rig.endpoint.received.filter((x) => x.channel === '/default/ordered').flatMap((x) => x.events);
    for (let p = 0; p < 8; p++) {
      const mine = delivered.filter((e) => (e.data as { p: number }).p === p).map((e) => e.id as string);
      expect(mine).toEqual([...mine].sort());
    }
  });

  it('keep increasing after the clock goes backwards', async () => {
    let t = Date.now();
    const h = handler({ now: () => t });
    const a = (await h({ channel: 'clock', event: 'e' })) as { id: string };
    t -= 60_000;
    const b = (await h({ channel: 'clock', event: 'e' })) as { id: string };
    expect(b.id > a.id).toBe(true);
  });

  it('are the same returned, delivered and stored, and strictly increase, with all publishers in one millisecond and one clock going backwards', async () => {
    const frozen = Date.now();
    const publishers = Array.from({ length: 6 }, (_x, p) => handler({ now: () => (p === 5 ? frozen - 120_000 : frozen) }));
    const answered: Array<{ p: number; ids: string[] }> = [];
    await Promise.all(
      publishers.map(async (h, p) => {
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) {
          const r = (await h({ messages: [0, 1].map((k) => ({ channel: '/chat/same-ms', event: 'e', store: -1, data: { p, i, k } })) })) as { results: Array<{ id: string }> };
          ids.push(...r.results.map((x) => x.id));
        }
        answered.push({ p, ids });
      }),
    );
    const all = answered.flatMap((a) => a.ids);
    expect(new Set(all).size).toBe(48);
    for (const a of answered) expect(a.ids).toEqual([...a.ids].sort());
    const delivered = rig.endpoint.received.filter((x) => x.channel === '/chat/same-ms').flatMap((x) => x.events.map((e, j) => ({ id: e.id as string, raw: x.raw[j] })));
    expect(delivered.map((d) => d.id).sort()).toEqual([...all].sort());
    const stored = await rig.dynamo.send(new QueryCommand({ TableName: rig.settings.tables.messages, KeyConditionExpression: 'channel = :c', ExpressionAttributeValues: { ':c': { S: '/chat/same-ms' } } }));
    expect((stored.Items ?? []).map((it) => it.id.S)).toEqual([...all].sort());
    // Stored envelopes are the delivered bytes.
    const byId = new Map(delivered.map((d) => [d.id, d.raw]));
    for (const it of stored.Items ?? []) expect(it.envelope.S).toBe(byId.get(it.id.S!));
    const head = await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.heads, Key: { channel: { S: '/chat/same-ms' } } }));
    expect(head.Item?.lastId?.S).toBe([...all].sort().at(-1));
  });

  it('skip the head in a namespace with ordering none', async () => {
    const r = (await handler()({ channel: '/fast/x', event: 'e' })) as { id: string };
    expect(r.id).toHaveLength(26);
    const head = await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.heads, Key: { channel: { S: '/fast/x' } } }));
    expect(head.Item).toBeUndefined();
  });
});

describe('deduplication', () => {
  it('20 concurrent publishes with one deduplicationId: one delivery, the same id in every answer', async () => {
    const publishers = Array.from({ length: 4 }, () => handler());
    const answers = (await Promise.all(
      Array.from({ length: 20 }, (_x, i) => publishers[i % 4]({ channel: 'dedup-race', event: 'e', deduplicationId: 'race-1', data: i })),
    )) as Array<{ id: string; duplicate?: boolean }>;
    const delivered = rig.endpoint.received.filter((x) => x.channel === '/default/dedup-race').flatMap((x) => x.events);
    expect(delivered).toHaveLength(1);
    expect(new Set(answers.map((a) => a.id))).toEqual(new Set([delivered[0].id]));
    expect(answers.filter((a) => a.duplicate === true)).toHaveLength(19);
  });

  it('a repeat within the window answers duplicate with the first id; after 5 minutes it is delivered again', async () => {
    let t = Date.now();
    const h = handler({ now: () => t });
    const first = (await h({ channel: 'dd', event: 'e', deduplicationId: 'win-1' })) as { id: string };
    t += 299_000;
    const again = await h({ channel: 'dd', event: 'other', deduplicationId: 'win-1' });
    expect(again).toEqual({ id: first.id, channel: '/default/dd', event: 'e', duplicate: true, duplicateOf: { id: first.id, channel: '/default/dd' } });
    t += 2_000;
    const later = (await h({ channel: 'dd', event: 'e', deduplicationId: 'win-1' })) as { id: string; duplicate?: boolean };
    expect(later.duplicate).toBeUndefined();
    expect(later.id).not.toBe(first.id);
    expect(rig.endpoint.received.filter((x) => x.channel === '/default/dd')).toHaveLength(2);
  });

  it('a failed first publish does not make the retry a duplicate', async () => {
    rig.endpoint.respond = (n) => (n === 0 ? { status: 400, body: { errors: [{ errorType: 'BadRequestException' }] }, headers: { 'x-amzn-ErrorType': 'BadRequestException' } } : undefined);
    const h = handler();
    const first = await h({ channel: 'dd-fail', event: 'e', deduplicationId: 'fail-1' });
    expect(first).toEqual({ error: expect.objectContaining({ code: 'DELIVERY_REFUSED' }) });
    const retry = (await h({ channel: 'dd-fail', event: 'e', deduplicationId: 'fail-1' })) as { id: string; duplicate?: boolean };
    expect(retry.id).toHaveLength(26);
    expect(retry.duplicate).toBeUndefined();
    expect(rig.endpoint.received).toHaveLength(1);
  });

  it('concurrent retries after a failed first delivery: one takes over, one delivery, the rest answer its id', async () => {
    rig.endpoint.respond = (n) => (n === 0 ? { status: 400, body: { errors: [{ errorType: 'BadRequestException' }] } } : undefined);
    const h = handler();
    const answers = (await Promise.all(Array.from({ length: 10 }, () => h({ channel: 'dd-conc', event: 'e', deduplicationId: 'conc-1' })))) as Array<{
      id?: string;
      duplicate?: boolean;
      error?: { code: string };
    }>;
    const delivered = rig.endpoint.received.flatMap((x) => x.events);
    expect(delivered).toHaveLength(1);
    expect(answers.filter((a) => a.error)).toEqual([{ error: expect.objectContaining({ code: 'DELIVERY_REFUSED' }) }]);
    const ok = answers.filter((a) => !a.error);
    expect(new Set(ok.map((a) => a.id))).toEqual(new Set([delivered[0].id]));
    expect(ok.filter((a) => !a.duplicate)).toHaveLength(1);
  });

  it('takes over a claim whose owner died (lease over) instead of waiting for it', async () => {
    const t = Date.now();
    await rig.dynamo.send(
      new PutItemCommand({
        TableName: rig.settings.tables.dedup,
        Item: { deduplicationId: { S: 'dead-1' }, owner: { S: 'gone' }, status: { S: 'pending' }, leaseUntil: { N: String(t - 1) }, expiresAt: { N: String(Math.floor(t / 1000) + 300) } },
      }),
    );
    const r = (await handler()({ channel: 'dd-dead', event: 'e', deduplicationId: 'dead-1' })) as { id: string; duplicate?: boolean };
    expect(r.duplicate).toBeUndefined();
    expect(rig.endpoint.received.flatMap((x) => x.events).map((e) => e.id)).toEqual([r.id]);
  });

  it('a claim won early in a batch that then waited on another claim is still held through its delivery', async () => {
    const base = Date.now();
    let off = 0;
    const now = () => base + off;
    const budgetMs = 10_000;
    await rig.dynamo.send(
      new PutItemCommand({
        TableName: rig.settings.tables.dedup,
        Item: { deduplicationId: { S: 'lb-b' }, owner: { S: 'ghost' }, status: { S: 'pending' }, leaseUntil: { N: String(base + 14_000) }, expiresAt: { N: String(Math.floor(base / 1000) + 600) } },
      }),
    );
    const claimOf = async (id: string) =>
      (await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.dedup, Key: { deduplicationId: { S: id } }, ConsistentRead: true }))).Item;
    const seen: Array<{ leaseUntil: number; at: number }> = [];
    const watching: typeof fetch = async (url, init) => {
      const body = JSON.parse(String(init?.body)) as { channel: string };
      if (body.channel === '/default/lease-a') seen.push({ leaseUntil: Number((await claimOf('lb-a'))?.leaseUntil?.N), at: now() });
      return fetch(url, init);
    };
    const h = handler({ now, fetch: watching, delivery: { budgetMs, baseDelayMs: 5, maxDelayMs: 20 } });
    const pending = h({ messages: [{ channel: 'lease-a', event: 'e', deduplicationId: 'lb-a' }, { channel: 'lease-b', event: 'e', deduplicationId: 'lb-b' }] });
    // lb-a is won at once; lb-b waits for the ghost's lease, which ends 14 s later.
    while (!(await claimOf('lb-a'))) await new Promise((r) => setImmediate(r));
    off = 14_001;
    const r = (await pending) as { results: Array<{ id?: string; duplicate?: true }> };
    expect(r.results.map((x) => typeof x.id)).toEqual(['string', 'string']);
    expect(seen).toHaveLength(1);
    // A retry of lb-a arriving any time before the delivery deadline finds it held (and waits) instead of taking it over.
    expect(seen[0].leaseUntil).toBeGreaterThanOrEqual(seen[0].at + budgetMs);
    expect((await claimOf('lb-a'))?.status?.S).toBe('published');
  });

  it('renew keeps a held claim, and after a takeover answers the taker\'s id or lost, never renewing it', async () => {
    const t = Date.now();
    const d = createDedup({ dynamo: rig.dynamo, table: rig.settings.tables.dedup, now: () => t, leaseMs: 1000, pollMs: 5 });
    const won = await d.claim('rn-1');
    if (won.kind !== 'won') throw new Error('expected to win');
    expect(await d.renew('rn-1', won.owner)).toEqual({ kind: 'renewed', leaseUntil: t + 1000 });
    const put = (Item: Record<string, { S: string } | { N: string }>) => rig.dynamo.send(new PutItemCommand({ TableName: rig.settings.tables.dedup, Item: { deduplicationId: { S: 'rn-1' }, ...Item } }));
    await put({ owner: { S: 'taker' }, status: { S: 'pending' }, leaseUntil: { N: String(t + 5000) }, expiresAt: { N: String(Math.floor(t / 1000) + 300) } });
    expect(await d.renew('rn-1', won.owner)).toEqual({ kind: 'lost' });
    await put({ owner: { S: 'taker' }, status: { S: 'published' }, messageId: { S: '01JTAKERTAKERTAKERTAKERTAK' }, channel: { S: '/default/x' }, event: { S: 'e' }, expiresAt: { N: String(Math.floor(t / 1000) + 300) } });
    expect(await d.renew('rn-1', won.owner)).toEqual({ kind: 'duplicate', messageId: '01JTAKERTAKERTAKERTAKERTAK', channel: '/default/x', event: 'e' });
    expect((await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.dedup, Key: { deduplicationId: { S: 'rn-1' } } }))).Item?.owner?.S).toBe('taker');
  });

  it('a deduplicationId reused on another channel answers duplicateOf naming the first id and channel, and delivers nothing', async () => {
    const h = handler();
    const first = parse(await h(post({ channel: 'xch-a', event: 'e', data: 1, deduplicationId: 'xch-1' })));
    const again = parse(await h(post({ channel: 'xch-b', event: 'other', data: 2, deduplicationId: 'xch-1' })));
    expect(again).toEqual({ status: 202, body: { id: first.body.id, channel: '/default/xch-a', event: 'e', duplicate: true, duplicateOf: { id: first.body.id, channel: '/default/xch-a' } } });
    // Also inside one batch, and for the second of two messages that share the id.
    const batch = parse(await h(post({ messages: [{ channel: 'xch-c', event: 'e', deduplicationId: 'xch-2' }, { channel: 'xch-d', event: 'e', deduplicationId: 'xch-2' }, { channel: 'xch-d', event: 'e', deduplicationId: 'xch-1' }] })));
    expect(batch.status).toBe(202);
    const [c, d, d1] = batch.body.results;
    expect(d).toEqual({ id: c.id, channel: '/default/xch-c', event: 'e', duplicate: true, duplicateOf: { id: c.id, channel: '/default/xch-c' } });
    expect(d1.duplicateOf).toEqual({ id: first.body.id, channel: '/default/xch-a' });
    expect(rig.endpoint.received.map((x) => x.channel)).toEqual(['/default/xch-a', '/default/xch-c']);
  });

  it('a repeat inside one batch is answered as a duplicate of the first', async () => {
    const r = (await handler()({ messages: [{ channel: 'db', event: 'e', deduplicationId: 'b-1' }, { channel: 'db', event: 'e', deduplicationId: 'b-1' }] })) as {
      results: Array<{ id: string; duplicate?: boolean }>;
    };
    expect(r.results[1]).toEqual({ ...r.results[0], duplicate: true, duplicateOf: { id: r.results[0].id, channel: '/default/db' } });
    expect(rig.endpoint.received.flatMap((x) => x.events)).toHaveLength(1);
  });
});

describe('store', () => {
  async function stored(channel: string) {
    const q = await rig.dynamo.send(new QueryCommand({ TableName: rig.settings.tables.messages, KeyConditionExpression: 'channel = :c', ExpressionAttributeValues: { ':c': { S: channel } } }));
    return q.Items ?? [];
  }

  it('stores with the expiry asked for, forever without one, the namespace default when absent, not at all with 0', async () => {
    const t = Date.UTC(2026, 0, 1);
    const h = handler({ now: () => t });
    const a = (await h({ channel: '/default/st', event: 'e', store: 120, data: { n: 1 } })) as { id: string };
    await h({ channel: '/default/st', event: 'e', store: -1 });
    await h({ channel: '/default/st', event: 'e' });
    await h({ channel: '/chat/st', event: 'e' });
    await h({ channel: '/chat/st', event: 'e', store: 0 });
    const items = await stored('/default/st');
    expect(items).toHaveLength(2);
    expect(items[0].expiresAt).toEqual({ N: String(t / 1000 + 120) });
    expect(JSON.parse(items[0].envelope.S!)).toEqual({ id: a.id, event: 'e', channel: '/default/st', data: { n: 1 }, meta: { uid: null, umd: null } });
    expect(items[1].expiresAt).toBeUndefined();
    const chat = await stored('/chat/st');
    expect(chat).toHaveLength(1);
    expect(chat[0].expiresAt).toEqual({ N: String(t / 1000 + 60) });
  });

  it('does not keep a stored message whose delivery failed', async () => {
    rig.endpoint.respond = () => ({ status: 403, body: { errors: [{ errorType: 'UnauthorizedException' }] } });
    const r = await handler()({ channel: '/default/st-fail', event: 'e', store: -1 });
    expect(r).toEqual({ error: expect.objectContaining({ code: 'DELIVERY_REFUSED' }) });
    expect(await stored('/default/st-fail')).toEqual([]);
  });
  it('a delivery that cannot be signed is a failed publish: nothing stored is left, the claim is given back, the message is not reported', async () => {
    const logger = memoryLogger();
    const broken = handler({
      logger,
      credentials: async () => {
        throw new Error('provider said: secretAccessKey=CRED-SECRET-0451');
      },
      delivery: { budgetMs: 100, baseDelayMs: 5, maxDelayMs: 20 },
    });
    const r = parse(await broken(post({ channel: '/default/st-nocreds', event: 'e', store: -1, deduplicationId: 'nocreds-1' })));
    expect(r.status).toBe(502);
    expect(r.body).toEqual({ error: expect.objectContaining({ code: 'DELIVERY_FAILED' }) });
    expect(await stored('/default/st-nocreds')).toEqual([]);
    expect(JSON.stringify(r.body) + JSON.stringify(logger.entries)).not.toContain('CRED-SECRET-0451');
    // The retry publishes at once (the failed claim was released, not left pending).
    const retry = (await handler()({ channel: '/default/st-nocreds', event: 'e', store: -1, deduplicationId: 'nocreds-1' })) as { id: string; duplicate?: true };
    expect(retry.duplicate).toBeUndefined();
    expect(rig.endpoint.received.flatMap((x) => x.events).map((e) => e.id)).toEqual([retry.id]);
    expect((await stored('/default/st-nocreds')).map((i) => i.id.S)).toEqual([retry.id]);
  });
});

describe('delivery', () => {
  it('retries 5xx and 429, then succeeds', async () => {
    rig.endpoint.respond = (n) => (n === 0 ? { status: 503 } : n === 1 ? { status: 429 } : n === 2 ? { status: 500 } : undefined);
    const r = parse(await handler()(post({ channel: 'retry', event: 'e' })));
    expect(r.status).toBe(202);
    expect(rig.endpoint.requests).toBe(4);
    expect(rig.endpoint.received).toHaveLength(1);
  });

  it('reports a permanent failure to the caller and never as published', async () => {
    rig.endpoint.respond = () => ({ status: 500 });
    const logger = memoryLogger();
    const r = parse(await handler({ logger, delivery: { budgetMs: 1500, baseDelayMs: 5, maxDelayMs: 20 } })(post({ channel: 'perm', event: 'e' })));
    expect(logger.entries.filter((e) => e.msg === 'delivery failed')).toEqual([
      expect.objectContaining({ level: 'error', channel: '/default/perm', count: 1, ids: [expect.any(String)], codes: ['DELIVERY_FAILED'], reason: expect.stringMatching(/500/) }),
    ]);
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe('DELIVERY_FAILED');
    expect(r.body.error.message).toMatch(/500.*gave up after \d+ attempts/);
    expect(r.body.id).toBeUndefined();
    expect(rig.endpoint.requests).toBeGreaterThan(1);
  });

  it('bounds a whole batch by one delivery budget and reports every message of it as failed', async () => {
    rig.endpoint.respond = () => ({ status: 503 });
    const messages = Array.from({ length: 12 }, (_x, i) => ({ channel: 'budget', event: 'e', data: i }));
    const r = parse(await handler({ delivery: { budgetMs: 100, baseDelayMs: 5, maxDelayMs: 20 } })(post({ messages })));
    expect(r.status).toBe(502);
    expect(r.body.results).toHaveLength(12);
    for (const x of r.body.results) expect(x.error.code).toBe('DELIVERY_FAILED');
    expect(r.body.results[11].error.message).toMatch(/budget|gave up/);
  });

  it('reports per-event failures from the service, with 207 for a partly published batch', async () => {
    rig.endpoint.respond = (_n, body) => ({
      status: 200,
      body: { successful: [{ identifier: 'a', index: 0 }], failed: body.events.slice(1).map((_e, i) => ({ identifier: 'b', index: i + 1, code: 'EventTooLargeException', message: 'too large' })) },
    });
    const logger = memoryLogger();
    const r = parse(await handler({ logger })(post({ messages: [{ channel: 'part', event: 'a' }, { channel: 'part', event: 'b' }] })));
    expect(r.status).toBe(207);
    expect(logger.entries.filter((e) => e.msg === 'delivery failed')).toEqual([expect.objectContaining({ count: 1, codes: ['DELIVERY_REFUSED'] })]);
    expect(r.body.results[0]).toEqual({ id: expect.any(String), channel: '/default/part', event: 'a' });
    expect(r.body.results[1]).toEqual({ channel: '/default/part', event: 'b', error: expect.objectContaining({ code: 'DELIVERY_REFUSED', message: expect.stringContaining('EventTooLargeException') }) });
  });

  it('is refused by the endpoint when signed for the wrong region', async () => {
    const r = await handler({ settings: { ...rig.settings, region: 'eu-west-1' } })({ channel: 'wr', event: 'e' });
    expect(r).toEqual({ error: expect.objectContaining({ code: 'DELIVERY_REFUSED', message: expect.stringContaining('UnauthorizedException') }) });
    expect(rig.endpoint.refused).toEqual(['WRONG_REGION']);
  });

  it('is refused when signed with a wrong secret', async () => {
    const r = await handler({ credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: 'nope' } })({ channel: 'ws', event: 'e' });
    expect(r).toEqual({ error: expect.objectContaining({ code: 'DELIVERY_REFUSED' }) });
    expect(rig.endpoint.refused).toEqual(['SIGNATURE_MISMATCH']);
  });
});

describe('emitPubSubEvent', () => {
  it('puts published messages on the configured bus, only those that asked', async () => {
    const sent: Array<{ input: { Entries: Array<Record<string, string>> } }> = [];
    const eventBridge = { send: async (cmd: never) => { sent.push(cmd); return { FailedEntryCount: 0, Entries: [] }; } };
    const r = (await handler({ eventBridge })({ messages: [{ channel: 'eb', event: 'a', emitPubSubEvent: true, data: 5 }, { channel: 'eb', event: 'b' }] })) as { results: Array<{ id: string }> };
    expect(sent).toHaveLength(1);
    expect(sent[0].input.Entries).toEqual([
      { EventBusName: 'default', Source: 'eventsock', DetailType: 'eventsock.message.published', Detail: rig.endpoint.received[0].raw[0] },
    ]);
    expect(JSON.parse(sent[0].input.Entries[0].Detail).id).toBe(r.results[0].id);
  });

  it('sends large messages in PutEvents calls within 10 entries and 256 KiB, in order', async () => {
    const sent: Array<Array<{ Detail: string; Source: string; DetailType: string }>> = [];
    const logger = memoryLogger();
    // As EventBridge does: a request whose entries add up to more than 256 KiB is refused whole.
    const eventBridge = {
      send: async (cmd: never) => {
        const entries = (cmd as { input: { Entries: Array<{ Detail: string; Source: string; DetailType: string }> } }).input.Entries;
        const size = entries.reduce((n, e) => n + 14 + Buffer.byteLength(e.Detail) + Buffer.byteLength(e.Source) + Buffer.byteLength(e.DetailType), 0);
        if (entries.length > 10 || size > 256 * 1024) throw Object.assign(new Error('Total size of the entries in the request is over the limit.'), { name: 'ValidationException' });
        sent.push(entries);
        return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: 'x' })) };
      },
    };
    const messages = Array.from({ length: 23 }, (_x, i) => ({ channel: 'eb-big', event: 'e', emitPubSubEvent: true, data: { i, pad: 'p'.repeat(30_000) } }));
    const r = (await handler({ eventBridge, logger })({ messages })) as { results: Array<{ id: string }> };
    expect(logger.entries.filter((e) => e.level === 'error')).toEqual([]);
    expect(sent.flat().map((e) => JSON.parse(e.Detail).id)).toEqual(r.results.map((x) => x.id));
    for (const batch of sent) expect(batch.length).toBeLessThanOrEqual(10);
  });

  it('keeps the message published when EventBridge fails, and logs it', async () => {
    const logger = memoryLogger();
    const eventBridge = { send: async () => { throw Object.assign(new Error('down'), { name: 'InternalException' }); } };
    const r = (await handler({ eventBridge, logger })({ channel: 'eb2', event: 'a', emitPubSubEvent: true })) as { id: string };
    expect(r.id).toHaveLength(26);
    expect(logger.entries.some((e) => e.level === 'error' && e.msg.includes('EventBridge'))).toBe(true);
  });
});
