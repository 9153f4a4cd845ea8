/**
 * Differential test: HS256 verified with node:crypto (production) must give the very
 * same result as `jose.jwtVerify(token, secretBytes)` with the same options (the
 * verifier's `hs256ViaJose` reference path): same ok, same reason, same detail, same
 * payload, for hand-made hostile tokens and for generated ones.
 */
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { createTokenVerifier, type TokenVerifier } from '../../functions/tokens/verify';
import type { RuntimeSettings } from '../../functions/core/config';
import { b64, K1, K2, NOW_MS, NOW_S, secrets, settingsFor } from './fixtures';

type Tokens = RuntimeSettings['tokens'];

function pair(tokens: Tokens, now = () => NOW_MS, secretValues?: Record<string, string>): { node: TokenVerifier; jose: TokenVerifier } {
  // No claims cache: each call is a full verification on both sides.
  const deps = { now, cacheMaxEntries: 0 };
  return {
    node: createTokenVerifier(tokens, { ...deps, secrets: secrets(secretValues) }),
    jose: createTokenVerifier(tokens, { ...deps, secrets: secrets(secretValues), hs256ViaJose: true }),
  };
}

async function expectSame(v: { node: TokenVerifier; jose: TokenVerifier }, token: string): Promise<string> {
  const [n, j] = await Promise.all([v.node.verify(token), v.jose.verify(token)]);
  expect([token, n]).toEqual([token, j]);
  return n.ok ? 'OK' : n.reason;
}

function hmac(input: string, secret: string): string {
  return createHmac('sha256', secret).update(input).digest('base64url');
}

function token(header: unknown, payload: unknown, secret = K1): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${hmac(input, secret)}`;
}

const claims = { exp: NOW_S + 600, scope: 'connect', channels: { '/chat/a': { subscribe: true } } };
const strict = settingsFor({ tokens: { issuer: 'https://backend.example', audience: ['eventsock', 'other'], maxTokenAgeSeconds: 600, clockToleranceSeconds: 5 } }).tokens;
const good = { ...claims, iss: 'https://backend.example', aud: 'eventsock', iat: NOW_S - 10 };

describe('HS256 via node:crypto is equivalent to jose.jwtVerify', () => {
  test('the attack list and edge cases give the same result, reason and detail', async () => {
    const v = pair(settingsFor().tokens);
    const s = pair(strict);
    const h = { alg: 'HS256', kid: 'k1' };
    const base = token(h, claims);
    const [hp, pp, sp] = base.split('.');
    const seen = new Set<string>();
    const cases: Array<[typeof v, string]> = [
      [v, base],
      [v, token({ alg: 'HS256' }, claims, K2)],
      [v, token({ alg: 'HS256' }, claims, 'not-configured')],
      [v, token({ alg: 'HS256', kid: 'k2' }, claims)],
      [v, token({ alg: 'HS256', typ: 'JWT', kid: 'k1', b64: false }, claims)],
      [v, token({ ...h, b64: true }, claims)],
      // Signature part: tampered, truncated, extended, non-canonical last character, 4n+1 long, empty-ish.
      [v, `${hp}.${b64({ ...claims, channels: { '/*': { subscribe: true } } })}.${sp}`],
      [v, `${hp}.${pp}.${sp.slice(0, -1)}`],
      [v, `${hp}.${pp}.${sp.slice(0, -2)}`],
      [v, `${hp}.${pp}.${sp}A`],
      [v, `${hp}.${pp}.${sp}AA`],
      [v, `${hp}.${pp}.${sp}AAAAAA`],
      [v, `${hp}.${pp}.${sp.slice(0, -1)}${String.fromCharCode(sp.charCodeAt(sp.length - 1) ^ 1)}`],
      [v, `${hp}.${pp}.A`],
      [v, `${hp}.${pp}.${'A'.repeat(43)}`],
      [v, `${hp}.${pp}.${Buffer.from(sp, 'base64url').toString('base64url')}`],
      // Payload part: not JSON, not an object, not UTF-8, 4n+1 long, claim types.
      [v, token(h, 'not json')],
      [v, token(h, '[1]')],
      [v, token(h, 'null')],
      [v, `${hp}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${hmac(`${hp}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}`, K1)}`],
      [v, `${hp}.${pp}A.${hmac(`${hp}.${pp}A`, K1)}`],
      [v, `${hp}.${pp.slice(0, -1)}.${hmac(`${hp}.${pp.slice(0, -1)}`, K1)}`],
      [v, token(h, { ...claims, exp: NOW_S - 6 })],
      [v, token(h, { ...claims, exp: NOW_S - 4 })],
      [v, token(h, { ...claims, exp: NOW_S - 5 })],
      [v, token(h, { ...claims, exp: '9999999999' })],
      [v, token(h, { ...claims, exp: null })],
      [v, token(h, { scope: 'connect', channels: {} })],
      [v, token(h, { ...claims, nbf: NOW_S + 60 })],
      [v, token(h, { ...claims, nbf: NOW_S + 5 })],
      [v, token(h, { ...claims, nbf: 'soon' })],
      [v, token(h, { ...claims, iat: 'then' })],
      [v, token(h, { ...claims, channels: [] })],
      [v, token(h, { ...claims, uid: 12 })],
      [v, token(h, { ...claims, __proto__: { exp: 1 } })],
      [v, token(h, `{"exp":${NOW_S + 600},"exp":1,"channels":{}}`)],
      [s, token(h, good)],
      [s, token(h, { ...good, iss: 'https://evil.example' })],
      [s, token(h, { ...good, iss: ['https://backend.example'] })],
      [s, token(h, { ...good, aud: ['x', 'other'] })],
      [s, token(h, { ...good, aud: ['x'] })],
      [s, token(h, { ...good, aud: 7 })],
      [s, token(h, (({ aud: _a, ...rest }) => rest)(good))],
      [s, token(h, (({ iss: _i, ...rest }) => rest)(good))],
      [s, token(h, (({ iat: _t, ...rest }) => rest)(good))],
      [s, token(h, { ...good, iat: NOW_S - 700 })],
      [s, token(h, { ...good, iat: NOW_S - 604 })],
      [s, token(h, { ...good, iat: NOW_S + 60 })],
      [s, token(h, { ...good, iat: NOW_S + 4 })],
    ];
    for (const [pairFor, t] of cases) seen.add(await expectSame(pairFor, t));
    // The list reaches acceptance and each family of refusal.
    for (const r of ['OK', 'SIGNATURE_INVALID', 'TOKEN_MALFORMED', 'TOKEN_EXPIRED', 'TOKEN_NOT_YET_VALID', 'EXP_MISSING', 'CLAIMS_INVALID', 'ISSUER_MISMATCH', 'AUDIENCE_MISMATCH', 'TOKEN_TOO_OLD']) {
      expect([r, seen.has(r)]).toEqual([r, true]);
    }
  });

  test('an unset or empty secret is SECRET_UNAVAILABLE on both paths', async () => {
    const v = pair(settingsFor().tokens, () => NOW_MS, { k1: '' });
    expect(await expectSame(v, token({ alg: 'HS256', kid: 'k1' }, claims, ''))).toBe('SECRET_UNAVAILABLE');
    expect(await expectSame(v, token({ alg: 'HS256', kid: 'k2' }, claims, K2))).toBe('SECRET_UNAVAILABLE');
  });

  test('generated tokens: same result on both paths', async () => {
    const v = pair(strict);
    const time = fc.oneof(fc.integer({ min: NOW_S - 700, max: NOW_S + 700 }), fc.constantFrom(NOW_S - 5, NOW_S + 5, NOW_S - 600, NOW_S - 605), fc.string({ maxLength: 3 }), fc.constant(null), fc.double());
    const payload = fc.record(
      {
        exp: time,
        nbf: time,
        iat: time,
        iss: fc.constantFrom('https://backend.example', 'https://evil.example', 7),
        aud: fc.oneof(fc.constantFrom('eventsock', 'other', 'x'), fc.array(fc.constantFrom('eventsock', 'other', 'x', 1), { maxLength: 3 })),
        scope: fc.constantFrom('connect', 'subscribe', 'admin'),
        channels: fc.oneof(fc.constant({ '/chat/a': { subscribe: true, publish: ['m'] } }), fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 })),
        uid: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()),
      },
      { requiredKeys: [] },
    );
    // A valid claim set with some claims replaced, so that acceptance and each single refusal are reached.
    const body = fc.oneof({ weight: 5, arbitrary: fc.tuple(payload, fc.nat()).map(([p, n]) => JSON.stringify(n % 3 === 0 ? good : { ...good, ...p })) }, fc.jsonValue({ maxDepth: 2 }).map((j) => JSON.stringify(j)), fc.string({ maxLength: 20 }));
    const header = fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom({ alg: 'HS256', kid: 'k1' }, { alg: 'HS256', kid: 'k2' }, { alg: 'HS256' }, { alg: 'HS256', typ: 'JWT', kid: 'k1' }) },
      fc.record({ alg: fc.constantFrom('HS256', 'HS384', 'none', 'RS256'), kid: fc.oneof(fc.constantFrom('k1', 'k2', 'k9'), fc.integer()), b64: fc.boolean() }, { requiredKeys: ['alg'] }),
    );
    const signer = fc.constantFrom('k1', 'k2', 'wrong', 'trim', 'extend', 'flip');
    let accepted = 0;
    const reasons = new Set<string>();
    await fc.assert(
      fc.asyncProperty(header, body, signer, async (h, p, how) => {
        const input = `${b64(h)}.${b64(p)}`;
        let sig = hmac(input, how === 'k2' ? K2 : how === 'wrong' ? 'not-configured' : K1);
        if (how === 'trim') sig = sig.slice(0, -1);
        if (how === 'extend') sig += 'Q';
        if (how === 'flip') sig = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
        const r = await expectSame(v, `${input}.${sig}`);
        reasons.add(r);
        if (r === 'OK') accepted++;
      }),
      { numRuns: 1500 },
    );
    expect(accepted).toBeGreaterThan(3);
    expect(reasons.size).toBeGreaterThan(6);
  });
});
