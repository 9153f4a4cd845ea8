/**
 * fast-check: the verifier never throws, and accepts only tokens that are HS256,
 * signed with a configured secret, unexpired, with well-shaped claims.
 */
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { parseClaims } from '../../functions/core/claims';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { b64, K1, K2, NOW_MS, NOW_S, secrets, settingsFor } from './fixtures';

const randomHeader = fc.record(
  {
    alg: fc.oneof(fc.constantFrom('HS256', 'HS512', 'RS256', 'ES256', 'none', 'NONE', ''), fc.string({ maxLength: 8 }), fc.integer()),
    kid: fc.oneof(fc.constantFrom('k1', 'k2', 'k3', ''), fc.integer(), fc.constant(null)),
    typ: fc.constantFrom('JWT', 'jwt', 'x'),
    crit: fc.constant(['exp']),
  },
  { requiredKeys: [] },
);
const goodHeader = fc.record({ alg: fc.constant('HS256'), kid: fc.constantFrom('k1', 'k2') }, { requiredKeys: ['alg'] });
const header = fc.oneof({ weight: 3, arbitrary: goodHeader }, { weight: 2, arbitrary: randomHeader });

const goodClaims = fc.record(
  {
    exp: fc.oneof({ weight: 4, arbitrary: fc.constant(NOW_S + 600) }, fc.constant(NOW_S - 600), fc.string({ maxLength: 4 }), fc.constant(null)),
    nbf: fc.oneof(fc.constant(NOW_S - 10), fc.constant(NOW_S + 600)),
    scope: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('connect', 'subscribe connect') }, fc.constant('admin'), fc.integer()),
    channels: fc.oneof(
      { weight: 4, arbitrary: fc.constant({ '/chat/a': { subscribe: true, publish: ['m'] } }) },
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    ),
    uid: fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 10 }) }, fc.integer()),
  },
  { requiredKeys: ['exp', 'channels'] },
);
const body = fc.oneof({ weight: 4, arbitrary: goodClaims }, fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 30 }));
const signer = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<'k1' | 'k2'>('k1', 'k2') }, fc.constantFrom<'wrong' | 'garbage' | 'empty'>('wrong', 'garbage', 'empty'));

function build(h: unknown, p: unknown, how: string): string {
  const input = `${b64(h)}.${typeof p === 'string' ? b64(p) : b64(p)}`;
  const secret = how === 'k1' ? K1 : how === 'k2' ? K2 : 'not-configured';
  if (how === 'garbage') return `${input}.${'x'.repeat(43)}`;
  if (how === 'empty') return `${input}.`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('verifier properties', () => {
  const verifier = createTokenVerifier(settingsFor().tokens, { secrets: secrets(), now: () => NOW_MS });

  test('never throws; accepts only correctly signed HS256 tokens with valid, unexpired claims', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(header, body, signer, async (h, p, how) => {
        const token = build(h, p, how);
        const r = await verifier.verify(token);
        expect(typeof r.ok).toBe('boolean');
        if (!r.ok) {
          expect(typeof r.reason).toBe('string');
          // The token's payload part never shows in a refusal (a short one may occur in any text by chance).
          const part = token.split('.')[1] ?? '';
          if (part.length >= 12) expect(r.detail).not.toContain(part);
          return;
        }
        const hh = h as Record<string, unknown>;
        expect(hh.alg).toBe('HS256');
        expect(['k1', 'k2']).toContain(how);
        if (hh.kid !== undefined) expect(hh.kid).toBe(how);
        expect(hh.crit).toBeUndefined();
        const payload = p as Record<string, unknown>;
        expect(typeof payload.exp).toBe('number');
        expect(payload.exp as number).toBeGreaterThan(NOW_S - 5);
        if (payload.nbf !== undefined) expect(payload.nbf as number).toBeLessThanOrEqual(NOW_S + 5);
        expect(parseClaims(payload).ok).toBe(true);
        accepted++;
      }),
      { numRuns: 800 },
    );
    // The generators must reach the accepting side, or the property says nothing about it.
    expect(accepted).toBeGreaterThan(3);
  });

  test('arbitrary strings never throw and are never accepted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 3000 }), fc.array(fc.base64String({ maxLength: 40 }), { minLength: 1, maxLength: 4 }).map((a) => a.join('.'))), async (s) => {
        const r = await verifier.verify(s);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });
});
