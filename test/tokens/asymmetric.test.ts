/**
 * RS256, ES256 and EdDSA tokens against inline JWKs, and against a JWKS URL served
 * by a real HTTP server on 127.0.0.1. The config keeps requiring https; the test
 * hands jose a fetch (its customFetch hook) that sends the https URL's path to the
 * loopback server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { signToken } from '../../client/token';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { NOW_MS, secrets, settingsFor } from './fixtures';

const channels = { '/chat/a': { subscribe: true } };

async function keyPair(alg: 'RS256' | 'ES256' | 'EdDSA', kid: string) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg } as Record<string, unknown>;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg } as JWK;
  return { publicKey, privateKey, publicJwk, privateJwk };
}

describe('asymmetric tokens with inline JWKs', () => {
  test.each(['RS256', 'ES256', 'EdDSA'] as const)('%s verifies, and a foreign key of the same kid does not', async (alg) => {
    const good = await keyPair(alg, `${alg}-1`);
    const foreign = await keyPair(alg, `${alg}-1`);
    const tokens = settingsFor({ tokens: { algorithms: [alg], jwks: [good.publicJwk] } }).tokens;
    const v = createTokenVerifier(tokens, { secrets: secrets(), now: () => NOW_MS });

    const byKey = await signToken({ channels, privateKey: good.privateKey, alg, kid: `${alg}-1`, now: NOW_MS, uid: 'u1' });
    expect(await v.verify(byKey)).toMatchObject({ ok: true, claims: { uid: 'u1' } });
    // A private JWK works too, its kid taken from the JWK.
    const byJwk = await signToken({ channels, privateKey: good.privateJwk, alg, now: NOW_MS });
    expect((await v.verify(byJwk)).ok).toBe(true);

    const forged = await signToken({ channels, privateKey: foreign.privateKey, alg, kid: `${alg}-1`, now: NOW_MS });
    expect(await v.verify(forged)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    const unknown = await signToken({ channels, privateKey: good.privateKey, alg, kid: 'other', now: NOW_MS });
    expect(await v.verify(unknown)).toMatchObject({ ok: false, reason: 'KID_UNKNOWN' });
  });

  test('an unusable key configuration fails at start-up, naming the setting', () => {
    const tokens = settingsFor({ tokens: { algorithms: ['ES256'], jwks: [{ kty: 'EC', kid: 'x' }] } }).tokens;
    expect(() => createTokenVerifier({ ...tokens, jwks: [null as never] }, { secrets: secrets() })).toThrow(/config\.tokens\.jwks/);
    expect(() => createTokenVerifier({ ...tokens, jwks: undefined, jwksUrl: 'not a url' }, { secrets: secrets() })).toThrow(/config\.tokens\.jwksUrl/);
  });

  test('without kids, every matching key is tried', async () => {
    const a = await keyPair('ES256', 'a');
    const b = await keyPair('ES256', 'b');
    const stranger = await keyPair('ES256', 'c');
    const noKid = ({ kid: _kid, ...rest }: Record<string, unknown>) => rest;
    const v = createTokenVerifier(settingsFor({ tokens: { algorithms: ['ES256'], jwks: [noKid(a.publicJwk), noKid(b.publicJwk)] } }).tokens, { secrets: secrets(), now: () => NOW_MS });
    expect((await v.verify(await signToken({ channels, privateKey: b.privateKey, alg: 'ES256', now: NOW_MS }))).ok).toBe(true);
    expect(await v.verify(await signToken({ channels, privateKey: stranger.privateKey, alg: 'ES256', now: NOW_MS }))).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  test('an algorithm not in the allow-list is refused even when a key would match', async () => {
    const es = await keyPair('ES256', 'es-1');
    const v = createTokenVerifier(settingsFor({ tokens: { algorithms: ['HS256', 'RS256'], jwks: [es.publicJwk] } }).tokens, { secrets: secrets(), now: () => NOW_MS });
    const token = await signToken({ channels, privateKey: es.privateKey, alg: 'ES256', kid: 'es-1', now: NOW_MS });
    expect(await v.verify(token)).toMatchObject({ ok: false, reason: 'ALG_NOT_ALLOWED' });
  });
});

describe('asymmetric tokens with a JWKS URL', () => {
  let server: Server;
  let port: number;
  let keys: Record<string, unknown>[] = [];
  let status = 200;
  let requests = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? JSON.stringify({ keys }) : 'oops');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests = 0;
    status = 200;
  });

  const loopback: typeof fetch = (input, init) => fetch(`http://127.0.0.1:${port}${new URL(String(input)).pathname}`, init);
  const tokensConfig = { algorithms: ['ES256' as const], jwksUrl: 'https://keys.example.test/.well-known/jwks.json' };

  test('fetches the key set once and serves later tokens from jose\u2019s cache', async () => {
    const k = await keyPair('ES256', 'es-1');
    keys = [k.publicJwk];
    const v = createTokenVerifier(settingsFor({ tokens: tokensConfig }).tokens, { secrets: secrets(), now: () => NOW_MS, jwksFetch: loopback });
    for (let i = 0; i < 3; i++) {
      const token = await signToken({ channels, privateKey: k.privateKey, alg: 'ES256', kid: 'es-1', jti: `t${i}`, now: NOW_MS });
      expect((await v.verify(token)).ok).toBe(true);
    }
    expect(requests).toBe(1);
  });

  test('a new kid is picked up after the cooldown; during it the kid is unknown', async () => {
    const k1 = await keyPair('ES256', 'es-1');
    const k2 = await keyPair('ES256', 'es-2');
    keys = [k1.publicJwk];
    const token2 = await signToken({ channels, privateKey: k2.privateKey, alg: 'ES256', kid: 'es-2', now: NOW_MS });

    const cooling = createTokenVerifier(settingsFor({ tokens: tokensConfig }).tokens, { secrets: secrets(), now: () => NOW_MS, jwksFetch: loopback, jwksCooldownMs: 60_000 });
    expect((await cooling.verify(await signToken({ channels, privateKey: k1.privateKey, alg: 'ES256', kid: 'es-1', now: NOW_MS }))).ok).toBe(true);
    keys = [k1.publicJwk, k2.publicJwk];
    expect(await cooling.verify(token2)).toMatchObject({ ok: false, reason: 'KID_UNKNOWN' });
    expect(requests).toBe(1);

    const eager = createTokenVerifier(settingsFor({ tokens: tokensConfig }).tokens, { secrets: secrets(), now: () => NOW_MS, jwksFetch: loopback, jwksCooldownMs: 0 });
    keys = [k1.publicJwk];
    expect((await eager.verify(await signToken({ channels, privateKey: k1.privateKey, alg: 'ES256', kid: 'es-1', jti: 'x', now: NOW_MS }))).ok).toBe(true);
    keys = [k1.publicJwk, k2.publicJwk];
    expect((await eager.verify(token2)).ok).toBe(true);
  });

  test('an unreachable or broken JWKS endpoint is JWKS_UNAVAILABLE, not a crash', async () => {
    const k = await keyPair('ES256', 'es-1');
    const token = await signToken({ channels, privateKey: k.privateKey, alg: 'ES256', kid: 'es-1', now: NOW_MS });
    status = 500;
    const broken = createTokenVerifier(settingsFor({ tokens: tokensConfig }).tokens, { secrets: secrets(), now: () => NOW_MS, jwksFetch: loopback });
    expect(await broken.verify(token)).toMatchObject({ ok: false, reason: 'JWKS_UNAVAILABLE' });

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = createTokenVerifier(settingsFor({ tokens: tokensConfig }).tokens, {
      secrets: secrets(),
      now: () => NOW_MS,
      jwksFetch: (input, init) => fetch(`http://127.0.0.1:${deadPort}${new URL(String(input)).pathname}`, init),
    });
    expect(await refused.verify(token)).toMatchObject({ ok: false, reason: 'JWKS_UNAVAILABLE' });
  });

  test('a key removed from the JWKS stops working once jose would refetch the set, cached tokens included', async () => {
    const k = await keyPair('ES256', 'es-1');
    keys = [k.publicJwk];
    let now = NOW_MS;
    const v = createTokenVerifier(settingsFor({ tokens: tokensConfig }).tokens, { secrets: secrets(), now: () => now, jwksFetch: loopback, jwksCacheMaxAgeMs: 0, jwksCooldownMs: 0 });
    const token = await signToken({ channels, privateKey: k.privateKey, alg: 'ES256', kid: 'es-1', now: NOW_MS });
    expect((await v.verify(token)).ok).toBe(true);
    keys = [];
    now += 1000;
    expect(await v.verify(token)).toMatchObject({ ok: false, reason: 'KID_UNKNOWN' });
  });

  test('inline keys are tried first, then the URL', async () => {
    const inline = await keyPair('ES256', 'inline-1');
    const remote = await keyPair('ES256', 'remote-1');
    keys = [remote.publicJwk];
    const v = createTokenVerifier(settingsFor({ tokens: { ...tokensConfig, jwks: [inline.publicJwk] } }).tokens, { secrets: secrets(), now: () => NOW_MS, jwksFetch: loopback });
    expect((await v.verify(await signToken({ channels, privateKey: inline.privateKey, alg: 'ES256', kid: 'inline-1', now: NOW_MS }))).ok).toBe(true);
    expect(requests).toBe(0);
    expect((await v.verify(await signToken({ channels, privateKey: remote.privateKey, alg: 'ES256', kid: 'remote-1', now: NOW_MS }))).ok).toBe(true);
    expect(requests).toBe(1);
  });

  test('the config still refuses a non-https JWKS URL', () => {
    expect(() => settingsFor({ tokens: { algorithms: ['ES256'], jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json` } })).toThrow(/tokens\.jwksUrl/);
  });
});
