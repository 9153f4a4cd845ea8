import { decodeJwt, decodeProtectedHeader } from 'jose';
import { signToken } from '../../client/token';
import { createClaimsCache } from '../../functions/tokens/claims-cache';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { K1, NOW_MS, NOW_S, secrets, settingsFor } from './fixtures';

const channels = { '/chat/room-1': { subscribe: true, publish: ['message'] } };

describe('signToken', () => {
  test('defaults: scope connect+subscribe, one hour, iat now, typ JWT, kid when given', async () => {
    const token = await signToken({ channels, secret: K1, kid: 'k1', now: NOW_MS });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
    expect(decodeJwt(token)).toEqual({ scope: 'connect subscribe', channels, iat: NOW_S, exp: NOW_S + 3600 });
    const noKid = await signToken({ channels, secret: K1, now: NOW_MS });
    expect(decodeProtectedHeader(noKid).kid).toBeUndefined();
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
    expect(decodeJwt(token)).toEqual({
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

  test('drops entries past their validity and evicts the oldest when full', () => {
    const cache = createClaimsCache(2);
    cache.set('a', entry(100));
    cache.set('b', entry(100));
    expect(cache.get('a', 50)).toBeDefined();
    cache.set('c', entry(100));
    expect(cache.size).toBe(2);
    expect(cache.get('a', 50)).toBeUndefined();
    expect(cache.get('c', 100)).toBeDefined();
    expect(cache.get('c', 101)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  test('size 0 disables it', () => {
    const cache = createClaimsCache(0);
    cache.set('a', entry(100));
    expect(cache.get('a', 1)).toBeUndefined();
  });
});
