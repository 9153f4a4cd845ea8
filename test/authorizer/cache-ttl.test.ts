/**
 * ttlOverride: AppSync may key its authorizer cache on the token alone, so an
 * answer may only be cached when it is the answer for every operation and channel.
 */
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import type { AuthorizerEvent } from '../../functions/core/authorizer-contract';
import type { EventsockConfig } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { event, NOW_MS, secrets, settingsFor, sign } from '../tokens/fixtures';

const OPEN: EventsockConfig = { defaultNamespace: 'chat', namespaces: { chat: { clientPublish: true }, game: { clientPublish: true } } };
const ADMIN = { '/*': { subscribe: true, publish: true } };

function authorizerFor(config: EventsockConfig, now = () => NOW_MS) {
  return createAuthorizerHandler({ settings: settingsFor(config), secrets: secrets(), logger: memoryLogger(), now });
}

function everyRequest(token: string): AuthorizerEvent[] {
  return [
    event('EVENT_CONNECT', token),
    event('EVENT_SUBSCRIBE', token, '/chat'),
    event('EVENT_SUBSCRIBE', token, '/chat/a/b'),
    event('EVENT_SUBSCRIBE', token, '/game/*'),
    event('EVENT_PUBLISH', token, '/game/x'),
  ];
}

describe('ttlOverride', () => {
  test('allows for ordinary tokens are never cached', async () => {
    const authorize = authorizerFor(OPEN);
    const token = await sign({ channels: { '/chat/*': { subscribe: true, publish: true } } });
    for (const e of [event('EVENT_CONNECT', token), event('EVENT_SUBSCRIBE', token, '/chat/a'), event('EVENT_PUBLISH', token, '/chat/a')]) {
      expect(await authorize(e)).toMatchObject({ isAuthorized: true, ttlOverride: 0 });
    }
  });

  test('denials are never cached', async () => {
    const authorize = authorizerFor(OPEN);
    const token = await sign({ channels: ADMIN, scope: ['subscribe'] });
    expect(await authorize(event('EVENT_CONNECT', token))).toEqual({ isAuthorized: false, ttlOverride: 0 });
  });

  test('a token allowed everything everywhere is cached, capped by the secrets refresh (300 s)', async () => {
    const authorize = authorizerFor(OPEN);
    const token = await sign({ channels: ADMIN, ttlSeconds: 7200 });
    const results = await Promise.all(everyRequest(token).map((e) => authorize(e)));
    for (const r of results) expect(r).toMatchObject({ isAuthorized: true, ttlOverride: 300 });
    // The same handlerContext everywhere, so a replayed answer hands onPublish the right identity.
    expect(new Set(results.map((r) => JSON.stringify(r.handlerContext))).size).toBe(1);
  });

  test('a cached answer never outlives exp, iat + maxTokenAge, or 3600 s', async () => {
    const shortLived = await sign({ channels: ADMIN, ttlSeconds: 90 });
    expect(await authorizerFor(OPEN)(event('EVENT_CONNECT', shortLived))).toMatchObject({ ttlOverride: 90 });

    const later = NOW_MS + 89_500;
    expect(await authorizerFor(OPEN, () => later)(event('EVENT_CONNECT', shortLived))).toMatchObject({ isAuthorized: true, ttlOverride: 0 });

    const long = await sign({ channels: ADMIN, ttlSeconds: 86_400 });
    expect(await authorizerFor({ ...OPEN, tokens: { secretsCacheSeconds: 3600 } })(event('EVENT_CONNECT', long))).toMatchObject({ ttlOverride: 3600 });
    expect(await authorizerFor({ ...OPEN, tokens: { secretsCacheSeconds: 3600, maxTokenAgeSeconds: 1000 } })(event('EVENT_CONNECT', long))).toMatchObject({ ttlOverride: 1000 });
    expect(await authorizerFor({ ...OPEN, tokens: { secretsCacheSeconds: 0 } })(event('EVENT_CONNECT', long))).toMatchObject({ ttlOverride: 0 });
  });

  test('near-universal tokens are not cached', async () => {
    const cases: Array<[EventsockConfig, Record<string, object>, string[]?]> = [
      // The default namespace takes no client publishes, so a publish there would be refused.
      [{}, ADMIN],
      // A namespace refusing wildcard subscriptions.
      [{ namespaces: { chat: { clientPublish: true, allowWildcardSubscribe: false } } }, ADMIN],
      // Without scope connect the connect answer differs.
      [OPEN, ADMIN, ['subscribe']],
      // '/chat/*' misses the bare '/chat' channel and the game namespace.
      [OPEN, { '/chat/*': { subscribe: true, publish: true }, '/game/*': { subscribe: true, publish: true } }],
      // Subscribe everywhere but publish only somewhere.
      [OPEN, { '/*': { subscribe: true }, '/chat/*': { publish: true } }],
    ];
    for (const [config, channels, scope] of cases) {
      const token = await sign({ channels: channels as never, scope: (scope ?? ['connect', 'subscribe']) as never });
      const authorize = authorizerFor(config);
      for (const e of everyRequest(token)) {
        const r = await authorize(e);
        expect([JSON.stringify(channels), r.ttlOverride]).toEqual([JSON.stringify(channels), 0]);
      }
    }
  });

  test('exact bare-namespace grants plus tails make a token universal', async () => {
    const authorize = authorizerFor({ namespaces: { chat: { clientPublish: true } } });
    const token = await sign({ channels: { '/chat': { subscribe: true, publish: true }, '/chat/*': { subscribe: true, publish: ['m'] } } });
    expect(await authorize(event('EVENT_SUBSCRIBE', token, '/chat/a/*'))).toMatchObject({ isAuthorized: true, ttlOverride: 300 });
  });
});
