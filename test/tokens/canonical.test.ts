/**
 * Issue #13: an HS256 signature has 4 base64url spellings (43 characters carry 258 bits,
 * the last character's 2 low bits are unused) and base64 decoders ignore those bits, so
 * each spelling verifies. A cache or deny list keyed by the token text would hold them
 * apart; the verifier refuses every spelling but the canonical one (SIGNATURE_NOT_CANONICAL),
 * before any key lookup, and the authorizer denies them.
 */
import fc from 'fast-check';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { memoryLogger } from '../../functions/shared/log';
import { isCanonicalBase64url } from '../../functions/tokens/shape';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { exportJWK, generateKeyPair } from 'jose';
import { event, NOW_MS, secrets, settingsFor, sign } from './fixtures';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Every spelling of the token's signature that decodes to the same bytes, the canonical one first. */
function spellings(token: string): string[] {
  const lastDot = token.lastIndexOf('.');
  const sig = token.slice(lastDot + 1);
  const unused = sig.length % 4 === 2 ? 0b1111 : sig.length % 4 === 3 ? 0b11 : 0;
  const v = ALPHABET.indexOf(sig[sig.length - 1]);
  const out: string[] = [];
  for (let bits = 0; bits <= unused; bits++) out.push(`${token.slice(0, lastDot + 1)}${sig.slice(0, -1)}${ALPHABET[v | bits]}`);
  return out;
}

describe('non-canonical signature spellings', () => {
  test('an HS256 token has exactly 4 spellings, all the same bytes; the 3 non-canonical ones are refused, the canonical one accepted', async () => {
    const verifier = createTokenVerifier(settingsFor().tokens, { secrets: secrets(), now: () => NOW_MS });
    const token = await sign();
    const all = spellings(token);
    expect(all).toHaveLength(4);
    expect(all[0]).toBe(token);
    const bytes = all.map((t) => Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url').toString('hex'));
    expect(new Set(bytes).size).toBe(1);
    // Before and after the canonical token is in the cache (first sight, second sight, hits).
    for (let round = 0; round < 3; round++) {
      const [canonical, ...others] = await Promise.all(all.map((t) => verifier.verify(t)));
      expect(canonical.ok).toBe(true);
      for (const r of others) expect(r).toEqual({ ok: false, reason: 'SIGNATURE_NOT_CANONICAL', detail: expect.stringContaining('canonical base64url') });
    }
  });

  test('refused before any secret is read, whatever the kid', async () => {
    let reads = 0;
    const inner = secrets();
    const verifier = createTokenVerifier(settingsFor().tokens, { secrets: { get: (n) => (reads++, inner.get(n)) }, now: () => NOW_MS, cacheMaxEntries: 0 });
    for (const t of spellings(await sign()).slice(1)) expect((await verifier.verify(t)).ok).toBe(false);
    expect(reads).toBe(0);
  });

  test('the authorizer denies the 3 non-canonical spellings and allows the canonical one', async () => {
    const logger = memoryLogger();
    const handler = createAuthorizerHandler({ settings: settingsFor(), secrets: secrets(), now: () => NOW_MS, logger });
    const [canonical, ...others] = spellings(await sign());
    expect((await handler(event('EVENT_SUBSCRIBE', canonical, '/chat/room-1'))).isAuthorized).toBe(true);
    for (const t of others) {
      const r = await handler(event('EVENT_SUBSCRIBE', t, '/chat/room-1'));
      expect(r.isAuthorized).toBe(false);
    }
    expect(logger.entries.filter((e) => e.reason === 'SIGNATURE_NOT_CANONICAL')).toHaveLength(3);
  });

  test('ES256 signatures (86 characters, 4 unused bits): the 15 other spellings are refused too', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'es', alg: 'ES256' };
    const verifier = createTokenVerifier(settingsFor({ tokens: { algorithms: ['ES256'], jwks: [jwk] } }).tokens, { secrets: secrets(), now: () => NOW_MS });
    const token = await sign({ privateKey, alg: 'ES256', kid: 'es' });
    const [canonical, ...others] = spellings(token);
    expect(others).toHaveLength(15);
    expect((await verifier.verify(canonical)).ok).toBe(true);
    for (const t of others) expect(await verifier.verify(t)).toMatchObject({ ok: false, reason: 'SIGNATURE_NOT_CANONICAL' });
  });

  test('property: the canonical encoding of any bytes passes, and setting any unused bit fails', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 15 }), (bytes, bits) => {
        const text = Buffer.from(bytes).toString('base64url');
        expect(isCanonicalBase64url(text)).toBe(true);
        const unused = text.length % 4 === 2 ? 0b1111 : text.length % 4 === 3 ? 0b11 : 0;
        if ((bits & unused) === 0) return;
        const altered = text.slice(0, -1) + ALPHABET[ALPHABET.indexOf(text[text.length - 1]) | (bits & unused)];
        expect(Buffer.from(altered, 'base64url')).toEqual(Buffer.from(bytes));
        expect(isCanonicalBase64url(altered)).toBe(false);
      }),
    );
  });
});
