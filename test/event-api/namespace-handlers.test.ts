import { resolveConfig } from '../../functions/core/config';
import { namespaceHandlerCode } from '../../functions/namespace/code';
import { Client, headerProtocol, publishWs, startApi, subscribe, wsUrl } from './helpers';

const CUSTOM = `
import { util } from '@aws-appsync/utils';
export function onPublish(ctx) {
  const out = [];
  for (const e of ctx.events) {
    if (e.payload.drop) continue;
    if (e.payload.bad) { out.push({ id: e.id, error: 'bad event' }); continue; }
    out.push({ id: e.id, payload: { ...e.payload, path: ctx.info.channel.path, ns: ctx.info.channelNamespace.name, who: ctx.identity === null ? null : ctx.identity.username } });
  }
  return out;
}
export function onSubscribe(ctx) {
  if (ctx.info.channel.path.includes('secret')) util.unauthorized();
  if (ctx.info.channel.segments[1] === 'err') util.error('not today', 'CustomError');
}
`;

describe('event API: namespace handlers (APPSYNC_JS)', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ namespaceHandlerCode: CUSTOM });
  });
  afterAll(() => srv.close());

  it('runs onPublish: transforms, drops and fails events individually', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, 'x-api-key': 'da2-local-test-key' })]);
    await subscribe(c, srv, 's', '/default/*');
    const res = await publishWs(c, srv, 'p', 'default/room', ['{"n":1}', '{"drop":true}', '{"bad":true}', '{"n":4}']);
    expect(res.type).toBe('publish_success');
    expect(res.successful.map((s: any) => s.index)).toEqual([0, 1, 3]);
    expect(res.failed).toEqual([expect.objectContaining({ index: 2, message: 'bad event' })]);
    await c.next(() => c.data('s').length === 2);
    expect(c.data('s').map((f) => JSON.parse(f.event))).toEqual([
      { n: 1, path: '/default/room', ns: 'default', who: null },
      { n: 4, path: '/default/room', ns: 'default', who: null },
    ]);
    // In-process publishes run as IAM: the handler sees the caller's identity.
    await srv.api.publish('/default/room', ['{"n":5}']);
    await c.next(() => c.data('s').length === 3);
    expect(JSON.parse(c.data('s')[2].event).who).toBe('in-process');
    c.close();
  });

  it('runs onSubscribe: util.unauthorized() and util.error() refuse the subscription', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, 'x-api-key': 'da2-local-test-key' })]);
    expect((await subscribe(c, srv, 'a', '/default/secret')).errors[0].errorType).toBe('Unauthorized');
    expect((await subscribe(c, srv, 'b', '/default/err/x')).errors[0]).toMatchObject({ errorType: 'CustomError', message: 'not today' });
    expect((await subscribe(c, srv, 'c', '/default/fine')).type).toBe('subscribe_success');
    c.close();
  });
});

describe('event API: the real Eventsock handlers with Lambda auth', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  const config = {
    auth: { apiKey: {} },
    namespaces: {
      default: { clientPublish: true, subscribeAuthModes: ['AWS_LAMBDA' as const], publishAuthModes: ['AWS_IAM' as const, 'AWS_LAMBDA' as const, 'API_KEY' as const] },
      closed: { allowWildcardSubscribe: false, subscribeAuthModes: ['AWS_LAMBDA' as const] },
    },
  };
  beforeAll(async () => {
    srv = await startApi({
      config,
      namespaceHandlerCode: namespaceHandlerCode(resolveConfig(config)),
      authorizer: async () => ({
        isAuthorized: true,
        handlerContext: { uid: 'u1', umd: '{"name":"Ann"}', publish: JSON.stringify([['/default/*', ['chat']]]) },
      }),
    });
  });
  afterAll(() => srv.close());

  it('wraps client events in the envelope with meta from handlerContext and refuses names the token does not allow', async () => {
    const auth = { host: srv.httpHost, Authorization: 'token' };
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(auth)]);
    await subscribe(c, srv, 's', '/default/room', auth);
    const res = await publishWs(c, srv, 'p', '/default/room', [JSON.stringify({ event: 'chat', data: { text: 'hi' } }), JSON.stringify({ event: 'admin' })], auth);
    expect(res.successful.map((s: any) => s.index)).toEqual([0]);
    expect(res.failed[0]).toMatchObject({ index: 1 });
    expect(res.failed[0].message).toMatch(/EVENT_NOT_ALLOWED/);
    await c.next(() => c.data('s').length === 1);
    const env = JSON.parse(c.data('s')[0].event);
    expect(env).toMatchObject({ event: 'chat', channel: '/default/room', data: { text: 'hi' }, meta: { uid: 'u1', umd: { name: 'Ann' } } });
    expect(env.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    // IAM publishers (the publish function) pass through unchanged; API-key publishers are refused by the handler.
    await srv.api.publish('/default/room', [JSON.stringify({ id: 'X', event: 'e', channel: '/default/room', data: null, meta: { uid: null, umd: null } })]);
    await c.next(() => c.data('s').length === 2);
    expect(JSON.parse(c.data('s')[1].event).id).toBe('X');
    const key = await publishWs(c, srv, 'k', '/default/room', ['{"event":"chat"}'], { host: srv.httpHost, 'x-api-key': 'da2-local-test-key' });
    expect(key).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'Unauthorized' }] });
    // allowWildcardSubscribe: false in the config reaches onSubscribe.
    expect((await subscribe(c, srv, 'w', '/closed/*', auth)).errors[0].errorType).toBe('Unauthorized');
    expect((await subscribe(c, srv, 'x', '/closed/a', auth)).type).toBe('subscribe_success');
    c.close();
  });
});
