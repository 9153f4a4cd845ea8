/**
 * The seam between the authorizer and the namespace handlers: a real signed token,
 * the real authorizer's handlerContext, fed to handlers.js as AppSync would
 * (ctx.identity.handlerContext).
 */
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import type { AuthorizerEvent } from '../../functions/core/authorizer-contract';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { signToken } from '../../client/token';
import { NOW, TEST_CONFIG, handlersFor, publish } from './helpers';

const SECRET = 'seam-test-secret-that-is-long-enough-0123456789';
const config = resolveConfig(TEST_CONFIG);
const authorize = createAuthorizerHandler({
  settings: runtimeSettings(config, { eventApiHttpHost: '127.0.0.1', region: 'us-east-1' }),
  secrets: staticSecretSource({ [config.tokens.hs256Keys[0].parameterName]: SECRET }),
  logger: memoryLogger(),
  now: () => NOW,
});
const { onPublish } = handlersFor();

function publishEvent(token: string, channel: string): AuthorizerEvent {
  return {
    authorizationToken: token,
    requestContext: { apiId: 'local', accountId: '000000000000', requestId: 'r1', operation: 'EVENT_PUBLISH', channelNamespaceName: channel.split('/')[1], channel },
    requestHeaders: {},
  };
}

async function identityFor(channels: Parameters<typeof signToken>[0]['channels'], channel: string, extra: { uid?: string; umd?: unknown } = {}) {
  const token = await signToken({ secret: SECRET, kid: config.tokens.hs256Keys[0].kid, channels, now: NOW, ...(extra as object) });
  const result = await authorize(publishEvent(token, channel));
  return { result, identity: result.handlerContext ? { handlerContext: result.handlerContext } : null };
}

test('publish grants and uid/umd flow from the token through handlerContext into the envelope', async () => {
  const { result, identity } = await identityFor({ '/chat/room-1': { subscribe: true, publish: ['chat.message'] } }, '/chat/room-1', { uid: 'u-7', umd: { name: 'Grace' } });
  expect(result.isAuthorized).toBe(true);
  const out = onPublish(publish('/chat/room-1', identity, [{ event: 'chat.message', data: 'hello', meta: { uid: 'forged' } }, { event: 'chat.delete' }]));
  expect(out[0].payload).toMatchObject({ event: 'chat.message', channel: '/chat/room-1', data: 'hello', meta: { uid: 'u-7', umd: { name: 'Grace' } } });
  expect(out[1].error).toMatch(/^EVENT_NOT_ALLOWED/);
});

test('a handlerContext reused for another channel (an authorizer cache hit) still only allows what the token grants there', async () => {
  const { identity } = await identityFor({ '/chat/room-1': { publish: true }, '/chat/room-2': { subscribe: true } }, '/chat/room-1');
  expect(onPublish(publish('/chat/room-1', identity, [{ event: 'x' }]))[0].error).toBeUndefined();
  expect(() => onPublish(publish('/chat/room-2', identity, [{ event: 'x' }]))).toThrow(expect.objectContaining({ code: 'HANDLER_UNAUTHORIZED' }));
});

test('wildcard grants normalised by the authorizer match the same channels in the handler', async () => {
  const { identity } = await identityFor({ 'chat/*/typing': { publish: ['typing'] } }, '/chat/room-9/typing');
  expect(onPublish(publish('/chat/room-9/typing', identity, [{ event: 'typing' }]))[0].error).toBeUndefined();
  expect(() => onPublish(publish('/chat/room-9/other', identity, [{ event: 'typing' }]))).toThrow(expect.objectContaining({ code: 'HANDLER_UNAUTHORIZED' }));
});
