/**
 * OPENID_CONNECT and AMAZON_COGNITO_USER_POOLS in the emulator: real tokens signed by
 * test key pairs, real ws clients on loopback, the issuer's JWKS given locally (the
 * fetching path is in oidc-jwks-fetch.test.ts).
 */
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { AuthorizerEvent } from '../../functions/core/authorizer-contract';
import type { EventsockConfig } from '../../functions/core/config';
import { Client, headerProtocol, postEvent, publishWs, startApi, subscribe, wsUrl } from './helpers';

const ISSUER = 'https://id.example.test/realm';
const POOL = { userPoolId: 'eu-west-1_TestPool', awsRegion: 'eu-west-1' };
const POOL_ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${POOL.userPoolId}`;

type Key = { privateKey: CryptoKey; jwk: JWK; alg: string; kid: string };

async function makeKey(alg: 'ES256' | 'RS256', kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, alg, kid };
}

const nowSec = () => Math.floor(Date.now() / 1000);

async function sign(key: Key, claims: JWTPayload, o: { kid?: string; exp?: number; iat?: number } = {}): Promise<string> {
  const iat = o.iat ?? nowSec();
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid, typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(o.exp ?? iat + 3600)
    .sign(key.privateKey);
}

async function hs256(claims: JWTPayload): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
}

const WHO = `
export function onPublish(ctx) {
  return ctx.events.map((e) => ({ id: e.id, payload: { ...e.payload, identity: ctx.identity } }));
}
export function onSubscribe(ctx) {}
`;

const tokenAuth = (srv: { httpHost: string }, token: string) => ({ host: srv.httpHost, Authorization: token });

async function tokenClient(srv: { httpHost: string }, token: string): Promise<Client> {
  const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(tokenAuth(srv, token))]);
  c.send({ type: 'connection_init' });
  await c.next((f) => f.type === 'ka' || f.type === 'connection_error');
  return c;
}

describe('event API: OPENID_CONNECT with a local JWKS', () => {
  let es: Key;
  let rs: Key;
  let stranger: Key;
  let srv: Awaited<ReturnType<typeof startApi>>;
  const config: EventsockConfig = {
    auth: { openIdConnect: { issuer: ISSUER, clientId: 'web-app|mobile-[0-9]+', authTtlSeconds: 600, iatTtlSeconds: 1800 } },
    namespaces: { secure: { publishAuthModes: ['AWS_IAM', 'OPENID_CONNECT'], subscribeAuthModes: ['OPENID_CONNECT'] } },
  };
  const good = (extra: JWTPayload = {}) => ({ iss: ISSUER, aud: 'web-app', sub: 'user-1', auth_time: nowSec() - 10, email: 'u1@example.test', ...extra });

  beforeAll(async () => {
    es = await makeKey('ES256', 'es-1');
    rs = await makeKey('RS256', 'rs-1');
    stranger = await makeKey('ES256', 'es-1'); // same kid, other key: the signature must fail
    srv = await startApi({ config, oidcJwks: { keys: [es.jwk, rs.jwk] }, namespaceHandlerCode: WHO });
  });
  afterAll(() => srv.close());

  it('connects, subscribes and receives with ES256 and RS256 tokens; handlers see { sub, issuer, claims }', async () => {
    const token = await sign(es, good());
    const c = await tokenClient(srv, token);
    expect(c.frames.some((f) => f.type === 'connection_ack')).toBe(true);
    expect((await subscribe(c, srv, 's', '/secure/room', tokenAuth(srv, token))).type).toBe('subscribe_success');
    const rsToken = await sign(rs, good({ sub: 'user-2', aud: ['other', 'mobile-42'] }));
    const pub = await publishWs(c, srv, 'p', '/secure/room', ['{"n":1}'], tokenAuth(srv, rsToken));
    expect(pub.type).toBe('publish_success');
    const data = await c.next((f) => f.type === 'data' && f.id === 's');
    const event = JSON.parse(data.event);
    expect(event.n).toBe(1);
    expect(event.identity).toMatchObject({ sub: 'user-2', issuer: ISSUER, claims: { sub: 'user-2', iss: ISSUER, aud: ['other', 'mobile-42'] } });
    // Frames without their own authorization reuse the connect token.
    c.send({ type: 'subscribe', id: 's2', channel: '/secure/other' });
    expect((await c.answer('s2')).type).toBe('subscribe_success');
    c.close();
  });

  it('accepts the token on HTTP POST /event', async () => {
    const res = await postEvent(srv, { channel: '/secure/http', events: ['{"x":1}'] }, { authorization: await sign(es, good()) });
    expect(res.status).toBe(200);
    expect(res.body.successful).toHaveLength(1);
  });

  it('refuses wrong issuer, wrong aud, expired, iatTtl, authTtl, unknown kid, bad signature, HS256 and a Lambda token with UnauthorizedException, logging why', async () => {
    const c = await tokenClient(srv, await sign(es, good()));
    const cases: Array<[string, string, RegExp]> = [
      ['issuer', await sign(es, good({ iss: 'https://evil.example.test' })), /iss is not the configured issuer/],
      ['aud', await sign(es, good({ aud: 'web-app-2' })), /aud does not match/],
      ['noaud', await sign(es, { iss: ISSUER, sub: 'x', auth_time: nowSec() }), /no aud/],
      ['expired', await sign(es, good(), { iat: nowSec() - 120, exp: nowSec() - 60 }), /expired \(exp\)/],
      ['iat', await sign(es, good(), { iat: nowSec() - 3600, exp: nowSec() + 3600 }), /iatTtl/],
      ['authttl', await sign(es, good({ auth_time: nowSec() - 601 })), /authTtl/],
      ['noauthtime', await sign(es, { iss: ISSUER, aud: 'web-app', sub: 'x' }), /no auth_time/],
      ['kid', await sign(es, good(), { kid: 'rotated-away' }), /unknown kid/],
      ['sig', await sign(stranger, good()), /signature does not verify/],
      ['hs256', await hs256(good()), /algorithm is not allowed/],
      // An Eventsock (Lambda authorizer) token: on an OIDC-only namespace it is an OIDC token that fails.
      ['lambda', await hs256({ iss: 'eventsock', sub: 'dev', channels: { '/secure/*': { subscribe: true } } }), /iss is not the configured issuer|algorithm is not allowed/],
    ];
    for (const [id, token, why] of cases) {
      const res = await subscribe(c, srv, id, '/secure/x', tokenAuth(srv, token));
      expect({ id, res }).toMatchObject({ id, res: { type: 'subscribe_error', errors: [{ errorType: 'UnauthorizedException', errorCode: 401 }] } });
      const line = srv.logger.entries.filter((e: any) => e.msg === 'token auth refused').pop() as any;
      expect({ id, reason: line?.reason }).toEqual({ id, reason: expect.stringMatching(why) });
    }
    // Not a JWT: the service hands it to AWS_LAMBDA, which this namespace does not allow.
    const garbage = await subscribe(c, srv, 'garbage', '/secure/x', tokenAuth(srv, 'not-a-jwt'));
    expect(garbage.errors[0]).toMatchObject({ errorType: 'UnauthorizedException', message: expect.stringContaining('AWS_LAMBDA is not an allowed auth mode') });
    // No token (or any part of one) in the logs.
    const logged = JSON.stringify(srv.logger.entries);
    for (const [, token] of cases) if (token.length > 20) expect(logged).not.toContain(token.split('.')[2]);
    c.close();
  });

  it('refuses the connection itself with connection_error for a bad token', async () => {
    const c = await tokenClient(srv, await sign(es, good({ aud: 'nope' })));
    expect(await c.type('connection_error')).toMatchObject({ errors: [{ errorType: 'UnauthorizedException', errorCode: 401 }] });
    await c.waitClosed();
  });
});

describe('event API: AMAZON_COGNITO_USER_POOLS with appIdClientRegex', () => {
  let key: Key;
  let srv: Awaited<ReturnType<typeof startApi>>;
  const config: EventsockConfig = {
    auth: { cognito: { ...POOL, appIdClientRegex: 'client-[a-z]+' } },
    namespaces: { pool: { publishAuthModes: ['AWS_IAM', 'AMAZON_COGNITO_USER_POOLS'], subscribeAuthModes: ['AMAZON_COGNITO_USER_POOLS'] } },
  };
  beforeAll(async () => {
    key = await makeKey('RS256', 'pool-key');
    srv = await startApi({ config, cognitoJwks: { keys: [key.jwk] }, namespaceHandlerCode: WHO });
  });
  afterAll(() => srv.close());

  const idToken = (extra: JWTPayload = {}) =>
    sign(key, { iss: POOL_ISSUER, sub: 'sub-1', aud: 'client-web', token_use: 'id', 'cognito:username': 'alice', 'cognito:groups': ['admins'], ...extra });
  const accessToken = (extra: JWTPayload = {}) => sign(key, { iss: POOL_ISSUER, sub: 'sub-2', client_id: 'client-ios', token_use: 'access', username: 'bob', ...extra });

  it('accepts ID tokens (aud) and access tokens (client_id) whose app client matches; handlers see the user pool identity', async () => {
    const id = await idToken();
    const c = await tokenClient(srv, id);
    expect((await subscribe(c, srv, 's', '/pool/room', tokenAuth(srv, id))).type).toBe('subscribe_success');
    expect((await publishWs(c, srv, 'p1', '/pool/room', ['{"n":1}'], tokenAuth(srv, id))).type).toBe('publish_success');
    expect((await publishWs(c, srv, 'p2', '/pool/room', ['{"n":2}'], tokenAuth(srv, await accessToken()))).type).toBe('publish_success');
    await c.next(() => c.data('s').length === 2);
    const [a, b] = c.data('s').map((f) => JSON.parse(f.event).identity);
    expect(a).toMatchObject({ sub: 'sub-1', issuer: POOL_ISSUER, username: 'alice', groups: ['admins'], defaultAuthStrategy: 'ALLOW', claims: { token_use: 'id' } });
    expect(b).toMatchObject({ sub: 'sub-2', issuer: POOL_ISSUER, username: 'bob', groups: null });
    c.close();
  });

  it('refuses another app client, a whole-string mismatch, no token_use, another pool, ES256 and an expired token', async () => {
    const c = await tokenClient(srv, await idToken());
    const otherPool = await sign(key, { iss: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other', sub: 's', aud: 'client-web', token_use: 'id' });
    const es = await makeKey('ES256', 'pool-key');
    const cases: Array<[string, string, RegExp]> = [
      ['client', await idToken({ aud: 'web-client' }), /appIdClientRegex/],
      ['partial', await idToken({ aud: 'client-web-2' }), /appIdClientRegex/],
      ['access', await accessToken({ client_id: 'CLIENT' }), /client_id\) does not match/],
      ['use', await idToken({ token_use: undefined }), /token_use/],
      ['pool', otherPool, /iss is not the configured issuer/],
      ['es256', await sign(es, { iss: POOL_ISSUER, sub: 's', aud: 'client-web', token_use: 'id' }), /algorithm is not allowed/],
      ['expired', await sign(key, { iss: POOL_ISSUER, sub: 's', aud: 'client-web', token_use: 'id' }, { iat: nowSec() - 7200, exp: nowSec() - 3600 }), /expired/],
    ];
    for (const [id, token, why] of cases) {
      const res = await subscribe(c, srv, id, '/pool/x', tokenAuth(srv, token));
      expect({ id, res }).toMatchObject({ id, res: { type: 'subscribe_error', errors: [{ errorType: 'UnauthorizedException' }] } });
      const line = srv.logger.entries.filter((e: any) => e.msg === 'token auth refused').pop() as any;
      expect({ id, reason: line?.reason, mode: line?.mode }).toEqual({ id, reason: expect.stringMatching(why), mode: 'AMAZON_COGNITO_USER_POOLS' });
    }
    c.close();
  });
});

describe('event API: a namespace allowing AWS_LAMBDA and OPENID_CONNECT routes each token to its mode', () => {
  let key: Key;
  let srv: Awaited<ReturnType<typeof startApi>>;
  const seen: string[] = [];
  const authorizer = async (event: AuthorizerEvent) => {
    seen.push(event.authorizationToken);
    return { isAuthorized: event.authorizationToken === 'lambda-token-ok', handlerContext: { uid: 'lambda-user' } };
  };
  const config: EventsockConfig = {
    auth: { openIdConnect: { issuer: ISSUER } },
    defaultNamespace: 'mixed',
    namespaces: {
      mixed: { publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA', 'OPENID_CONNECT'], subscribeAuthModes: ['AWS_LAMBDA', 'OPENID_CONNECT'] },
      lambdaonly: { publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA'], subscribeAuthModes: ['AWS_LAMBDA'] },
    },
  };
  beforeAll(async () => {
    key = await makeKey('ES256', 'mix');
    srv = await startApi({ config, authorizer, oidcJwks: { keys: [key.jwk] }, namespaceHandlerCode: WHO });
  });
  afterAll(() => srv.close());

  it('sends every JWT to OIDC (the mode on the API) and everything else, an es1. token included, to the authorizer', async () => {
    const oidc = await sign(key, { iss: ISSUER, sub: 'oidc-user' });
    const c = await tokenClient(srv, 'lambda-token-ok');
    expect((await subscribe(c, srv, 's', '/mixed/room', tokenAuth(srv, 'lambda-token-ok'))).type).toBe('subscribe_success');
    expect((await publishWs(c, srv, 'p1', '/mixed/room', ['{"n":1}'], tokenAuth(srv, oidc))).type).toBe('publish_success');
    expect((await publishWs(c, srv, 'p2', '/mixed/room', ['{"n":2}'], tokenAuth(srv, 'lambda-token-ok'))).type).toBe('publish_success');
    await c.next(() => c.data('s').length === 2);
    const ids = c.data('s').map((f) => JSON.parse(f.event).identity);
    expect(ids[0]).toMatchObject({ sub: 'oidc-user', issuer: ISSUER });
    expect(ids[1]).toEqual({ handlerContext: { uid: 'lambda-user' } });
    expect(seen).not.toContain(oidc);

    // A JWT from another issuer is still a JWT: the service checks it as OIDC (and says no); the authorizer never sees it.
    const foreign = await sign(key, { iss: 'https://elsewhere.example.test', sub: 'x' });
    const res = await subscribe(c, srv, 'f', '/mixed/room', tokenAuth(srv, foreign));
    expect(res.errors[0].errorType).toBe('UnauthorizedException');
    expect(seen).not.toContain(foreign);
    // The same JWT behind the es1. prefix is no JWT: it goes to the authorizer.
    await subscribe(c, srv, 'fp', '/mixed/room', tokenAuth(srv, `es1.${foreign}`));
    expect(seen).toContain(`es1.${foreign}`);

    // A valid OIDC token on a Lambda-only namespace is still an OIDC token, which that namespace does not allow.
    const lo = await subscribe(c, srv, 'lo', '/lambdaonly/room', tokenAuth(srv, oidc));
    expect(lo.errors[0]).toMatchObject({ errorType: 'UnauthorizedException', message: expect.stringContaining('OPENID_CONNECT is not an allowed auth mode') });
    expect(seen).not.toContain(oidc);
    c.close();
  });
});
