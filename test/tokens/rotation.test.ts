/**
 * HS256 key rotation with SSM (a fake `send` at the AWS boundary, the real
 * ssmSecretSource with its bounded cache, a controllable clock): old and new
 * secrets are both valid during the overlap; a removed secret is refused after the
 * refresh, even for tokens the verifier had already cached.
 */
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { memoryLogger } from '../../functions/shared/log';
import { ssmSecretSource, staticSecretSource } from '../../functions/shared/secrets';
import { createTokenVerifier } from '../../functions/tokens/verify';
import { event, NOW_MS, secretMap, settingsFor, sign } from './fixtures';

const OLD = 'old-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const NEW = 'new-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const P1 = '/eventsock/token-secret/k1';
const P2 = '/eventsock/token-secret/k2';

function fakeSsm(params: Map<string, string>) {
  const calls: string[] = [];
  return {
    calls,
    async send(command: { input: { Name?: string; WithDecryption?: boolean } }) {
      const name = command.input.Name!;
      calls.push(name);
      expect(command.input.WithDecryption).toBe(true);
      const value = params.get(name);
      if (value === undefined) throw Object.assign(new Error('Parameter not found'), { name: 'ParameterNotFound' });
      return { Parameter: { Name: name, Value: value } };
    },
  };
}

describe('HS256 key rotation', () => {
  test('overlap, then removal of the old secret after the SSM cache refresh', async () => {
    let now = NOW_MS;
    const params = new Map([[P1, OLD]]);
    const ssm = fakeSsm(params);
    const logger = memoryLogger();
    const source = ssmSecretSource(ssm as never, { ttlSeconds: 300, now: () => now, logger });
    const verifier = createTokenVerifier(settingsFor().tokens, { secrets: source, now: () => now, logger });

    const oldToken = await sign({ secret: OLD, kid: 'k1', now: NOW_MS, ttlSeconds: 7200 });
    const oldNoKid = await sign({ secret: OLD, kid: undefined, now: NOW_MS, ttlSeconds: 7200 });
    const newToken = await sign({ secret: NEW, kid: 'k2', now: NOW_MS, ttlSeconds: 7200 });

    // Before k2 exists: k1 tokens work (with or without kid); k2's absence does not block them.
    expect((await verifier.verify(oldToken)).ok).toBe(true);
    expect((await verifier.verify(oldNoKid)).ok).toBe(true);
    expect(await verifier.verify(newToken)).toMatchObject({ ok: false, reason: 'SECRET_UNAVAILABLE' });
    // The failure is logged with the parameter name only.
    expect(logger.entries.some((e) => e.parameterName === P2 && !JSON.stringify(e).includes(NEW))).toBe(true);

    // Hostile or early tokens naming k2 do not hammer SSM: the failure is remembered for 10 s.
    const readsOfP2 = () => ssm.calls.filter((n) => n === P2).length;
    const before = readsOfP2();
    expect(await verifier.verify(newToken + '')).toMatchObject({ ok: false, reason: 'SECRET_UNAVAILABLE' });
    expect(readsOfP2()).toBe(before);

    // The operator writes k2: a failed read is not cached by the source, so it works within 10 s, not 300 s.
    params.set(P2, NEW);
    now += 10_001;
    expect((await verifier.verify(newToken)).ok).toBe(true);
    expect(readsOfP2()).toBe(before + 1);
    expect((await verifier.verify(oldToken)).ok).toBe(true);

    // The operator retires k1 (here: overwrites it). Until the 300 s cache expires the old value still verifies.
    params.set(P1, 'replacement-secret-cccccccccccccccccccccc');
    now += 60_000;
    expect((await verifier.verify(oldToken)).ok).toBe(true);

    now += 300_000;
    expect(await verifier.verify(oldToken)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    expect(await verifier.verify(oldNoKid)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    expect((await verifier.verify(newToken)).ok).toBe(true);

    // Deleting the parameter outright refuses too.
    params.delete(P1);
    now += 301_000;
    expect(await verifier.verify(oldToken)).toMatchObject({ ok: false, reason: 'SECRET_UNAVAILABLE' });
  });

  test('SSM is read once per parameter per refresh interval, not per token', async () => {
    let now = NOW_MS;
    const ssm = fakeSsm(new Map([[P1, OLD]]));
    const source = ssmSecretSource(ssm as never, { ttlSeconds: 300, now: () => now, logger: memoryLogger() });
    const verifier = createTokenVerifier(settingsFor().tokens, { secrets: source, now: () => now });
    for (let i = 0; i < 5; i++) expect((await verifier.verify(await sign({ secret: OLD, kid: 'k1', jti: `t${i}`, now: NOW_MS }))).ok).toBe(true);
    expect(ssm.calls.filter((n) => n === P1)).toHaveLength(1);
    now += 301_000;
    expect((await verifier.verify(await sign({ secret: OLD, kid: 'k1', jti: 'later', now: NOW_MS }))).ok).toBe(true);
    expect(ssm.calls.filter((n) => n === P1)).toHaveLength(2);
  });

  test('through the authorizer, with a static source whose map changes (the emulator)', async () => {
    const map = secretMap();
    const authorize = createAuthorizerHandler({ settings: settingsFor(), secrets: staticSecretSource(map), logger: memoryLogger(), now: () => NOW_MS });
    const token = await sign();
    expect((await authorize(event('EVENT_CONNECT', token))).isAuthorized).toBe(true);
    map.delete(P1);
    // The cached verification is re-checked against the current secret, so removal is immediate here.
    expect((await authorize(event('EVENT_CONNECT', token))).isAuthorized).toBe(false);
  });
});
