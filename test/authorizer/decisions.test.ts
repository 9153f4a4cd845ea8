import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { handler as lambdaHandler } from '../../functions/authorizer/index';
import { memoryLogger } from '../../functions/shared/log';
import { event, NOW_MS, secrets, settingsFor, sign } from '../tokens/fixtures';

function setup() {
  const logger = memoryLogger();
  const authorize = createAuthorizerHandler({ settings: settingsFor(), secrets: secrets(), logger, now: () => NOW_MS });
  const last = () => logger.entries[logger.entries.length - 1];
  return { authorize, logger, last };
}

describe('authorizer decisions', () => {
  test('connect needs scope connect', async () => {
    const { authorize, last } = setup();
    const ok = await authorize(event('EVENT_CONNECT', await sign({ scope: ['connect'] })));
    expect(ok.isAuthorized).toBe(true);
    expect(last()).toMatchObject({ decision: 'allow', reason: 'GRANTED', operation: 'EVENT_CONNECT' });

    const no = await authorize(event('EVENT_CONNECT', await sign({ scope: ['subscribe'] })));
    expect(no).toEqual({ isAuthorized: false, ttlOverride: 0 });
    expect(last()).toMatchObject({ decision: 'deny', reason: 'SCOPE_CONNECT_MISSING' });

    const none = await authorize(event('EVENT_CONNECT', await sign({ scope: '' })));
    expect(none.isAuthorized).toBe(false);
  });

  test('subscribe needs subscribe on a covering pattern; publish-only grants do not count', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/chat/room-1': { subscribe: true }, '/chat/room-2': { publish: true } } });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/room-1'))).isAuthorized).toBe(true);
    // Leading slash omitted and a trailing one added, as Amplify and others send.
    expect((await authorize(event('EVENT_SUBSCRIBE', token, 'chat/room-1/'))).isAuthorized).toBe(true);
    expect(last()).toMatchObject({ channel: '/chat/room-1' });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/room-2'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'SUBSCRIBE_NOT_GRANTED', channel: '/chat/room-2' });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/room-3'))).isAuthorized).toBe(false);
  });

  test('wildcard subscriptions need a pattern covering all they can match', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/chat/rooms/*': { subscribe: true }, '/chat/dm/alice': { subscribe: true } } });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/rooms/*'))).isAuthorized).toBe(true);
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/rooms/a/*'))).isAuthorized).toBe(true);
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/*'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'SUBSCRIBE_NOT_GRANTED' });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/dm/*'))).isAuthorized).toBe(false);
  });

  test('wildcard subscriptions are refused where the namespace disallows them, even when granted', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/locked/*': { subscribe: true } } });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/locked/a'))).isAuthorized).toBe(true);
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/locked/*'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'WILDCARD_SUBSCRIBE_DISABLED' });
  });

  test('channels in namespaces that are not configured are refused', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/*': { subscribe: true, publish: true } } });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/other/a'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'NAMESPACE_UNKNOWN' });
    expect((await authorize(event('EVENT_PUBLISH', token, '/other/a'))).isAuthorized).toBe(false);
  });

  test('the namespace AppSync names must match the channel', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/*': { subscribe: true } } });
    const e = event('EVENT_SUBSCRIBE', token, '/chat/a');
    e.requestContext.channelNamespaceName = 'default';
    expect((await authorize(e)).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'NAMESPACE_MISMATCH' });
  });

  test('publish needs publish on the channel, in a namespace with clientPublish', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/chat/room-1': { publish: ['message'] }, '/chat/room-2': { publish: [] }, '/default/x': { publish: true }, '/chat/room-3': { subscribe: true, publish: false } } });
    expect((await authorize(event('EVENT_PUBLISH', token, '/chat/room-1'))).isAuthorized).toBe(true);
    expect((await authorize(event('EVENT_PUBLISH', token, '/chat/room-2'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'PUBLISH_NOT_GRANTED' });
    expect((await authorize(event('EVENT_PUBLISH', token, '/chat/room-3'))).isAuthorized).toBe(false);
    expect((await authorize(event('EVENT_PUBLISH', token, '/default/x'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'CLIENT_PUBLISH_DISABLED' });
  });

  test('publishing to a wildcard channel is refused as an invalid channel', async () => {
    const { authorize, last } = setup();
    const token = await sign({ channels: { '/chat/*': { publish: true } } });
    expect((await authorize(event('EVENT_PUBLISH', token, '/chat/*'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'CHANNEL_INVALID' });
  });

  test('handlerContext carries uid, umd and the publish allow-list as flat strings', async () => {
    const { authorize } = setup();
    const token = await sign({
      uid: 'user-7',
      umd: { name: 'Ann', tags: ['a'] },
      jti: 'j-1',
      subject: 's-1',
      channels: { 'chat/room-1': { subscribe: true, publish: ['message', 'typing'] }, '/chat/room-2/*': { publish: true }, '/chat/ro': { subscribe: true, publish: false } },
    });
    const r = await authorize(event('EVENT_PUBLISH', token, '/chat/room-1'));
    expect(r.isAuthorized).toBe(true);
    expect(r.handlerContext).toEqual({
      uid: 'user-7',
      umd: '{"name":"Ann","tags":["a"]}',
      publish: JSON.stringify([['/chat/room-1', ['message', 'typing']], ['/chat/room-2/*', true]]),
      sub: 's-1',
      jti: 'j-1',
    });
    for (const v of Object.values(r.handlerContext!)) expect(typeof v).toBe('string');
  });

  test('handlerContext.publish is valid JSON whatever the event names contain', async () => {
    const { authorize } = setup();
    const names = ['say "hi"', 'back\\slash', 'line\nbreak', 'üñí', '</script>'];
    const r = await authorize(event('EVENT_PUBLISH', await sign({ channels: { '/chat/*': { publish: names } } }), '/chat/a'));
    expect(JSON.parse(r.handlerContext!.publish as string)).toEqual([['/chat/*', names]]);
  });

  test('handlerContext without uid, umd, sub or jti uses empty strings and omits the optional keys', async () => {
    const { authorize } = setup();
    const r = await authorize(event('EVENT_SUBSCRIBE', await sign({ channels: { '/chat/a': { subscribe: true } } }), '/chat/a'));
    expect(r.handlerContext).toEqual({ uid: '', umd: '', publish: '[]' });
  });

  test('malformed events are refused, never thrown', async () => {
    const { authorize, last } = setup();
    const token = await sign();
    expect(await authorize(undefined as never)).toEqual({ isAuthorized: false, ttlOverride: 0 });
    expect(last()).toMatchObject({ reason: 'EVENT_INVALID' });
    expect((await authorize({ authorizationToken: token, requestContext: { operation: 'EVENT_DELETE' } } as never)).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'OPERATION_UNKNOWN' });
    expect((await authorize(event('EVENT_SUBSCRIBE', token))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'CHANNEL_MISSING' });
    expect((await authorize(event('EVENT_SUBSCRIBE', 42 as never, '/chat/room-1'))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'TOKEN_MISSING' });
    expect((await authorize(event('EVENT_SUBSCRIBE', token, '/chat/' + 'a'.repeat(5000)))).isAuthorized).toBe(false);
    expect(last()).toMatchObject({ reason: 'CHANNEL_INVALID' });
  });

  test('logs carry jti and sub but never the token', async () => {
    const { authorize, logger } = setup();
    const token = await sign({ jti: 'jti-9', subject: 'sub-9', scope: ['subscribe'] });
    await authorize(event('EVENT_CONNECT', token));
    await authorize(event('EVENT_SUBSCRIBE', token, '/chat/room-1'));
    await authorize(event('EVENT_SUBSCRIBE', token + 'x', '/chat/room-1'));
    const text = JSON.stringify(logger.entries);
    expect(logger.entries.map((e) => e.decision)).toEqual(['deny', 'allow', 'deny']);
    expect(logger.entries[0]).toMatchObject({ jti: 'jti-9', sub: 'sub-9', requestId: 'req-1' });
    for (const part of token.split('.')) expect(text).not.toContain(part);
  });

  test('the Lambda entry point reads EVENTSOCK_SETTINGS and names it when missing', async () => {
    const saved = process.env.EVENTSOCK_SETTINGS;
    delete process.env.EVENTSOCK_SETTINGS;
    await expect(lambdaHandler(event('EVENT_CONNECT', 'x'))).rejects.toMatchObject({ code: 'INVALID_CONFIG', field: 'EVENTSOCK_SETTINGS' });
    if (saved !== undefined) process.env.EVENTSOCK_SETTINGS = saved;
  });
});
