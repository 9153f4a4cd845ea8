import { decodeJwt, decodeProtectedHeader } from 'jose';
import { TOKEN_PREFIX, withoutTokenPrefix } from '../../functions/core/token-format';
import { signToken } from '../../client/token';
import { createBoundedMap } from '../../functions/tokens/bounded-map';
import { createClaimsCache } from '../../functions/tokens/claims-cache';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { K1, NOW_MS, NOW_S, secrets, settingsFor } from './fixtures';

const channels = { '/chat/room-1': { subscribe: true, publish: ['message'] } };

describe('signToken', () => {
  test('defaults: scope connect+subscribe, one hour, iat now, typ JWT, kid when given', async () => {
    const prefixed = await signToken({ channels, secret: K1, kid: 'k1', now: NOW_MS });
    // `es1.` + the JWT (functions/core/token-format.ts); prefix: false gives the same JWT bare.
    expect(prefixed.startsWith(TOKEN_PREFIX)).toBe(true);
    const token = withoutTokenPrefix(prefixed);
    expect(await signToken({ channels, secret: K1, kid: 'k1', now: NOW_MS, prefix: false })).toBe(token);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
    expect(decodeJwt(token)).toEqual({ scope: 'connect subscribe', channels, iat: NOW_S, exp: NOW_S + 3600 });
    const noKid = await signToken({ channels, secret: K1, now: NOW_MS });
    expect(decodeProtectedHeader(withoutTokenPrefix(noKid)).kid).toBeUndefined();
  });

  test('every option lands in its claim, and the verifier accepts the result', async () => {
    const token = await signToken({
      channels,
      secret: new TextEncoder().encode(K1),
      kid: 'k1',
      scope: ['subscribe'],
      uid: 'user-1',
      umd: { name: 'Ann' },
      ttlSeconds: 60,
      issuer: 'https://backend.example',
      audience: 'eventsock',
      subject: 'sub-1',
      jti: 'jti-1',
      notBefore: new Date(NOW_MS - 10_000),
      now: new Date(NOW_MS),
    });
    expect(decodeJwt(withoutTokenPrefix(token))).toEqual({
      scope: 'subscribe',
      channels,
      uid: 'user-1',
      umd: { name: 'Ann' },
      iss: 'https://backend.example',
      aud: 'eventsock',
      sub: 'sub-1',
      jti: 'jti-1',
      nbf: NOW_S - 10,
      iat: NOW_S,
      exp: NOW_S + 60,
    });
    const v = createTokenVerifier(settingsFor({ tokens: { issuer: 'https://backend.example', audience: 'eventsock' } }).tokens, { secrets: secrets(), now: () => NOW_MS });
    const r = await v.verify(token);
    expect(r).toMatchObject({ ok: true, claims: { uid: 'user-1', jti: 'jti-1', sub: 'sub-1', exp: NOW_S + 60 } });
    expect(r.ok && [...r.claims.scopes]).toEqual(['subscribe']);
  });

  test('bad options are errors naming the option, checked with the authorizer\u2019s own claim rules', async () => {
    const cases: Array<[object, string]> = [
      [{ ttlSeconds: 0 }, 'ttlSeconds'],
      [{ ttlSeconds: 1.5 }, 'ttlSeconds'],
      [{ channels: { '/chat/a b': { subscribe: true } } }, 'channels'],
      [{ channels: { '/chat/a': { publish: 'yes' } } }, 'channels'],
      [{ scope: ['admin'] }, 'scope'],
      [{ uid: 'u'.repeat(200) }, 'uid'],
      [{ umd: { blob: 'x'.repeat(2000) } }, 'umd'],
      [{ secret: '' }, 'secret'],
      [{ notBefore: Number.NaN }, 'notBefore'],
    ];
    for (const [patch, field] of cases) {
      await expect(signToken({ channels, secret: K1, now: NOW_MS, ...patch } as never)).rejects.toMatchObject({ code: 'INVALID_TOKEN_OPTIONS', field });
    }
  });

  test('a token the authorizer would refuse as too long is an error here', async () => {
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`/chat/room-number-${i}`, { subscribe: true }]));
    await expect(signToken({ channels: many, secret: K1, now: NOW_MS })).rejects.toMatchObject({ code: 'INVALID_TOKEN_OPTIONS', limit: 2048 });
  });

  test('the error never echoes the secret', async () => {
    const err = await signToken({ channels, secret: K1, ttlSeconds: -1 }).catch((e: Error) => e);
    expect(JSON.stringify(err) + String(err)).not.toContain(K1);
  });
});

describe('claims cache', () => {
  const entry = (validUntilSec: number) => ({ claims: {} as never, payload: {}, validUntilSec });

  test('drops entries past their validity', () => {
    const cache = createClaimsCache(10);
    cache.set('a', entry(100));
    expect(cache.get('a', 100)).toBeDefined();
    expect(cache.get('a', 101)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test('a token is remembered as verified on first sight and keeps its parsed claims from the second on', async () => {
    const v = createTokenVerifier(settingsFor().tokens, { secrets: secrets(), now: () => NOW_MS });
    const token = await signToken({ channels, secret: K1, kid: 'k1', now: NOW_MS });
    const [a, b, c] = [await v.verify(token), await v.verify(token), await v.verify(token)];
    expect([a.ok, b.ok, c.ok]).toEqual([true, true, true]);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(b.claims).not.toBe(a.claims);
    expect(b.claims).toEqual(a.claims);
    expect(c.claims).toBe(b.claims);
    expect(c.payload).toEqual(a.payload);
  });

  test('tiers expire with the token too', () => {
    const cache = createClaimsCache(10);
    cache.remember('t', { validUntilSec: 100 });
    expect(cache.mark('t', 100)).toBeDefined();
    expect(cache.mark('t', 101)).toBeUndefined();
    cache.set('u', { ...entry(100) });
    expect(cache.mark('u', 1)).toBeUndefined();
    cache.delete('u');
    expect(cache.get('u', 1)).toBeUndefined();
  });

  test('size 0 disables it', () => {
    const cache = createClaimsCache(0);
    cache.set('a', entry(100));
    expect(cache.get('a', 1)).toBeUndefined();
  });
});

describe('bounded map', () => {
  test('never holds more than its bound, however many keys arrive', () => {
    const m = createBoundedMap<number, number>(100);
    for (let i = 0; i < 10_000; i++) {
      m.set(i, i);
      expect(m.size).toBeLessThanOrEqual(100);
    }
    expect(m.get(9_999)).toBe(9_999);
    expect(m.get(0)).toBeUndefined();
  });

  test('entries in use survive a flood of new ones; idle ones age out', () => {
    const m = createBoundedMap<string, number>(4);
    m.set('hot', 1);
    m.set('idle', 2);
    for (let i = 0; i < 50; i++) {
      expect(m.get('hot')).toBe(1);
      m.set(`new-${i}`, i);
    }
    expect(m.get('hot')).toBe(1);
    expect(m.get('idle')).toBeUndefined();
  });

  test('set replaces, delete removes from either generation', () => {
    const m = createBoundedMap<string, number>(4);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3); // 'a' and 'b' are now the old generation
    m.set('a', 10);
    expect(m.get('a')).toBe(10);
    m.delete('b');
    m.delete('c');
    expect(m.get('b')).toBeUndefined();
    expect(m.get('c')).toBeUndefined();
    expect(m.size).toBe(1);
  });
});
