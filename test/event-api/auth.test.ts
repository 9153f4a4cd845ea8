import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import type { AuthorizerEvent, AuthorizerResult } from '../../functions/core/authorizer-contract';
import { eventRequest, type SignedOperation } from '../../functions/core/event-request';
import { API_KEY, Client, headerProtocol, postEvent, publishWs, startApi, subscribe, wsUrl } from './helpers';

const CREDS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };
const REGION = 'eu-west-1';
const TEMP = { accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'session-token-1' };

async function sigv4(
  host: string,
  op: SignedOperation,
  o: { secret?: string; date?: Date; region?: string; accessKeyId?: string; sessionToken?: string } = {},
): Promise<Record<string, string>> {
  const req = eventRequest(host, op);
  const signer = new SignatureV4({
    service: 'appsync',
    region: o.region ?? REGION,
    credentials: { accessKeyId: o.accessKeyId ?? CREDS.accessKeyId, secretAccessKey: o.secret ?? CREDS.secretAccessKey, sessionToken: o.sessionToken },
    sha256: Sha256,
  });
  const signed = await signer.sign({ ...req, query: {} } as unknown as HttpRequest, { signingDate: o.date ?? new Date() });
  return signed.headers as Record<string, string>;
}

const IAM_CONFIG = {
  auth: { apiKey: {} },
  namespaces: { default: { publishAuthModes: ['AWS_IAM' as const], subscribeAuthModes: ['AWS_IAM' as const, 'API_KEY' as const] } },
};

describe('event API: AWS_IAM with real SigV4', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ config: IAM_CONFIG, region: REGION, iamCredentials: [CREDS, TEMP] });
  });
  afterAll(() => srv.close());

  async function iamClient(): Promise<Client> {
    const auth = await sigv4(srv.httpHost, { kind: 'connect' });
    const c = await Client.open(wsUrl(srv), [headerProtocol(auth), 'aws-appsync-event-ws']);
    c.send({ type: 'connection_init' });
    await c.type('ka');
    return c;
  }

  it('connects, subscribes and publishes with signatures over the rebuilt requests', async () => {
    const c = await iamClient();
    const sub = await subscribe(c, srv, 's', '/default/iam', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/iam' }));
    expect(sub.type).toBe('subscribe_success');
    const events = ['{"n":1}'];
    const pub = await publishWs(c, srv, 'p', '/default/iam', events, await sigv4(srv.httpHost, { kind: 'publish', channel: '/default/iam', events }));
    expect(pub.type).toBe('publish_success');
    await c.next((f) => f.type === 'data' && f.id === 's');
    c.close();
  });

  it('accepts a signature whose host has no port (several clients sign the bare hostname)', async () => {
    const c = await iamClient();
    const bare = srv.httpHost.split(':')[0];
    const res = await subscribe(c, srv, 'bare', 'default/iam', await sigv4(bare, { kind: 'subscribe', channel: 'default/iam' }));
    expect(res.type).toBe('subscribe_success');
    c.close();
  });

  it('refuses a wrong secret, a stale date, another region and an altered body with UnauthorizedException', async () => {
    const c = await iamClient();
    const cases: Array<[string, Record<string, string>]> = [
      ['wrong', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/x' }, { secret: 'nope' })],
      ['stale', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/x' }, { date: new Date(Date.now() - 10 * 60_000) })],
      ['region', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/x' }, { region: 'us-east-1' })],
      // signed for another channel: the body AppSync rebuilds differs
      ['altered', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/y' })],
    ];
    for (const [id, auth] of cases) {
      const res = await subscribe(c, srv, id, '/default/x', auth);
      expect(res).toMatchObject({ type: 'subscribe_error', id, errors: [{ errorType: 'UnauthorizedException' }] });
    }
    const signedFor = ['{"a":1}'];
    const pub = await publishWs(c, srv, 'pa', '/default/x', ['{"a":2}'], await sigv4(srv.httpHost, { kind: 'publish', channel: '/default/x', events: signedFor }));
    expect(pub).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'UnauthorizedException' }] });
    expect(JSON.stringify(srv.logger.entries)).not.toContain(CREDS.secretAccessKey);
    c.close();
  });

  it('accepts a connect signed into plain upgrade headers (Swift/Kotlin SDKs), Host being the signed host', async () => {
    const { host: _h, ...headers } = await sigv4(srv.httpHost, { kind: 'connect' });
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws'], { headers });
    const res = await subscribe(c, srv, 'plain', '/default/iam', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/iam' }));
    expect(res.type).toBe('subscribe_success');
    c.close();
    const { host: _h2, ...bad } = await sigv4(srv.httpHost, { kind: 'connect' }, { secret: 'nope' });
    const refused = await Client.open(wsUrl(srv), ['aws-appsync-event-ws'], { headers: bad });
    expect((await refused.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
  });

  it('accepts temporary credentials only with their own session token', async () => {
    const c = await iamClient();
    const temp = { accessKeyId: TEMP.accessKeyId, secret: TEMP.secretAccessKey };
    const ok = await subscribe(c, srv, 't1', '/default/t', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/t' }, { ...temp, sessionToken: TEMP.sessionToken }));
    expect(ok.type).toBe('subscribe_success');
    const other = await subscribe(c, srv, 't2', '/default/t', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/t' }, { ...temp, sessionToken: 'another' }));
    expect(other.errors[0].errorType).toBe('UnauthorizedException');
    const none = await subscribe(c, srv, 't3', '/default/t', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/t' }, temp));
    expect(none.errors[0].errorType).toBe('UnauthorizedException');
    expect(JSON.stringify(srv.logger.entries)).not.toContain(TEMP.sessionToken);
    c.close();
  });

  it('refuses a connect signed with an unknown key', async () => {
    const auth = await sigv4(srv.httpHost, { kind: 'connect' }, { secret: 'nope' });
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(auth)]);
    expect((await c.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
    await c.waitClosed();
  });

  it('HTTP POST /event verifies the signature over the request as sent', async () => {
    const c = await iamClient();
    await subscribe(c, srv, 'h', '/default/http', await sigv4(srv.httpHost, { kind: 'subscribe', channel: '/default/http' }));
    const body = { channel: '/default/http', events: ['{"ok":true}'] };
    const headers = await sigv4(srv.httpHost, { kind: 'publish', channel: body.channel, events: body.events });
    const { host: _h, ...sendHeaders } = headers; // fetch sets Host itself, to the same value
    const ok = await postEvent(srv, JSON.stringify(body), sendHeaders);
    expect(ok.status).toBe(200);
    await c.next((f) => f.type === 'data' && f.id === 'h');

    const altered = await postEvent(srv, JSON.stringify({ ...body, events: ['{"ok":false}'] }), sendHeaders);
    expect(altered.status).toBe(401);
    expect(altered.headers.get('x-amzn-errortype')).toBe('UnauthorizedException');
    expect(altered.body.errors[0].errorType).toBe('UnauthorizedException');
    expect(typeof altered.body.message).toBe('string');
    c.close();
  });

  it('refuses an API key where the namespace only allows IAM to publish', async () => {
    const res = await postEvent(srv, { channel: '/default/x', events: ['1'] }, { 'x-api-key': API_KEY });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/API_KEY is not an allowed auth mode/);
  });
});

describe('event API: AWS_LAMBDA with the authorizer called in-process', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  let calls: AuthorizerEvent[];
  let clock: number;
  let answer: (e: AuthorizerEvent) => AuthorizerResult;

  beforeAll(async () => {
    clock = Date.now();
    srv = await startApi({
      config: {
        authorizerResultTtlSeconds: 30,
        namespaces: { default: { clientPublish: true, publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA'], subscribeAuthModes: ['AWS_LAMBDA'] } },
      },
      now: () => clock,
      authorizerTimeoutMs: 100,
      authorizer: async (e) => {
        calls.push(e);
        if (e.authorizationToken === 'throws') throw new Error('boom');
        if (e.authorizationToken === 'hangs') return new Promise<AuthorizerResult>(() => undefined);
        return answer(e);
      },
    });
  });
  beforeEach(() => {
    calls = [];
    answer = (e) => ({ isAuthorized: e.authorizationToken.startsWith('good'), ttlOverride: 0, handlerContext: { uid: 'u1' } });
  });
  afterAll(() => srv.close());

  const tokenClient = async (token: string) => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, Authorization: token })]);
    return c;
  };
  const auth = (token: string) => ({ host: srv.httpHost, Authorization: token });

  it('passes operation, namespace and channel as sent in requestContext', async () => {
    const c = await tokenClient('good-1');
    expect(await subscribe(c, srv, 's', 'default/room/1', auth('good-1'))).toEqual({ type: 'subscribe_success', id: 's' });
    expect(calls.map((e) => e.requestContext.operation)).toEqual(['EVENT_CONNECT', 'EVENT_SUBSCRIBE']);
    expect(calls[0].requestContext.channel).toBeUndefined();
    expect(calls[1].requestContext).toMatchObject({ channelNamespaceName: 'default', channel: 'default/room/1', apiId: 'local' });
    expect(calls[1].authorizationToken).toBe('good-1');
    await publishWs(c, srv, 'p', '/default/room/1', ['1'], auth('good-1'));
    expect(calls[2].requestContext.operation).toBe('EVENT_PUBLISH');
    c.close();
  });

  it('refuses a denied token at connect, subscribe and publish', async () => {
    const refused = await tokenClient('bad');
    expect((await refused.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
    const c = await tokenClient('good-2');
    expect((await subscribe(c, srv, 's', '/default/a', auth('bad'))).errors[0].errorType).toBe('UnauthorizedException');
    expect((await publishWs(c, srv, 'p', '/default/a', ['1'], auth('bad'))).errors[0].errorType).toBe('UnauthorizedException');
    expect((await subscribe(c, srv, 't', '/default/a', auth('throws'))).errors[0].errorType).toBe('UnauthorizedException');
    // An authorizer that never answers is a denial after authorizerTimeoutMs, and the connection carries on.
    expect((await subscribe(c, srv, 'h', '/default/a', auth('hangs'))).errors[0].errorType).toBe('UnauthorizedException');
    expect((await subscribe(c, srv, 'g', '/default/a', auth('good-2'))).type).toBe('subscribe_success');
    c.close();
  });

  it('caches an answer for ttlOverride only for the same token, operation and channel', async () => {
    answer = () => ({ isAuthorized: true, ttlOverride: 60 });
    const c = await tokenClient('good-cache');
    await subscribe(c, srv, 'a1', '/default/a', auth('good-cache'));
    await subscribe(c, srv, 'a2', '/default/a', auth('good-cache'));
    expect(calls.filter((e) => e.requestContext.operation === 'EVENT_SUBSCRIBE')).toHaveLength(1);

    // A cached yes for /default/a is never a yes for /default/b or for publishing.
    answer = (e) => ({ isAuthorized: e.requestContext.channel === '/default/a', ttlOverride: 60 });
    expect((await subscribe(c, srv, 'b', '/default/b', auth('good-cache'))).type).toBe('subscribe_error');
    expect((await publishWs(c, srv, 'p', '/default/a', ['1'], auth('good-cache'))).type).toBe('publish_success');
    expect(calls.filter((e) => e.requestContext.operation !== 'EVENT_CONNECT')).toHaveLength(3);

    clock += 61_000; // past the ttl: asked again
    await subscribe(c, srv, 'a3', '/default/a', auth('good-cache'));
    expect(calls.filter((e) => e.requestContext.operation === 'EVENT_SUBSCRIBE')).toHaveLength(3);
    c.close();
  });

  it('uses the API-level authorizerResultTtlSeconds when there is no ttlOverride, and never caches ttlOverride 0', async () => {
    answer = () => ({ isAuthorized: true });
    const c = await tokenClient('good-default-ttl');
    await subscribe(c, srv, 'd1', '/default/d', auth('good-default-ttl'));
    clock += 29_000;
    await subscribe(c, srv, 'd2', '/default/d', auth('good-default-ttl'));
    expect(calls.filter((e) => e.requestContext.channel === '/default/d')).toHaveLength(1);
    clock += 2_000;
    await subscribe(c, srv, 'd3', '/default/d', auth('good-default-ttl'));
    expect(calls.filter((e) => e.requestContext.channel === '/default/d')).toHaveLength(2);

    answer = () => ({ isAuthorized: true, ttlOverride: 0 });
    await subscribe(c, srv, 'z1', '/default/z', auth('good-default-ttl'));
    await subscribe(c, srv, 'z2', '/default/z', auth('good-default-ttl'));
    expect(calls.filter((e) => e.requestContext.channel === '/default/z')).toHaveLength(2);
    c.close();
  });

  it('falls back on the connect authorization when a frame carries none', async () => {
    const c = await tokenClient('good-fallback');
    c.send({ type: 'subscribe', id: 'nf', channel: '/default/f' });
    expect((await c.answer('nf')).type).toBe('subscribe_success');
    expect(calls.at(-1)!.authorizationToken).toBe('good-fallback');
    c.close();
  });

  it('authorizes an HTTP publish with the token in the Authorization header (EVENT_PUBLISH, headers without credentials)', async () => {
    const ok = await postEvent(srv, { channel: '/default/http', events: ['1'] }, { Authorization: 'good-http' });
    expect(ok.status).toBe(200);
    const call = calls.find((e) => e.requestContext.operation === 'EVENT_PUBLISH')!;
    expect(call.requestContext).toMatchObject({ channel: '/default/http', channelNamespaceName: 'default' });
    expect(call.requestHeaders.authorization).toBeUndefined();
    const denied = await postEvent(srv, { channel: '/default/http', events: ['1'] }, { Authorization: 'bad-http' });
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ errors: [{ errorType: 'UnauthorizedException', errorCode: 401, message: 'You are not authorized to make this call.' }], message: 'You are not authorized to make this call.' });
  });

  it('never logs the token', async () => {
    const c = await tokenClient('good-secret-token-value');
    await subscribe(c, srv, 'x', '/default/x', auth('good-secret-token-value'));
    c.close();
    expect(JSON.stringify(srv.logger.entries)).not.toContain('good-secret-token-value');
  });
});
