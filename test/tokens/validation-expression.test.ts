/**
 * Issue #11.5: TOKEN_VALIDATION_EXPRESSION (the Lambda authorizer's
 * identity_validation_expression, functions/core/token-format.ts) matches every token
 * signToken makes, whatever the claims, key type and options, and refuses garbage, so
 * the service never invokes the authorizer for junk and never refuses a real token.
 */
import fc from 'fast-check';
import { exportJWK, generateKeyPair } from 'jose';
import { signToken, type SignTokenOptions } from '../../client/token';
import { TOKEN_PREFIX, TOKEN_VALIDATION_EXPRESSION, withoutTokenPrefix } from '../../functions/core/token-format';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { K1, NOW_MS, secrets, settingsFor } from './fixtures';

const re = new RegExp(TOKEN_VALIDATION_EXPRESSION);
const segment = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
const pattern = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
  fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join('/')}/*`),
);
const permissions = fc.record(
  { subscribe: fc.boolean(), history: fc.boolean(), publish: fc.oneof(fc.boolean(), fc.array(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/), { minLength: 1, maxLength: 3 })) },
  { requiredKeys: [] },
);
const options = fc.record(
  {
    channels: fc.dictionary(pattern, permissions, { minKeys: 1, maxKeys: 4 }),
    scope: fc.constantFrom<SignTokenOptions['scope']>('connect subscribe', ['subscribe'], ['connect'], 'connect'),
    uid: fc.string({ maxLength: 40 }),
    umd: fc.jsonValue({ maxDepth: 2 }).filter((v) => JSON.stringify(v).length < 300),
    ttlSeconds: fc.integer({ min: 1, max: 86_400 * 30 }),
    issuer: fc.webUrl(),
    audience: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.array(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 })),
    subject: fc.string({ maxLength: 30 }),
    jti: fc.uuid(),
    kid: fc.constantFrom('k1', 'k2', 'rotating-2026'),
  },
  { requiredKeys: ['channels'] },
);

describe('TOKEN_VALIDATION_EXPRESSION', () => {
  test('property: every HS256 token signToken makes matches, with and without the prefix, and the verifier accepts it', async () => {
    const verifier = createTokenVerifier(settingsFor().tokens, { secrets: secrets(), now: () => NOW_MS });
    await fc.assert(
      fc.asyncProperty(options, async (o) => {
        const token = await signToken({ ...o, kid: o.kid === 'k2' ? 'k1' : o.kid, secret: K1, now: NOW_MS } as SignTokenOptions);
        expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
        expect([token, re.test(token)]).toEqual([token, true]);
        expect(re.test(withoutTokenPrefix(token))).toBe(true);
        if (o.kid !== 'rotating-2026' && o.issuer === undefined && o.audience === undefined) expect((await verifier.verify(token)).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('property: RS256, ES256 and EdDSA tokens match too', async () => {
    const keys = await Promise.all((['RS256', 'ES256', 'EdDSA'] as const).map(async (alg) => ({ alg, jwk: { ...(await exportJWK((await generateKeyPair(alg, { extractable: true })).privateKey)), kid: alg } })));
    await fc.assert(
      fc.asyncProperty(options, fc.constantFrom(...keys), async (o, k) => {
        const token = await signToken({ ...o, privateKey: k.jwk, alg: k.alg, kid: undefined } as SignTokenOptions);
        expect([token, re.test(token)]).toEqual([token, true]);
      }),
      { numRuns: 60 },
    );
  });

  test('property: garbage does not match', async () => {
    const token = await signToken({ channels: { '/chat/a': { subscribe: true } }, secret: K1, kid: 'k1', now: NOW_MS });
    const jwt = withoutTokenPrefix(token);
    // Hand-picked: schemes, whitespace, wrong part counts, empty parts, other prefixes, non-JSON headers.
    for (const g of ['', 'es1.', 'es1', 'not-a-token', 'a.b.c', 'es1.a.b.c', `Bearer ${token}`, `bearer ${jwt}`, ` ${token}`, `${token} `, `${token}\n`, `${token}.`, `${token}.x`, `es2.${jwt}`, `ES1.${jwt}`, `es1.es1.${jwt}`, `${jwt.split('.').slice(0, 2).join('.')}`, `${jwt.split('.').slice(0, 2).join('.')}.`, `eyJ.eyJ.`, `${jwt.replace(/\./g, '..')}`, `${jwt}=`, `${jwt.slice(0, -2)}+/`]) {
      expect([g, re.test(g)]).toEqual([g, false]);
    }
    await fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ maxLength: 60 }).map((s) => `es1.${s}`),
          // Text with a character outside base64url and dots, anywhere in an otherwise good token.
          fc.tuple(fc.integer({ min: 0, max: token.length }), fc.constantFrom(' ', '+', '/', '=', '\n', '\t', '"', '%', '~', 'é')).map(([i, c]) => token.slice(0, i) + c + token.slice(i)),
        ),
        (g) => {
          fc.pre(!/^(?:es1\.)?eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/.test(g) || g === token);
          if (g !== token) expect([g, re.test(g)]).toEqual([g, false]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
