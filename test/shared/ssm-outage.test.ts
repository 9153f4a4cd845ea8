/**
 * What the handlers do when SSM misbehaves. The real SSM client (SigV4 with fake
 * credentials) talks to a loopback server that plays SSM at the HTTP boundary:
 * values, ParameterNotFound, 400 ThrottlingException, 500 InternalServerError, a
 * read that never answers. The secret source's clock is a variable; everything else
 * (dynalite, the Event API endpoint, token verification) is real and runs on real time.
 *
 * - after a good read, throttling, 5xx and timeouts serve the last value (within the
 *   staleness bound), with one warning per failed read naming the parameter only;
 * - a cold start during an outage: publish 503 SECRET_UNAVAILABLE with Retry-After,
 *   the authorizer denies with SECRET_UNAVAILABLE (logged as an operational error),
 *   history 503 with Retry-After; everything recovers when SSM does;
 * - ParameterNotFound refuses at once (never served stale);
 * - concurrent callers share one read; failed reads are retried with backoff, not per request;
 * - past the staleness bound: 503.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { signToken } from '../../client/token';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { createHistoryHandler } from '../../functions/history/handler';
import { createPublishHandler } from '../../functions/publish/handler';
import { memoryLogger } from '../../functions/shared/log';
import { DEFAULT_MAX_STALE_SECONDS, SecretUnavailableError, ssmSecretSource, type SsmSecretSourceOptions } from '../../functions/shared/secrets';
import { event as authorizerEvent } from '../tokens/fixtures';
import { CREDENTIALS, httpEvent, startRig, type Rig } from '../publish/support';

type Mode = 'ok' | 'throttle' | 'error500' | 'notfound' | 'hang';

const KEY1 = 'pk_SSMTEST_first_key_aaaa1111';
const KEY2 = 'pk_SSMTEST_second_key_bbbb2222';
const KEY2_NEXT = 'pk_SSMTEST_second_key_rotated_cccc3333';
const WRONG = 'pk_SSMTEST_wrong_key_dddd4444';
const HS = 'hs256-SSMTEST-secret-0123456789abcdef0123';
const ALL_SECRETS = [KEY1, KEY2, KEY2_NEXT, WRONG, HS];

interface FakeSsm {
  url: string;
  values: Map<string, string>;
  modes: Map<string, Mode>;
  /** Parameter names, one per GetParameter request received. */
  requests: string[];
  /** While set, answers wait for it. */
  gate?: Promise<void>;
  /** Resolved on the next request received. */
  nextRequest(): Promise<void>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function startFakeSsm(): Promise<FakeSsm> {
  let waiters: Array<() => void> = [];
  const fake: FakeSsm = {
    url: '',
    values: new Map(),
    modes: new Map(),
    requests: [],
    nextRequest: () => new Promise<void>((r) => waiters.push(r)),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
    if (req.headers['x-amz-target'] !== 'AmazonSSM.GetParameter' || !/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//.test(String(req.headers.authorization))) {
      send(400, { __type: 'UnrecognizedClientException', message: 'unexpected request' });
      return;
    }
    const { Name, WithDecryption } = JSON.parse(raw) as { Name: string; WithDecryption?: boolean };
    fake.requests.push(Name);
    const w = waiters;
    waiters = [];
    for (const r of w) r();
    if (fake.gate) await fake.gate;
    const mode = fake.modes.get(Name) ?? 'ok';
    if (mode === 'hang') return; // never answers; closed with the server
    if (mode === 'throttle') return send(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
    if (mode === 'error500') return send(500, { __type: 'InternalServerError', message: 'internal error' });
    const value = fake.values.get(Name);
    if (mode === 'notfound' || value === undefined || WithDecryption !== true) return send(400, { __type: 'ParameterNotFound', message: '' });
    send(200, { Parameter: { Name, Type: 'SecureString', Value: value, Version: 1 } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

let rig: Rig;
let ssm: FakeSsm;
let P1: string;
let P2: string;
let HK: string;
/** The secret source's clock. */
let t: number;
let logs: ReturnType<typeof memoryLogger>;
const clients: SSMClient[] = [];

beforeAll(async () => {
  rig = await startRig({ name: 'es-ssm', namespaces: { default: {}, chat: { defaultStoreSeconds: 60 } } });
  [P1, P2] = rig.settings.publish.apiKeyParameterNames;
  HK = rig.settings.tokens.hs256Keys[0].parameterName;
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await rig.close();
});
beforeEach(async () => {
  ssm = await startFakeSsm();
  ssm.values = new Map([
    [P1, KEY1],
    [P2, KEY2],
    [HK, HS],
  ]);
  t = Date.now();
  logs = memoryLogger();
});
afterEach(() => ssm.close());

/** The real SSM client as the Lambdas build it, pointed at the fake; one attempt per read unless told otherwise. */
function client(maxAttempts: number | 'sdk-default'): SSMClient {
  const c = new SSMClient({
    region: 'us-east-1',
    endpoint: ssm.url,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    ...(maxAttempts === 'sdk-default' ? {} : { maxAttempts }),
  });
  clients.push(c);
  return c;
}

const TTL = 60;
function source(over: Partial<SsmSecretSourceOptions> = {}, maxAttempts: number | 'sdk-default' = 1) {
  return ssmSecretSource(client(maxAttempts), { ttlSeconds: TTL, now: () => t, logger: logs, ...over });
}

/** Past the TTL and past any backoff (at most 30 s by default). */
const nextRefresh = () => (t += Math.max(TTL, 30) * 1000 + 1);

type Http = { statusCode: number; headers: Record<string, string>; body: string };

function publisher(secrets: ReturnType<typeof source>) {
  const h = createPublishHandler({
    settings: rig.settings,
    dynamo: rig.dynamo,
    secrets,
    eventApiUrl: rig.endpoint.url,
    credentials: CREDENTIALS,
    logger: logs,
    delivery: { budgetMs: 5000, baseDelayMs: 5, maxDelayMs: 20 },
  });
  return async (key: string | undefined, body: unknown = { channel: 'ssm', event: 'e' }) => {
    const r = (await h(httpEvent({ path: '/publish', body: JSON.stringify(body), headers: key ? { authorization: `Bearer ${key}` } : {} }))) as Http;
    return { status: r.statusCode, headers: r.headers, code: r.statusCode >= 400 ? (JSON.parse(r.body) as { error: { code: string } }).error.code : undefined };
  };
}

const logText = () => JSON.stringify(logs.entries);
function expectNoSecretInLogs() {
  const text = logText();
  for (const s of ALL_SECRETS) expect({ secret: s, inLogs: text.includes(s) }).toEqual({ secret: s, inLogs: false });
}
const entries = (msg: string) => logs.entries.filter((e) => e.msg === msg);

describe('after a good read, transient SSM failures serve the last value', () => {
  test('400 ThrottlingException, then 500: the value is served stale, one warning per failed read, naming the parameter only', async () => {
    const s = source();
    expect(await s.get(P1)).toBe(KEY1);
    expect(ssm.requests).toEqual([P1]);

    ssm.modes.set(P1, 'throttle');
    nextRefresh();
    expect(await s.get(P1)).toBe(KEY1);
    expect(ssm.requests).toEqual([P1, P1]);
    const warned = entries('secret read failed; serving the last value read');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', parameterName: P1, error: 'ThrottlingException', httpStatus: 400, failedAttempts: 1 });

    // Later calls within the backoff do not ask SSM again, and log nothing more.
    for (let i = 0; i < 5; i++) expect(await s.get(P1)).toBe(KEY1);
    expect(ssm.requests).toHaveLength(2);
    expect(entries('secret read failed; serving the last value read')).toHaveLength(1);

    ssm.modes.set(P1, 'error500');
    nextRefresh();
    expect(await s.get(P1)).toBe(KEY1);
    expect(ssm.requests).toHaveLength(3);
    expect(entries('secret read failed; serving the last value read')[1]).toMatchObject({ level: 'warn', parameterName: P1, error: 'InternalServerError', httpStatus: 500, failedAttempts: 2 });

    // SSM recovers with a rotated value: it is used at once, and the recovery is logged.
    ssm.modes.set(P1, 'ok');
    ssm.values.set(P1, KEY2_NEXT);
    nextRefresh();
    expect(await s.get(P1)).toBe(KEY2_NEXT);
    expect(entries('secret read recovered')[0]).toMatchObject({ level: 'info', parameterName: P1, failedAttempts: 2 });
    expectNoSecretInLogs();
  });

  test('with the SDK default retries (as in the Lambdas), a throttled read still serves the last value', async () => {
    // A generous read timeout: the SDK's own backoff between attempts must not be cut short here.
    const s = source({ readTimeoutMs: 20_000 }, 'sdk-default');
    expect(await s.get(P1)).toBe(KEY1);
    ssm.modes.set(P1, 'throttle');
    nextRefresh();
    expect(await s.get(P1)).toBe(KEY1);
    // The SDK retried inside one refresh; the source logged that refresh once.
    expect(ssm.requests.length).toBeGreaterThan(2);
    expect(entries('secret read failed; serving the last value read')).toHaveLength(1);
    expectNoSecretInLogs();
  });

  test('a read that never answers times out and counts as a transient failure', async () => {
    const c = client(1);
    // Warm the client (the SDK loads parts on first use), so that the good read below is well within the timeout.
    await c.send(new GetParameterCommand({ Name: HK, WithDecryption: true }));
    const s = ssmSecretSource(c, { ttlSeconds: TTL, now: () => t, logger: logs, readTimeoutMs: 1500 });
    expect(await s.get(P1)).toBe(KEY1);
    ssm.modes.set(P1, 'hang');
    nextRefresh();
    expect(await s.get(P1)).toBe(KEY1);
    expect(entries('secret read failed; serving the last value read')).toEqual([expect.objectContaining({ parameterName: P1, failedAttempts: 1 })]);
  });

  test('publish keeps accepting both keys and refusing a wrong one while SSM throttles', async () => {
    const publish = publisher(source());
    expect((await publish(KEY1)).status).toBe(202);
    ssm.modes.set(P1, 'throttle');
    ssm.modes.set(P2, 'throttle');
    nextRefresh();
    expect((await publish(KEY1)).status).toBe(202);
    expect((await publish(KEY2)).status).toBe(202);
    expect(await publish(WRONG)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(entries('secret read failed; serving the last value read').map((e) => e.parameterName).sort()).toEqual([P1, P2].sort());
    expectNoSecretInLogs();
  });

  test('the authorizer keeps allowing with the stale HS256 secret', async () => {
    const authorize = createAuthorizerHandler({ settings: rig.settings, secrets: source(), logger: logs });
    const token = await signToken({ secret: HS, kid: 'k1', channels: { '/chat/*': { subscribe: true } }, ttlSeconds: 600 });
    expect((await authorize(authorizerEvent('EVENT_CONNECT', token))).isAuthorized).toBe(true);
    ssm.modes.set(HK, 'error500');
    nextRefresh();
    expect((await authorize(authorizerEvent('EVENT_CONNECT', token))).isAuthorized).toBe(true);
    const fresh = await signToken({ secret: HS, kid: 'k1', channels: { '/chat/*': { subscribe: true } }, ttlSeconds: 600, jti: 'other' });
    expect((await authorize(authorizerEvent('EVENT_CONNECT', fresh))).isAuthorized).toBe(true);
    expect(entries('secret read failed; serving the last value read')).toHaveLength(1);
    expectNoSecretInLogs();
  });
});

describe('cold start during an SSM outage', () => {
  test('publish: 503 SECRET_UNAVAILABLE with Retry-After (not 401), for any key; then recovery', async () => {
    ssm.modes.set(P1, 'throttle');
    ssm.modes.set(P2, 'error500');
    const publish = publisher(source());
    for (const key of [KEY1, KEY2, WRONG]) {
      const r = await publish(key);
      expect(r).toMatchObject({ status: 503, code: 'SECRET_UNAVAILABLE' });
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
    }
    // Retried with backoff, not per request: one read per parameter so far.
    expect(ssm.requests.sort()).toEqual([P1, P2].sort());
    expect(entries('secret read failed; no value to serve').map((e) => e.level)).toEqual(['error', 'error']);
    expect(entries('publish API keys could not be read')[0]).toMatchObject({ level: 'error', code: 'SECRET_UNAVAILABLE' });

    ssm.modes.clear();
    nextRefresh();
    expect((await publish(KEY1)).status).toBe(202);
    expect((await publish(KEY2)).status).toBe(202);
    expect(await publish(WRONG)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(entries('secret read recovered')).toHaveLength(2);
    expectNoSecretInLogs();
  });

  test('publish: one slot unreadable: its key gets 503 (it may be the right one), the other key works, a wrong key gets 503, no key 401', async () => {
    ssm.modes.set(P2, 'throttle');
    const publish = publisher(source());
    expect((await publish(KEY1)).status).toBe(202);
    expect(await publish(KEY2)).toMatchObject({ status: 503, code: 'SECRET_UNAVAILABLE' });
    expect(await publish(WRONG)).toMatchObject({ status: 503, code: 'SECRET_UNAVAILABLE' });
    expect(await publish(undefined)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(entries('publish API keys could not be read')[0]).toMatchObject({ parameters: [P2] });

    ssm.modes.clear();
    nextRefresh();
    expect((await publish(KEY2)).status).toBe(202);
    expect(await publish(WRONG)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expectNoSecretInLogs();
  });

  test('authorizer: denies with reason SECRET_UNAVAILABLE, logged as an operational error; then recovery', async () => {
    ssm.modes.set(HK, 'throttle');
    const authorize = createAuthorizerHandler({ settings: rig.settings, secrets: source(), logger: logs });
    const token = await signToken({ secret: HS, kid: 'k1', channels: { '/chat/*': { subscribe: true } }, ttlSeconds: 600 });
    expect(await authorize(authorizerEvent('EVENT_CONNECT', token))).toEqual({ isAuthorized: false, ttlOverride: 0 });
    expect(entries('authorizer decision')[0]).toMatchObject({ level: 'warn', decision: 'deny', reason: 'SECRET_UNAVAILABLE' });
    expect(entries('token secret unavailable')[0]).toMatchObject({ level: 'error', parameterName: HK, code: 'SECRET_UNAVAILABLE' });
    expect(entries('secret read failed; no value to serve')[0]).toMatchObject({ level: 'error', parameterName: HK, error: 'ThrottlingException' });
    // A bad token during the outage is still told apart in the logs: it never reaches the secret.
    expect((await authorize(authorizerEvent('EVENT_CONNECT', 'not-a-jwt'))).isAuthorized).toBe(false);
    expect(entries('authorizer decision')[1]).toMatchObject({ reason: 'TOKEN_MALFORMED' });

    ssm.modes.clear();
    nextRefresh();
    expect((await authorize(authorizerEvent('EVENT_CONNECT', token))).isAuthorized).toBe(true);
    expectNoSecretInLogs();
  });

  test('history: 503 SECRET_UNAVAILABLE with Retry-After (exposed to browsers); then recovery', async () => {
    ssm.modes.set(HK, 'error500');
    const history = createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets: source(), logger: logs });
    const token = await signToken({ secret: HS, kid: 'k1', channels: { '/chat/*': { history: true } }, ttlSeconds: 600 });
    const get = async () => (await history(httpEvent({ method: 'GET', path: '/history', query: { channel: '/chat/h' }, headers: { authorization: `Bearer ${token}` } }))) as Http;
    const r = await get();
    expect(r.statusCode).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe('SECRET_UNAVAILABLE');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.headers['access-control-expose-headers']).toBe('Retry-After');
    expect(entries('history token keys unavailable')[0]).toMatchObject({ level: 'error', code: 'SECRET_UNAVAILABLE' });

    ssm.modes.clear();
    nextRefresh();
    expect((await get()).statusCode).toBe(200);
    expect(JSON.stringify(logs.entries)).not.toContain(token);
    expectNoSecretInLogs();
  });
});

describe('definitive answers are not served stale', () => {
  test('ParameterNotFound after a good read refuses at once: the key of the deleted slot gets 401, the other still works', async () => {
    const s = source();
    const publish = publisher(s);
    expect((await publish(KEY1)).status).toBe(202);
    ssm.values.delete(P1);
    nextRefresh();
    await expect(s.get(P1)).rejects.toMatchObject({ code: 'SECRET_UNAVAILABLE', retryable: false });
    expect(await publish(KEY1)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect((await publish(KEY2)).status).toBe(202);
    expect(entries('secret read failed; serving the last value read')).toHaveLength(0);
  });

  test('a deleted HS256 secret refuses in the authorizer even while cached tokens exist', async () => {
    const authorize = createAuthorizerHandler({ settings: rig.settings, secrets: source(), logger: logs });
    const token = await signToken({ secret: HS, kid: 'k1', channels: { '/chat/*': { subscribe: true } }, ttlSeconds: 600 });
    expect((await authorize(authorizerEvent('EVENT_CONNECT', token))).isAuthorized).toBe(true);
    ssm.modes.set(HK, 'notfound');
    nextRefresh();
    expect((await authorize(authorizerEvent('EVENT_CONNECT', token))).isAuthorized).toBe(false);
    expect(entries('authorizer decision').at(-1)).toMatchObject({ reason: 'SECRET_UNAVAILABLE' });
  });

  test('a missing parameter is asked again after a short while, not on every call', async () => {
    ssm.values.delete(P2);
    const s = source();
    for (let i = 0; i < 3; i++) await expect(s.get(P2)).rejects.toMatchObject({ retryable: false });
    expect(ssm.requests).toEqual([P2]);
    ssm.values.set(P2, KEY2_NEXT);
    t += 10_001;
    expect(await s.get(P2)).toBe(KEY2_NEXT);
  });
});

describe('one read for many callers', () => {
  test('concurrent callers share one read, on a cold start and on a failing refresh', async () => {
    const s = source();
    let release!: () => void;
    ssm.gate = new Promise<void>((r) => (release = r));
    const arrived = ssm.nextRequest();
    const calls = Array.from({ length: 25 }, () => s.get(P1));
    await arrived;
    release();
    ssm.gate = undefined;
    expect(await Promise.all(calls)).toEqual(Array(25).fill(KEY1));
    expect(ssm.requests).toEqual([P1]);

    ssm.modes.set(P1, 'throttle');
    nextRefresh();
    const during = await Promise.all(Array.from({ length: 25 }, () => s.get(P1)));
    expect(during).toEqual(Array(25).fill(KEY1));
    expect(ssm.requests).toEqual([P1, P1]);
    expect(entries('secret read failed; serving the last value read')).toHaveLength(1);
  });

  test('concurrent publishes at a cold start during an outage: one read per key slot, all 503', async () => {
    ssm.modes.set(P1, 'throttle');
    ssm.modes.set(P2, 'throttle');
    const publish = publisher(source());
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => publish(i % 2 ? KEY1 : KEY2)));
    expect(new Set(results.map((r) => `${r.status} ${r.code}`))).toEqual(new Set(['503 SECRET_UNAVAILABLE']));
    expect(ssm.requests.sort()).toEqual([P1, P2].sort());
  });
});

describe('the staleness bound', () => {
  test('past ttl + maxStaleSeconds the stale value is no longer served: publish 503, even for the key that was valid', async () => {
    const s = source();
    const publish = publisher(s);
    expect((await publish(KEY1)).status).toBe(202);
    const readAt = t;
    ssm.modes.set(P1, 'throttle');
    ssm.modes.set(P2, 'throttle');

    t = readAt + (TTL + DEFAULT_MAX_STALE_SECONDS) * 1000 - 1;
    expect((await publish(KEY1)).status).toBe(202);

    t = readAt + (TTL + DEFAULT_MAX_STALE_SECONDS) * 1000 + 31_000;
    const r = await publish(KEY1);
    expect(r).toMatchObject({ status: 503, code: 'SECRET_UNAVAILABLE' });
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const err = await s.get(P1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect(err).toMatchObject({ retryable: true });
    expect((err as Error).message).not.toContain(KEY1);
    expect(entries('secret read failed; no value to serve').length).toBeGreaterThan(0);

    ssm.modes.clear();
    t += 31_000;
    expect((await publish(KEY1)).status).toBe(202);
    expectNoSecretInLogs();
  });

  test('maxStaleSeconds is configurable; 0 turns stale serving off', async () => {
    const s = source({ maxStaleSeconds: 0 });
    expect(await s.get(P1)).toBe(KEY1);
    ssm.modes.set(P1, 'error500');
    nextRefresh();
    await expect(s.get(P1)).rejects.toMatchObject({ code: 'SECRET_UNAVAILABLE', retryable: true });
  });
});
