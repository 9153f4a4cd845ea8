/**
 * Secrets never reach a log line, an error body or an answer. Every failing path of the
 * publish and history functions is driven with recognisable secrets (API keys, a wrong
 * key, JWTs, the HS256 secret, the signing credentials, the SigV4 Authorization header
 * and signature, a session token), including AWS answers that quote them back the way
 * signature-mismatch errors do, and the raw log lines and answers are searched for them.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { signToken } from '../../client/token';
import { createHistoryHandler } from '../../functions/history/handler';
import { createPublishHandler, type PublishHandlerDeps } from '../../functions/publish/handler';
import { createLogger, redactSecrets } from '../../functions/shared/log';
import { ssmSecretSource, staticSecretSource } from '../../functions/shared/secrets';
import { httpEvent, startRig, type Rig } from './support';

const KEY1 = 'pk_SECRET_live_key_7f3a9c11';
const KEY2 = 'pk_SECRET_next_key_1b2c3d44';
const WRONG = 'pk_SECRET_wrong_key_5d6e7f88';
const HS_SECRET = 'hs256-SECRET-history-0123456789abcdef';
const SESSION = 'IQoJSESSIONSECRETb3JpZ2luX2VjEHQaCXVzLWVhc3QtMSJHMEUCIQ';
const SECRET_ACCESS_KEY = 'wJalrSECRETACCESSKEYbPxRfiCYEXAMPLEKEY';
const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET_ACCESS_KEY, sessionToken: SESSION };

let rig: Rig;
let lines: string[];
let answers: string[];
/** Secrets seen on the wire during the test (Authorization headers, signatures, tokens). */
let seen: Set<string>;

beforeAll(async () => {
  rig = await startRig({ name: 'es-sec', namespaces: { default: {}, chat: { defaultStoreSeconds: 60 } } });
});
afterAll(() => rig.close());
beforeEach(() => {
  lines = [];
  answers = [];
  seen = new Set();
});

const logger = () => createLogger({ level: 'debug', write: (l) => lines.push(l) });
const keys = () => {
  const [p1, p2] = rig.settings.publish.apiKeyParameterNames;
  return staticSecretSource({ [p1]: KEY1, [p2]: KEY2, [rig.settings.tokens.hs256Keys[0].parameterName]: HS_SECRET });
};

/** What an AWS endpoint says to a signature it does not accept: the canonical request, session token included. */
const mismatch = (extra = '') =>
  Object.assign(
    new Error(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.\n\n' +
        `The Canonical String for this request should have been\n'POST\n/\n\nhost:dynamodb.us-east-1.amazonaws.com\nx-amz-security-token:${SESSION}\n'${extra}`,
    ),
    { name: 'InvalidSignatureException' },
  );

/** The Event API at the HTTP boundary, answering as `mode` says and remembering what it was sent. */
function eventApi(mode: 'echo403' | 'throw' | 'perEvent' | 'echo500'): typeof fetch {
  return async (_url, init) => {
    const h = new Headers(init?.headers);
    const auth = h.get('authorization') ?? '';
    seen.add(auth);
    const sig = /Signature=([0-9a-f]+)/.exec(auth)?.[1];
    if (sig) seen.add(sig);
    const quoted = `Authorization: ${auth}\nx-amz-security-token:${h.get('x-amz-security-token')}\nBearer ${KEY1}`;
    if (mode === 'throw') throw Object.assign(new TypeError(`fetch failed (${quoted})`), { cause: new Error(quoted) });
    if (mode === 'perEvent') {
      return new Response(JSON.stringify({ successful: [], failed: [{ index: 0, code: `BadRequest ${auth}`, message: quoted }] }), { status: 200 });
    }
    const status = mode === 'echo403' ? 403 : 500;
    return new Response(JSON.stringify({ errors: [{ errorType: 'InvalidSignatureException', message: quoted }] }), {
      status,
      headers: { 'x-amzn-errortype': `InvalidSignatureException:${auth}` },
    });
  };
}

/** A DynamoDB client that fails the commands `fails` picks with a signature-mismatch error quoting the session token. */
function dynamoFailing(fails: (table: string, command: string) => boolean): Pick<DynamoDBClient, 'send'> {
  return {
    send: (async (cmd: { input: { TableName?: string }; constructor: { name: string } }) => {
      if (fails(cmd.input.TableName ?? '', cmd.constructor.name)) throw mismatch();
      return rig.dynamo.send(cmd as never);
    }) as never,
  };
}

function publisher(over: Partial<PublishHandlerDeps> = {}) {
  const h = createPublishHandler({
    settings: rig.settings,
    dynamo: rig.dynamo,
    secrets: keys(),
    eventApiUrl: rig.endpoint.url,
    credentials: CREDS,
    logger: logger(),
    delivery: { budgetMs: 1000, baseDelayMs: 5, maxDelayMs: 20 },
    dedupPollMs: 5,
    ...over,
  });
  return async (event: Parameters<typeof h>[0]) => {
    const r = await h(event);
    answers.push(JSON.stringify(r));
    return r;
  };
}

const post = (body: unknown, key: string | undefined = KEY1, extra: Record<string, string> = {}) =>
  httpEvent({ path: '/publish', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra } });

function expectNoSecrets(alsoSecrets: string[] = []) {
  // Not vacuous: the failing paths did log and did answer.
  expect(lines.length).toBeGreaterThan(0);
  expect(answers.length).toBeGreaterThan(0);
  const all = [...lines, ...answers].join('\n');
  const secrets = [KEY1, KEY2, WRONG, HS_SECRET, SESSION, SECRET_ACCESS_KEY, ...seen, ...alsoSecrets].filter((s) => s.length > 0);
  for (const s of secrets) expect({ secret: s, found: all.includes(s) }).toEqual({ secret: s, found: false });
}

describe('no secret in logs or answers', () => {
  it('publish over HTTP: wrong, missing and malformed keys; a good key with bad bodies', async () => {
    const p = publisher();
    expect(JSON.parse(((await p(post({ channel: 'a', event: 'e' }, WRONG))) as { body: string }).body).error.code).toBe('UNAUTHORIZED');
    await p(post({ channel: 'a', event: 'e' }, undefined, { authorization: `Basic ${KEY1}` }));
    await p(post({ channel: 'a', event: 'e' }, undefined, { authorization: `Bearer ${WRONG} ${KEY2}` }));
    await p(post(`{"channel":"a","event":"e","data":"${KEY2}"`));
    await p(post({ channel: 'a', event: 'e', bogus: KEY2 }));
    await p(post({ channel: 'a', event: 'e', data: 'x'.repeat(40_000) }));
    expect(answers.map((a) => (JSON.parse(a) as { statusCode: number }).statusCode)).toEqual([401, 401, 401, 400, 400, 400]);
    expectNoSecrets();
  });

  it('publish: SSM failing with the key in its error, keys unavailable', async () => {
    const ssm = { send: async () => Promise.reject(Object.assign(new Error(`AccessDenied reading value ${KEY1}`), { name: 'AccessDeniedException' })) };
    const p = publisher({ secrets: ssmSecretSource(ssm as never, { ttlSeconds: 60, logger: logger() }) });
    const r = (await p(post({ channel: 'a', event: 'e' }))) as { statusCode: number };
    expect(r.statusCode).toBe(503);
    // The secret source logged the failed reads (names only), and those lines are searched too.
    expect(lines.filter((l) => l.includes('secret read failed')).length).toBe(2);
    expectNoSecrets();
  });

  it('publish: the Event API refusing, failing, unreachable and refusing per event, quoting the request back', async () => {
    for (const mode of ['echo403', 'echo500', 'throw', 'perEvent'] as const) {
      const r = (await publisher({ fetch: eventApi(mode) })(post({ channel: 'chat/x', event: 'e', deduplicationId: `sec-${mode}`, store: 60 }))) as { statusCode: number; body: string };
      expect([r.statusCode, JSON.parse(r.body).error.code]).toEqual([502, mode === 'echo500' || mode === 'throw' ? 'DELIVERY_FAILED' : 'DELIVERY_REFUSED']);
    }
    expect(seen.size).toBeGreaterThan(0);
    expectNoSecrets();
  });

  it('publish: DynamoDB answering with a signature mismatch on every table, over HTTP and by invoke', async () => {
    const t = rig.settings.tables;
    for (const table of [t.dedup, t.heads, t.messages]) {
      const p = publisher({ dynamo: dynamoFailing((name) => name === table) });
      await p(post({ channel: 'chat/db', event: 'e', deduplicationId: `db-${table}`, store: 60 }));
      await p({ messages: [{ channel: 'chat/db', event: 'e', deduplicationId: `dbi-${table}`, store: 60 }, { channel: 'chat/db2', event: 'e' }] });
    }
    expect(answers.some((a) => a.includes('STORE_FAILED'))).toBe(true);
    expectNoSecrets();
  });

  it('history: forged, expired, garbage and missing-key tokens; DynamoDB failing', async () => {
    const forged = await signToken({ secret: `${HS_SECRET}-not`, kid: 'k1', channels: { '/chat/*': { history: true } }, ttlSeconds: 600 });
    const expired = await signToken({ secret: HS_SECRET, kid: 'k1', channels: { '/chat/*': { history: true } }, ttlSeconds: 60, now: Date.now() - 3_600_000 });
    const good = await signToken({ secret: HS_SECRET, kid: 'k1', channels: { '/chat/*': { history: true } }, ttlSeconds: 600 });
    const ok = createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets: keys(), logger: logger() });
    const noKeys = createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets: staticSecretSource({}), logger: logger() });
    const failingDb = createHistoryHandler({ settings: rig.settings, dynamo: dynamoFailing(() => true), secrets: keys(), logger: logger() });
    const get = (bearer: string) => httpEvent({ method: 'GET', path: '/history', query: { channel: '/chat/h' }, headers: { authorization: `Bearer ${bearer}` } });
    const statuses: number[] = [];
    for (const [h, bearer] of [
      [ok, forged],
      [ok, expired],
      [ok, `${KEY1}.${KEY2}`],
      [noKeys, good],
      [failingDb, good],
    ] as const) {
      const r = (await h(get(bearer))) as { statusCode: number };
      statuses.push(r.statusCode);
      answers.push(JSON.stringify(r));
    }
    answers.push(JSON.stringify(await failingDb({ channel: '/chat/h' })));
    expect(statuses).toEqual([401, 401, 401, 503, 500]);
    expectNoSecrets([forged, expired, good, forged.split('.')[2], good.split('.')[2]]);
  });
});

describe('redactSecrets', () => {
  it('strips bearer values, JWTs, signatures, session tokens and quoted canonical requests, and leaves other text alone', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
    const text = `Bearer ${KEY1}; ${jwt}; Signature=${'ab'.repeat(32)}; X-Amz-Security-Token=${SESSION}&x=1; ${mismatch().message}`;
    const out = redactSecrets(text);
    for (const s of [KEY1, jwt, 'ab'.repeat(32), SESSION, 'host:dynamodb']) expect(out).not.toContain(s);
    expect(out).toContain('The request signature we calculated does not match');
    const plain = 'publish refused: channel /chat/room-1 event e id 01JABCDEFGHJKMNPQRSTVWXYZ0';
    expect(redactSecrets(plain)).toBe(plain);
  });
});
