import suiteJson from './fixtures/sigv4-test-suite.json';

interface Case { name: string; method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: string; authz: string; withSessionToken?: boolean }
const suite = suiteJson as Omit<typeof suiteJson, 'cases'> & { cases: Case[] };
import { createSigner } from '../../client/sigv4';
import { cachedCredentials } from '../../client/credentials';
import { createAuthorizer, iamAuthorization, toSubprotocol, base64UrlEncode } from '../../client/auth';

const date = new Date(suite.signingDate);

describe('SigV4 against the AWS test-suite vectors', () => {
  for (const c of suite.cases) {
    it(c.name, async () => {
      const signer = createSigner({
        region: suite.region,
        service: suite.service,
        credentials: { ...suite.credentials, sessionToken: c.withSessionToken ? suite.sessionToken : undefined },
      });
      const headers = await signer.sign(
        { method: c.method, hostname: 'example.amazonaws.com', path: c.path, query: c.query, headers: { host: 'example.amazonaws.com', ...c.headers }, body: c.body },
        { signingDate: date },
      );
      expect(headers.authorization).toBe(c.authz);
      expect(headers['x-amz-date']).toBe('20150830T123600Z');
      if (c.withSessionToken) expect(headers['x-amz-security-token']).toBe(suite.sessionToken);
      else expect(headers['x-amz-security-token']).toBeUndefined();
    });
  }

  it('a one-character change in the body changes the signature', async () => {
    const signer = createSigner({ region: suite.region, service: suite.service, credentials: suite.credentials });
    const base = { method: 'POST', hostname: 'example.amazonaws.com', path: '/', headers: { host: 'example.amazonaws.com' } };
    const a = await signer.sign({ ...base, body: '{"channel":"/a/b"}' }, { signingDate: date });
    const b = await signer.sign({ ...base, body: '{"channel":"/a/c"}' }, { signingDate: date });
    expect(a.authorization).not.toBe(b.authorization);
  });
});

describe('IAM authorization objects', () => {
  const creds = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret', sessionToken: 'session-tok' };
  it('signs the headers AppSync checks, with host and port as given', async () => {
    const signer = createSigner({ region: 'eu-west-1', credentials: creds });
    const auth = await iamAuthorization(signer, '127.0.0.1:4010', { kind: 'subscribe', channel: '/default/room' }, date);
    expect(Object.keys(auth).sort()).toEqual(['Authorization', 'X-Amz-Security-Token', 'accept', 'content-encoding', 'content-type', 'host', 'x-amz-date'].sort());
    expect(auth.host).toBe('127.0.0.1:4010');
    expect(auth['content-encoding']).toBe('amz-1.0');
    expect(auth['content-type']).toBe('application/json; charset=UTF-8');
    expect(auth.Authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/20150830\/eu-west-1\/appsync\/aws4_request, SignedHeaders=accept;content-encoding;content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
  });

  it('connect, subscribe and publish sign different bodies', async () => {
    const signer = createSigner({ region: 'eu-west-1', credentials: creds });
    const sig = async (op: Parameters<typeof iamAuthorization>[2]) => (await iamAuthorization(signer, 'h.example', op, date)).Authorization;
    const all = new Set([
      await sig({ kind: 'connect' }),
      await sig({ kind: 'subscribe', channel: '/default/a' }),
      await sig({ kind: 'subscribe', channel: '/default/b' }),
      await sig({ kind: 'publish', channel: '/default/a', events: ['{"event":"x"}'] }),
    ]);
    expect(all.size).toBe(4);
  });

  it('takes the region from an AppSync endpoint and refuses IAM without one', () => {
    expect(() => createAuthorizer({ type: 'iam', credentials: creds }, '127.0.0.1:1')).toThrow(expect.objectContaining({ code: 'INVALID_AUTH', field: 'auth.region' }));
    expect(createAuthorizer({ type: 'iam', credentials: creds }, 'h', { region: 'us-east-1' }).type).toBe('iam');
  });
});

describe('credentials from a provider', () => {
  it('are cached, refreshed before expiry, and fetched once by concurrent callers', async () => {
    let now = 1_000_000;
    let calls = 0;
    const provider = cachedCredentials(
      async () => {
        calls++;
        return { accessKeyId: `AKID${calls}`, secretAccessKey: 's', expiration: new Date(now + 10 * 60_000) };
      },
      { refreshBeforeMs: 60_000, now: () => now },
    );
    const [a, b] = await Promise.all([provider(), provider()]);
    expect(calls).toBe(1);
    expect(a.accessKeyId).toBe('AKID1');
    expect(b.accessKeyId).toBe('AKID1');
    now += 8 * 60_000; // 2 minutes left: still fresh
    expect((await provider()).accessKeyId).toBe('AKID1');
    now += 61_000; // within a minute of expiry: refresh
    expect((await provider()).accessKeyId).toBe('AKID2');
  });

  it('a failing provider gives INVALID_AUTH and the next call retries', async () => {
    let fail = true;
    const provider = cachedCredentials(async () => {
      if (fail) throw new Error('sts down');
      return { accessKeyId: 'AKID', secretAccessKey: 's' };
    });
    await expect(provider()).rejects.toMatchObject({ code: 'INVALID_AUTH', field: 'auth.credentials' });
    fail = false;
    await expect(provider()).resolves.toMatchObject({ accessKeyId: 'AKID' });
  });

  it('a refresh that fails before expiry keeps the current credentials; after expiry it is an error', async () => {
    let now = 1_000_000;
    let fail = false;
    const provider = cachedCredentials(
      async () => {
        if (fail) throw new Error('sts down');
        return { accessKeyId: 'AKID1', secretAccessKey: 's', expiration: new Date(now + 10 * 60_000) };
      },
      { refreshBeforeMs: 5 * 60_000, now: () => now },
    );
    expect((await provider()).accessKeyId).toBe('AKID1');
    fail = true;
    now += 6 * 60_000; // in the refresh window, 4 minutes left
    expect((await provider()).accessKeyId).toBe('AKID1');
    now += 4 * 60_000; // expired
    await expect(provider()).rejects.toMatchObject({ code: 'INVALID_AUTH', field: 'auth.credentials' });
  });

  it('malformed credentials are refused naming the field', async () => {
    await expect(Promise.resolve().then(() => cachedCredentials(async () => ({ accessKeyId: '', secretAccessKey: 'x' }))())).rejects.toMatchObject({ code: 'INVALID_AUTH' });
    expect(() => cachedCredentials({ accessKeyId: 'a', secretAccessKey: 'b', expiration: new Date('nope') })).toThrow(/expiration/);
  });
});

describe('other auth modes and the subprotocol', () => {
  it('api key and token objects carry host', async () => {
    expect(await createAuthorizer({ type: 'apiKey', apiKey: 'da2-key' }, 'h:1').authorize({ kind: 'connect' })).toEqual({ host: 'h:1', 'x-api-key': 'da2-key' });
    let n = 0;
    const a = createAuthorizer({ type: 'token', token: () => `tok-${++n}` }, 'h:1');
    expect(await a.authorize({ kind: 'connect' })).toEqual({ host: 'h:1', Authorization: 'tok-1' });
    expect(await a.authorize({ kind: 'subscribe', channel: '/x/y' })).toEqual({ host: 'h:1', Authorization: 'tok-2' });
  });

  it('a token callback that fails or returns nothing is a clear INVALID_AUTH', async () => {
    await expect(createAuthorizer({ type: 'token', token: () => '' }, 'h').authorize({ kind: 'connect' })).rejects.toMatchObject({ code: 'INVALID_AUTH', field: 'auth.token' });
    await expect(createAuthorizer({ type: 'token', token: async () => { throw new Error('backend 500'); } }, 'h').authorize({ kind: 'connect' })).rejects.toThrow(/backend 500/);
    expect(() => createAuthorizer({ type: 'nope' } as never, 'h')).toThrow(/auth.type/);
  });

  it('header-<base64url> decodes back to the JSON, with no padding', () => {
    const obj = { host: 'h.example:443', Authorization: 'ü+/?token' };
    const p = toSubprotocol(obj);
    expect(p).toMatch(/^header-[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(p.slice('header-'.length), 'base64url').toString('utf8'))).toEqual(obj);
    expect(base64UrlEncode('a')).toBe('YQ');
  });
});
