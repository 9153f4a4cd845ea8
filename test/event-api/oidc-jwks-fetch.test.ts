/**
 * OPENID_CONNECT without a local JWKS: OIDC discovery and the jwks_uri fetched from a
 * loopback HTTPS issuer (a generated certificate, trusted through the dev server's
 * trustingFetch), key rotation, and an unreachable or inconsistent issuer. Cognito's
 * jwks.json URL is on AWS: its fetch is answered at that boundary.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { EventsockConfig } from '../../functions/core/config';
import { trustingFetch } from '../../local/dev-server';
import { generateLocalCertificate } from '../../local/tls';
import { Client, headerProtocol, startApi, subscribe, wsUrl } from './helpers';

type Key = { privateKey: CryptoKey; jwk: JWK; kid: string };

async function makeKey(kid: string, alg: 'ES256' | 'RS256' = 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, kid };
}

function sign(key: Key, claims: JWTPayload): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.jwk.alg as string, kid: key.kid })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key.privateKey);
}

const auth = (srv: { httpHost: string }, token: string) => ({ host: srv.httpHost, Authorization: token });

describe('event API: OIDC keys fetched through discovery from a loopback HTTPS issuer', () => {
  let issuerServer: Server;
  let issuer: string;
  let cert: string;
  const hits: string[] = [];
  let jwks: JWK[] = [];
  let discovery: (() => { status: number; body: unknown }) | undefined;
  let k1: Key;
  let k2: Key;

  beforeAll(async () => {
    const tls = await generateLocalCertificate(1);
    cert = tls.cert;
    issuerServer = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      hits.push(req.url ?? '');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/realm/.well-known/openid-configuration') {
        const d = discovery?.() ?? { status: 200, body: { issuer, jwks_uri: `${issuer}/protocol/certs` } };
        return send(d.status, d.body);
      }
      if (req.url === '/realm/protocol/certs') return send(200, { keys: jwks });
      send(404, {});
    });
    await new Promise<void>((ok) => issuerServer.listen(0, '127.0.0.1', ok));
    issuer = `https://127.0.0.1:${(issuerServer.address() as AddressInfo).port}/realm`;
    k1 = await makeKey('k1');
    k2 = await makeKey('k2', 'RS256');
  });
  afterAll(() => new Promise<void>((ok) => issuerServer.close(() => ok())));

  async function start(cooldownMs: number) {
    const config: EventsockConfig = {
      auth: { openIdConnect: { issuer } },
      namespaces: { secure: { publishAuthModes: ['AWS_IAM', 'OPENID_CONNECT'], subscribeAuthModes: ['OPENID_CONNECT'] } },
    };
    return startApi({ config, jwksFetch: trustingFetch(cert), jwksCooldownMs: cooldownMs });
  }

  async function connect(srv: { httpHost: string }, token: string): Promise<Client> {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(auth(srv, token))]);
    c.send({ type: 'connection_init' });
    await c.next((f) => f.type === 'ka' || f.type === 'connection_error');
    return c;
  }

  it('discovers the jwks_uri once, verifies, and picks up a rotated key when a new kid appears', async () => {
    hits.length = 0;
    jwks = [k1.jwk];
    discovery = undefined;
    const srv = await start(0);
    try {
      const t1 = await sign(k1, { iss: issuer, sub: 'u1' });
      const c = await connect(srv, t1);
      expect(c.frames.some((f) => f.type === 'connection_ack')).toBe(true);
      expect((await subscribe(c, srv, 'a', '/secure/a', auth(srv, t1))).type).toBe('subscribe_success');
      expect(hits).toEqual(['/realm/.well-known/openid-configuration', '/realm/protocol/certs']);

      // The issuer rotates: k2 is published, k1 withdrawn. A k2 token makes the set be fetched again.
      jwks = [k2.jwk];
      const t2 = await sign(k2, { iss: issuer, sub: 'u2' });
      expect((await subscribe(c, srv, 'b', '/secure/b', auth(srv, t2))).type).toBe('subscribe_success');
      expect(hits.filter((h) => h.endsWith('/certs'))).toHaveLength(2);
      expect(hits.filter((h) => h.includes('openid-configuration'))).toHaveLength(1);

      // A kid the issuer never published is refused after one more look at the set.
      const stray = await sign(await makeKey('k9'), { iss: issuer, sub: 'u9' });
      expect((await subscribe(c, srv, 'c', '/secure/c', auth(srv, stray))).errors[0].errorType).toBe('UnauthorizedException');
      const line = srv.logger.entries.filter((e: any) => e.msg === 'token auth refused').pop() as any;
      expect(line.reason).toMatch(/unknown kid/);
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('within the cooldown a new kid is refused without refetching (jose caches the set)', async () => {
    hits.length = 0;
    jwks = [k1.jwk];
    discovery = undefined;
    const srv = await start(60_000);
    try {
      const t1 = await sign(k1, { iss: issuer, sub: 'u1' });
      const c = await connect(srv, t1);
      jwks = [k1.jwk, k2.jwk];
      const t2 = await sign(k2, { iss: issuer, sub: 'u2' });
      expect((await subscribe(c, srv, 'a', '/secure/a', auth(srv, t1))).type).toBe('subscribe_success');
      expect((await subscribe(c, srv, 'b', '/secure/b', auth(srv, t2))).errors[0].errorType).toBe('UnauthorizedException');
      expect(hits.filter((h) => h.endsWith('/certs'))).toHaveLength(1);
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('refuses while discovery fails or names another issuer, and recovers once it answers', async () => {
    hits.length = 0;
    jwks = [k1.jwk];
    const srv = await start(0);
    try {
      const t1 = await sign(k1, { iss: issuer, sub: 'u1' });
      discovery = () => ({ status: 503, body: {} });
      const c1 = await connect(srv, t1);
      expect((await c1.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
      discovery = () => ({ status: 200, body: { issuer: 'https://someone-else.example.test', jwks_uri: `${issuer}/protocol/certs` } });
      const c2 = await connect(srv, t1);
      expect((await c2.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
      const reasons = srv.logger.entries.filter((e: any) => e.msg === 'connect refused').map((e: any) => e.reason);
      expect(reasons).toHaveLength(2);
      const why = srv.logger.entries.filter((e: any) => e.msg === 'token auth refused').map((e: any) => e.reason);
      expect(why).toEqual([expect.stringMatching(/HTTP 503/), expect.stringMatching(/another issuer/)]);

      discovery = undefined;
      const c3 = await connect(srv, t1);
      expect(c3.frames.some((f) => f.type === 'connection_ack')).toBe(true);
      c3.close();
    } finally {
      await srv.close();
    }
  });
});

describe('event API: Cognito keys fetched from the user pool jwks.json', () => {
  it('fetches https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json and verifies', async () => {
    const pool = { userPoolId: 'us-east-2_Fetch', awsRegion: 'us-east-2' };
    const iss = `https://cognito-idp.us-east-2.amazonaws.com/${pool.userPoolId}`;
    const key = await makeKey('pool', 'RS256');
    const urls: string[] = [];
    // The AWS HTTP boundary: Cognito's public key endpoint, answered in memory.
    const awsFetch = (async (input: string | URL | Request) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      urls.push(url);
      return new Response(JSON.stringify({ keys: [key.jwk] }), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const srv = await startApi({
      config: { auth: { cognito: pool }, namespaces: { pool: { publishAuthModes: ['AWS_IAM'], subscribeAuthModes: ['AMAZON_COGNITO_USER_POOLS'] } } },
      jwksFetch: awsFetch,
    });
    try {
      const token = await sign(key, { iss, sub: 's', aud: 'any-client', token_use: 'id' });
      const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(auth(srv, token))]);
      c.send({ type: 'connection_init' });
      await c.type('ka');
      expect((await subscribe(c, srv, 's', '/pool/x', auth(srv, token))).type).toBe('subscribe_success');
      expect(urls).toEqual([`${iss}/.well-known/jwks.json`]);
      c.close();
    } finally {
      await srv.close();
    }
  });
});
