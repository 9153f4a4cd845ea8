/**
 * The attack list from issue #3: each hostile token is refused with its own reason
 * code, by the real verifier with real jose and real keys.
 */
import { withoutTokenPrefix } from '../../functions/core/token-format';
import { createHmac } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { createTokenVerifier, type TokenResult } from '../../functions/tokens/verify';
import type { SecretSource } from '../../functions/shared/secrets';
import { b64, K1, K2, NOW_MS, NOW_S, secrets, settingsFor, sign } from './fixtures';

const hs = (extra: Parameters<typeof settingsFor>[0] = {}) => settingsFor(extra).tokens;

function hmacToken(header: object, payload: object | string, secret = K1): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const validPayload = { exp: NOW_S + 600, scope: 'connect', channels: { '/chat/a': { subscribe: true } } };

function reasonOf(r: TokenResult): string {
  return r.ok ? 'OK' : r.reason;
}

/** A SecretSource that counts reads: a refusal before any crypto reads no secret. */
function countingSecrets(): SecretSource & { reads: number } {
  const inner = secrets();
  const s = { reads: 0, get: (name: string) => (s.reads++, inner.get(name)) };
  return s;
}

describe('token attacks', () => {
  const verifier = createTokenVerifier(hs(), { secrets: secrets(), now: () => NOW_MS });

  test('a well-formed token passes (control)', async () => {
    expect(reasonOf(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, validPayload)))).toBe('OK');
    expect(reasonOf(await verifier.verify('Bearer ' + hmacToken({ alg: 'HS256', kid: 'k1' }, validPayload)))).toBe('OK');
    expect(reasonOf(await verifier.verify(' bearer  ' + hmacToken({ alg: 'HS256', kid: 'k2' }, validPayload, K2) + '\n'))).toBe('OK');
    expect(reasonOf(await verifier.verify('Bearer '))).toBe('TOKEN_MISSING');
  });

  test('alg none is refused as ALG_NONE', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, typ: 'JWT' })}.${b64(validPayload)}.`;
      expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'ALG_NONE' });
    }
  });

  test('algorithms outside the allow-list are refused', async () => {
    const token = `${b64({ alg: 'HS512', kid: 'k1' })}.${b64(validPayload)}.${createHmac('sha512', K1).update('x').digest('base64url')}`;
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'ALG_NOT_ALLOWED' });
  });

  describe('HS/RS key confusion', () => {
    let publicJwk: Record<string, unknown>;
    let pem: string;
    beforeAll(async () => {
      const { publicKey } = await generateKeyPair('RS256', { extractable: true });
      publicJwk = { ...(await exportJWK(publicKey)), kid: 'rsa-1', alg: 'RS256' };
      pem = await exportSPKI(publicKey);
    });

    test('an HS256 token signed with the RSA public key is refused when only RS256 is allowed', async () => {
      const v = createTokenVerifier(hs({ tokens: { algorithms: ['RS256'], jwks: [publicJwk] } }), { secrets: secrets(), now: () => NOW_MS });
      const token = hmacToken({ alg: 'HS256', kid: 'rsa-1' }, validPayload, pem);
      expect(await v.verify(token)).toMatchObject({ ok: false, reason: 'ALG_NOT_ALLOWED' });
    });

    test('with both allowed, an HS256 token naming the RSA kid (or an RS256 token naming an HS kid) is KEY_ALG_MISMATCH', async () => {
      const v = createTokenVerifier(hs({ tokens: { algorithms: ['HS256', 'RS256'], jwks: [publicJwk] } }), { secrets: secrets(), now: () => NOW_MS });
      expect(await v.verify(hmacToken({ alg: 'HS256', kid: 'rsa-1' }, validPayload, pem))).toMatchObject({ ok: false, reason: 'KEY_ALG_MISMATCH' });
      const rsLike = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64(validPayload)}.${createHmac('sha256', K1).update('x').digest('base64url')}`;
      expect(await v.verify(rsLike)).toMatchObject({ ok: false, reason: 'KEY_ALG_MISMATCH' });
      // Without a kid the HS256 token is tried against the HS secrets only, and fails there.
      expect(await v.verify(hmacToken({ alg: 'HS256' }, validPayload, pem))).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    });
  });

  test('an unknown kid is KID_UNKNOWN', async () => {
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k9' }, validPayload))).toMatchObject({ ok: false, reason: 'KID_UNKNOWN' });
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 7 }, validPayload))).toMatchObject({ ok: false, reason: 'KID_UNKNOWN' });
  });

  test('without a kid each configured secret is tried', async () => {
    expect(reasonOf(await verifier.verify(hmacToken({ alg: 'HS256' }, validPayload, K2)))).toBe('OK');
    expect(await verifier.verify(hmacToken({ alg: 'HS256' }, validPayload, 'another-secret'))).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  test('expired tokens are TOKEN_EXPIRED; the clock tolerance (5 s) applies', async () => {
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, exp: NOW_S - 6 }))).toMatchObject({ ok: false, reason: 'TOKEN_EXPIRED' });
    expect(reasonOf(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, exp: NOW_S - 4 })))).toBe('OK');
  });

  test('tokens not yet valid are TOKEN_NOT_YET_VALID', async () => {
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, nbf: NOW_S + 60 }))).toMatchObject({ ok: false, reason: 'TOKEN_NOT_YET_VALID' });
  });

  test('exp is required', async () => {
    const { exp: _exp, ...noExp } = validPayload;
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, noExp))).toMatchObject({ ok: false, reason: 'EXP_MISSING' });
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, exp: '9999999999' }))).toMatchObject({ ok: false, reason: 'EXP_MISSING' });
  });

  test('wrong iss or aud, and tokens older than the maximum age', async () => {
    const v = createTokenVerifier(hs({ tokens: { issuer: 'https://backend.example', audience: ['eventsock'], maxTokenAgeSeconds: 600 } }), { secrets: secrets(), now: () => NOW_MS });
    const good = { ...validPayload, iss: 'https://backend.example', aud: 'eventsock', iat: NOW_S - 10 };
    expect(reasonOf(await v.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, good)))).toBe('OK');
    expect(await v.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...good, iss: 'https://evil.example' }))).toMatchObject({ ok: false, reason: 'ISSUER_MISMATCH' });
    expect(await v.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...good, aud: ['other'] }))).toMatchObject({ ok: false, reason: 'AUDIENCE_MISMATCH' });
    const { aud: _aud, ...noAud } = good;
    expect(await v.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, noAud))).toMatchObject({ ok: false, reason: 'AUDIENCE_MISMATCH' });
    expect(await v.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...good, iat: NOW_S - 700 }))).toMatchObject({ ok: false, reason: 'TOKEN_TOO_OLD' });
  });

  test('a tampered payload is SIGNATURE_INVALID', async () => {
    const token = await sign({ channels: { '/chat/a': { subscribe: true } } });
    const [h, , s] = withoutTokenPrefix(token).split('.');
    const forged = `${h}.${b64({ ...validPayload, channels: { '/*': { subscribe: true, publish: true } } })}.${s}`;
    expect(await verifier.verify(forged)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    // Flipping one signature character is caught too.
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
    expect(await verifier.verify(flipped)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  test('a token over 2048 characters is refused before any crypto or secret read', async () => {
    const counting = countingSecrets();
    const v = createTokenVerifier(hs(), { secrets: counting, now: () => NOW_MS });
    const long = hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, pad: 'x'.repeat(2000) });
    expect(long.length).toBeGreaterThan(2048);
    expect(await v.verify(long)).toMatchObject({ ok: false, reason: 'TOKEN_TOO_LONG' });
    expect(await v.verify('a'.repeat(1_000_000))).toMatchObject({ ok: false, reason: 'TOKEN_TOO_LONG' });
    expect(counting.reads).toBe(0);
  });

  test('malformed base64 or JSON is TOKEN_MALFORMED', async () => {
    const sig = createHmac('sha256', K1).update('x').digest('base64url');
    const cases = [
      'not-a-jwt',
      'a.b',
      'a.b.c.d',
      `${b64({ alg: 'HS256' })}.${b64(validPayload)}.${sig}=`,
      `${b64({ alg: 'HS256' })}.${b64(validPayload)}.`,
      `${b64({ alg: 'HS256' })}.pay load.${sig}`,
      `!!!.${b64(validPayload)}.${sig}`,
      `${b64('{"alg":"HS256"')}.${b64(validPayload)}.${sig}`,
      `${b64('[1,2]')}.${b64(validPayload)}.${sig}`,
      `${b64({ typ: 'JWT' })}.${b64(validPayload)}.${sig}`,
      `${b64({ alg: 'HS256', kid: 'k1', crit: ['exp'] })}.${b64(validPayload)}.${sig}`,
    ];
    for (const t of cases) expect([t, reasonOf(await verifier.verify(t))]).toEqual([t, 'TOKEN_MALFORMED']);
    // Correctly signed, but the payload is not JSON: caught after the signature.
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, 'not json'))).toMatchObject({ ok: false, reason: 'TOKEN_MALFORMED' });
    expect(await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, '[1]'))).toMatchObject({ ok: false, reason: 'TOKEN_MALFORMED' });
  });

  test('claims of the wrong types are CLAIMS_INVALID with the core reason in the detail', async () => {
    const cases: Array<[object, string]> = [
      [{ channels: [] }, 'CHANNELS_INVALID'],
      [{ channels: undefined }, 'CHANNELS_MISSING'],
      [{ scope: 7 }, 'SCOPE_INVALID'],
      [{ scope: 'connect admin' }, 'SCOPE_INVALID'],
      [{ uid: 12 }, 'UID_INVALID'],
      [{ umd: { big: 'x'.repeat(1100) } }, 'UMD_TOO_LARGE'],
      [{ channels: { '/chat/a': { subscribe: 'yes' } } }, 'PERMISSIONS_INVALID'],
      [{ channels: { '/chat/a': { publish: [1] } } }, 'PERMISSIONS_INVALID'],
      [{ channels: { '/chat/a': { admin: true } } }, 'PERMISSIONS_INVALID'],
      [{ channels: { '/chat/a': true } }, 'PERMISSIONS_INVALID'],
      [{ channels: { '/chat/a b': { subscribe: true } } }, 'PATTERN_INVALID'],
      [{ channels: { '/chat/**': { subscribe: true } } }, 'PATTERN_INVALID'],
    ];
    for (const [patch, core] of cases) {
      const r = await verifier.verify(hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, ...patch }));
      expect(r).toMatchObject({ ok: false, reason: 'CLAIMS_INVALID' });
      expect((r as { detail: string }).detail.startsWith(core)).toBe(true);
    }
  });

  test('details never contain the token or a secret', async () => {
    const token = hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, exp: NOW_S - 100 });
    const r = await verifier.verify(token);
    expect(r.ok).toBe(false);
    const text = JSON.stringify(r);
    for (const part of token.split('.')) expect(text).not.toContain(part);
    expect(text).not.toContain(K1);
  });

  test('the verified-claims cache never outlives exp', async () => {
    let now = NOW_MS;
    const v = createTokenVerifier(hs(), { secrets: secrets(), now: () => now });
    const token = hmacToken({ alg: 'HS256', kid: 'k1' }, { ...validPayload, exp: NOW_S + 60 });
    expect(reasonOf(await v.verify(token))).toBe('OK');
    expect(reasonOf(await v.verify(token))).toBe('OK');
    now = NOW_MS + 66_000; // past exp + 5 s tolerance
    expect(await v.verify(token)).toMatchObject({ ok: false, reason: 'TOKEN_EXPIRED' });
  });

  test('a token signed by jose with SignJWT and no typ header is accepted too', async () => {
    const token = await new SignJWT(validPayload).setProtectedHeader({ alg: 'HS256', kid: 'k2' }).sign(new TextEncoder().encode(K2));
    expect(reasonOf(await verifier.verify(token))).toBe('OK');
  });
});
