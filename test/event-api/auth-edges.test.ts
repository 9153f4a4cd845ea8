/**
 * Authorization edge cases: the Lambda authorizer cache honours ttlOverride exactly
 * (from the answer, clamped to AppSync's 3600 s, never for a negative value), and
 * SigV4 over POST /event covers the request as sent, query string included.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import type { AuthorizerEvent, AuthorizerResult } from '../../functions/core/authorizer-contract';
import { memoryLogger } from '../../functions/shared/log';
import { NOW_MS, secrets, settingsFor, sign } from '../tokens/fixtures';
import { Client, headerProtocol, postEvent, startApi, subscribe, wsUrl } from './helpers';

describe('event API: Lambda authorizer cache', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  let calls: AuthorizerEvent[];
  let clock: number;
  let answer: (e: AuthorizerEvent) => AuthorizerResult;
  let authorizerTakesMs = 0;

  beforeAll(async () => {
    clock = Date.UTC(2026, 0, 1);
    srv = await startApi({
      config: { namespaces: { default: { clientPublish: true, publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA'], subscribeAuthModes: ['AWS_LAMBDA'] } } },
      now: () => clock,
      authorizer: async (e) => {
        calls.push(e);
        // The clock moves while the authorizer works (a slow Lambda).
        clock += authorizerTakesMs;
        return answer(e);
      },
    });
  });
  beforeEach(() => {
    calls = [];
    authorizerTakesMs = 0;
    answer = () => ({ isAuthorized: true, ttlOverride: 0 });
  });
  afterAll(() => srv.close());

  const auth = (token: string) => ({ host: srv.httpHost, Authorization: token });
  const client = (token: string) => Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(auth(token))]);
  const subscribes = (channel: string) => calls.filter((e) => e.requestContext.operation === 'EVENT_SUBSCRIBE' && e.requestContext.channel === channel).length;

  it('counts ttlOverride from the answer, not from the question (a slow authorizer does not shorten it)', async () => {
    const c = await client('slow');
    answer = () => ({ isAuthorized: true, ttlOverride: 60 });
    authorizerTakesMs = 10_000;
    await subscribe(c, srv, 'a', '/default/slow', auth('slow'));
    authorizerTakesMs = 0;
    clock += 55_000; // 65 s after the question, 55 s after the answer
    await subscribe(c, srv, 'b', '/default/slow', auth('slow'));
    expect(subscribes('/default/slow')).toBe(1);
    clock += 6_000;
    await subscribe(c, srv, 'c', '/default/slow', auth('slow'));
    expect(subscribes('/default/slow')).toBe(2);
    c.close();
  });

  it('clamps ttlOverride to 3600 s and never caches a negative one', async () => {
    const c = await client('clamp');
    answer = () => ({ isAuthorized: true, ttlOverride: 86_400 });
    await subscribe(c, srv, 'a', '/default/clamp', auth('clamp'));
    clock += 3_599_000;
    await subscribe(c, srv, 'b', '/default/clamp', auth('clamp'));
    expect(subscribes('/default/clamp')).toBe(1);
    clock += 2_000;
    await subscribe(c, srv, 'c', '/default/clamp', auth('clamp'));
    expect(subscribes('/default/clamp')).toBe(2);

    answer = () => ({ isAuthorized: true, ttlOverride: -5 });
    await subscribe(c, srv, 'd', '/default/neg', auth('clamp'));
    await subscribe(c, srv, 'e', '/default/neg', auth('clamp'));
    expect(subscribes('/default/neg')).toBe(2);
    c.close();
  });

  it('replays a cached denial for its ttl, for the same question only', async () => {
    const c = await client('deny-later');
    answer = () => ({ isAuthorized: false, ttlOverride: 30 });
    expect((await subscribe(c, srv, 'a', '/default/deny', auth('deny-later'))).type).toBe('subscribe_error');
    answer = () => ({ isAuthorized: true, ttlOverride: 0 });
    expect((await subscribe(c, srv, 'b', '/default/deny', auth('deny-later'))).type).toBe('subscribe_error');
    expect(subscribes('/default/deny')).toBe(1);
    expect((await subscribe(c, srv, 'c', '/default/other', auth('deny-later'))).type).toBe('subscribe_success');
    clock += 31_000;
    expect((await subscribe(c, srv, 'd', '/default/deny', auth('deny-later'))).type).toBe('subscribe_success');
    c.close();
  });
});

describe('event API: SigV4 over POST /event', () => {
  const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({
      config: { namespaces: { default: { publishAuthModes: ['AWS_IAM'], subscribeAuthModes: ['AWS_IAM'] } } },
      iamCredentials: [CREDS],
    });
  });
  afterAll(() => srv.close());

  async function signed(path: string, query: Record<string, string>, body: string, date = new Date()): Promise<Record<string, string>> {
    const [hostname, port] = srv.httpHost.split(':');
    const signer = new SignatureV4({ service: 'appsync', region: 'us-east-1', credentials: CREDS, sha256: Sha256 });
    const req = {
      method: 'POST',
      protocol: 'http:',
      hostname,
      port: Number(port),
      path,
      query,
      headers: { host: srv.httpHost, 'content-type': 'application/json' },
      body,
    } as unknown as HttpRequest;
    const out = await signer.sign(req, { signingDate: date });
    const { host: _h, ...headers } = out.headers as Record<string, string>;
    return headers;
  }

  it('verifies a signature that covers a query string', async () => {
    const body = JSON.stringify({ channel: '/default/q', events: ['1'] });
    const headers = await signed('/event', { client: 'x y' }, body);
    const res = await fetch(`${srv.url}/event?client=x%20y`, { method: 'POST', headers, body });
    expect(res.status).toBe(200);
    const tampered = await fetch(`${srv.url}/event?client=z`, { method: 'POST', headers, body });
    expect(tampered.status).toBe(401);
  });

  it('accepts a date 4 minutes old and refuses one 6 minutes old or ahead', async () => {
    const body = JSON.stringify({ channel: '/default/d', events: ['1'] });
    expect((await postEvent(srv, body, await signed('/event', {}, body, new Date(Date.now() - 4 * 60_000)))).status).toBe(200);
    expect((await postEvent(srv, body, await signed('/event', {}, body, new Date(Date.now() - 6 * 60_000)))).status).toBe(401);
    expect((await postEvent(srv, body, await signed('/event', {}, body, new Date(Date.now() + 6 * 60_000)))).status).toBe(401);
  });
});

describe('event API: the real authorizer under a token-only cache key (the worst case cache-policy.ts plans for)', () => {
  const config = { defaultNamespace: 'chat', namespaces: { chat: { clientPublish: true }, game: { clientPublish: true } } };
  let srv: Awaited<ReturnType<typeof startApi>>;
  let calls: AuthorizerEvent[];
  beforeAll(async () => {
    const real = createAuthorizerHandler({ settings: settingsFor(config), secrets: secrets(), logger: memoryLogger(), now: () => NOW_MS });
    srv = await startApi({
      config,
      now: () => NOW_MS,
      authorizerCacheKey: 'token',
      authorizer: (e) => {
        calls.push(e);
        return real(e);
      },
    });
  });
  beforeEach(() => {
    calls = [];
  });
  afterAll(() => srv.close());

  const open = (token: string) => Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, Authorization: token })]);

  it('never lets a scoped token reach a channel outside its grant through a replayed answer', async () => {
    const token = await sign({ channels: { '/chat/room-1': { subscribe: true, publish: true } } });
    const c = await open(token);
    const auth = { host: srv.httpHost, Authorization: token };
    expect((await subscribe(c, srv, 'in', '/chat/room-1', auth)).type).toBe('subscribe_success');
    expect((await subscribe(c, srv, 'out', '/chat/room-2', auth)).errors[0].errorType).toBe('UnauthorizedException');
    expect((await subscribe(c, srv, 'wild', '/chat/*', auth)).errors[0].errorType).toBe('UnauthorizedException');
    expect((await subscribe(c, srv, 'game', '/game/x', auth)).errors[0].errorType).toBe('UnauthorizedException');
    // Every question reached the authorizer: nothing was cached for this token.
    expect(calls.map((e) => e.requestContext.operation)).toEqual(['EVENT_CONNECT', 'EVENT_SUBSCRIBE', 'EVENT_SUBSCRIBE', 'EVENT_SUBSCRIBE', 'EVENT_SUBSCRIBE']);
    c.close();
  });

  it('caches the answer of a token allowed everything everywhere, and replays it for every question', async () => {
    const token = await sign({ channels: { '/*': { subscribe: true, publish: true } }, ttlSeconds: 7200 });
    const c = await open(token);
    const auth = { host: srv.httpHost, Authorization: token };
    expect((await subscribe(c, srv, 'a', '/chat/a', auth)).type).toBe('subscribe_success');
    expect((await subscribe(c, srv, 'b', '/game/*', auth)).type).toBe('subscribe_success');
    expect(calls).toHaveLength(1);
    c.close();
  });
});

describe('event API: authorizerCacheKey token', () => {
  it('replays one answer for every question asked with the token while its ttl lasts', async () => {
    const calls: AuthorizerEvent[] = [];
    const srv = await startApi({
      config: { namespaces: { default: { clientPublish: true, publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA'], subscribeAuthModes: ['AWS_LAMBDA'] } } },
      authorizerCacheKey: 'token',
      // An authorizer that (wrongly) caches an answer only right for /default/a.
      authorizer: async (e) => (calls.push(e), { isAuthorized: e.requestContext.operation === 'EVENT_CONNECT' || e.requestContext.channel === '/default/a', ttlOverride: 60 }),
    });
    try {
      const auth = { host: srv.httpHost, Authorization: 'tok' };
      const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(auth)]);
      expect((await subscribe(c, srv, 'a', '/default/a', auth)).type).toBe('subscribe_success');
      expect((await subscribe(c, srv, 'b', '/default/b', auth)).type).toBe('subscribe_success');
      expect(calls).toHaveLength(1);
      c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('event API: a slow authorizer holds only its own connection', () => {
  it('answers another connection while one subscribe waits on the authorizer, then answers the waiting one in order', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const srv = await startApi({
      config: { namespaces: { default: { clientPublish: true, publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA'], subscribeAuthModes: ['AWS_LAMBDA'] } } },
      authorizer: async (e) => {
        if (e.authorizationToken === 'slow' && e.requestContext.operation === 'EVENT_SUBSCRIBE') await gate;
        return { isAuthorized: true, ttlOverride: 0 };
      },
    });
    try {
      const slowAuth = { host: srv.httpHost, Authorization: 'slow' };
      const fastAuth = { host: srv.httpHost, Authorization: 'fast' };
      const a = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(slowAuth)]);
      const b = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(fastAuth)]);
      a.send({ type: 'subscribe', id: 'held', channel: '/default/x', authorization: slowAuth });
      a.send({ type: 'unsubscribe', id: 'held' });
      expect((await subscribe(b, srv, 'b', '/default/x', fastAuth)).type).toBe('subscribe_success');
      b.send({ type: 'publish', id: 'pb', channel: '/default/x', events: ['1'], authorization: fastAuth });
      await b.next((f) => f.type === 'data' && f.id === 'b');
      expect(a.frames.filter((f) => f.id === 'held')).toEqual([]);
      release();
      await a.next(() => a.frames.filter((f) => f.id === 'held').length === 2);
      expect(a.frames.filter((f) => f.id === 'held').map((f) => f.type)).toEqual(['subscribe_success', 'unsubscribe_success']);
      a.close();
      b.close();
    } finally {
      release();
      await srv.close();
    }
  });
});
