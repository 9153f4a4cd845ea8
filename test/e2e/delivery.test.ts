/**
 * End to end through the whole local system: real sockets, the real authorizer,
 * publish and history handlers, dynalite, and SigV4 signed and verified for real.
 */
import { iamAuthorization } from '../../client/auth';
import { createSigner } from '../../client/sigv4';
import { signToken } from '../../client/token';
import { publishHttp, RawSocket, signedInvoke, startTestServer, TEST_IAM, TEST_TOKEN_SECRET } from './helpers';

/** The publish function's answer carries the id directly or inside a Function-URL-style body. */
function publishedId(out: any): string {
  if (typeof out?.id === 'string') return out.id;
  if (typeof out?.body === 'string') return JSON.parse(out.body).id;
  throw new Error(`no id in ${JSON.stringify(out)}`);
}

describe('end to end: backends publish, subscribers receive', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let sockets: RawSocket[] = [];
  const tokenAuth = () => ({ host: server.httpHost, Authorization: server.devToken });
  const open = async (auth: Record<string, string>) => {
    const s = await RawSocket.connect(server.wsUrl, auth);
    sockets.push(s);
    await s.type('connection_ack');
    return s;
  };

  beforeAll(async () => {
    server = await startTestServer({
      namespaces: {
        default: {},
        chat: { clientPublish: true, defaultStoreSeconds: 3600 },
        open: { subscribeAuthModes: ['API_KEY', 'AWS_LAMBDA'] },
      },
      auth: { apiKey: {} },
    });
  });
  afterEach(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    sockets = [];
  });
  afterAll(() => server.close());

  it('a dev-token subscriber receives what a backend publishes through /publish with the key, in the envelope', async () => {
    const sub = await open(tokenAuth());
    expect(sub.frames[0]).toEqual({ type: 'connection_ack', connectionTimeoutMs: 300000 });
    expect((await sub.subscribe('s1', '/default/room-1', tokenAuth())).type).toBe('subscribe_success');

    const res = await publishHttp(server, { channel: 'room-1', event: 'greeting', data: { text: 'hello' } });
    expect(res.status).toBe(202);
    const [env] = await sub.waitEvents('s1', 1);
    expect(env).toEqual({ id: res.body.id, event: 'greeting', channel: '/default/room-1', data: { text: 'hello' }, meta: { uid: null, umd: null } });
  });

  it('refuses the publish API without a valid key, and delivers nothing', async () => {
    const sub = await open(tokenAuth());
    await sub.subscribe('s1', '/default/*', tokenAuth());
    const res = await publishHttp(server, { channel: 'room-1', event: 'x' }, 'not-the-key-0123456789');
    expect(res.status).toBe(401);
    const ok = await publishHttp(server, { channel: 'room-2', event: 'after' });
    const [env] = await sub.waitEvents('s1', 1);
    expect(env.id).toBe(ok.body.id);
  });

  it('delivers what a backend invokes with IAM at /invoke/publish and at the Lambda Invoke API path; a bad signature is refused', async () => {
    const sub = await open(tokenAuth());
    await sub.subscribe('s1', '/default/*', tokenAuth());
    const body = JSON.stringify({ channel: '/default/orders/42', event: 'order.paid', data: { total: 12 } });
    const a = await signedInvoke(`${server.url}/invoke/publish`, body, { region: server.settings.region });
    expect(a.status).toBe(200);
    const idA = publishedId(await a.json());
    const b = await signedInvoke(`${server.url}/2015-03-31/functions/eventsock-publish/invocations`, body.replace('order.paid', 'order.shipped'), { region: server.settings.region });
    expect(b.status).toBe(200);
    const idB = publishedId(await b.json());
    const events = await sub.waitEvents('s1', 2);
    expect(events.map((e) => [e.id, e.event, e.channel])).toEqual([
      [idA, 'order.paid', '/default/orders/42'],
      [idB, 'order.shipped', '/default/orders/42'],
    ]);

    const wrongKey = await signedInvoke(`${server.url}/invoke/publish`, body, { region: server.settings.region, credentials: { ...TEST_IAM, secretAccessKey: 'wrong-secret' } });
    expect(wrongKey.status).toBe(403);
    expect(wrongKey.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    const wrongService = await signedInvoke(`${server.url}/invoke/publish`, body, { region: server.settings.region, service: 'appsync' });
    expect(wrongService.status).toBe(403);
    // Altered after signing: the signature covers the body.
    const u = new URL(`${server.url}/invoke/publish`);
    const signer = createSigner({ region: server.settings.region, service: 'lambda', credentials: TEST_IAM });
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, headers: { host: u.host, 'content-type': 'application/json' }, body });
    const altered = await fetch(u, { method: 'POST', headers: signed, body: body.replace('12', '13') });
    expect(altered.status).toBe(403);
    expect(sub.events('s1')).toHaveLength(2);
  });

  it('lets an IAM subscriber connect and subscribe with SigV4 (service appsync) and receive', async () => {
    const signer = createSigner({ region: server.settings.region, service: 'appsync', credentials: TEST_IAM });
    const sub = await open(await iamAuthorization(signer, server.httpHost, { kind: 'connect' }));
    const frame = await sub.subscribe('iam-1', '/default/room-9', await iamAuthorization(signer, server.httpHost, { kind: 'subscribe', channel: '/default/room-9' }));
    expect(frame.type).toBe('subscribe_success');
    const res = await publishHttp(server, { channel: 'room-9', event: 'e' });
    const [env] = await sub.waitEvents('iam-1', 1);
    expect(env.id).toBe(res.body.id);
  });

  it('lets an API-key subscriber subscribe where the namespace allows API_KEY, and refuses it where not', async () => {
    const keyAuth = { host: server.httpHost, 'x-api-key': server.appSyncApiKey! };
    const sub = await open(keyAuth);
    expect((await sub.subscribe('k1', '/open/news', keyAuth)).type).toBe('subscribe_success');
    const refused = await sub.subscribe('k2', '/default/news', keyAuth);
    expect(refused).toMatchObject({ type: 'subscribe_error', errors: [expect.objectContaining({ errorType: 'UnauthorizedException' })] });
    const res = await publishHttp(server, { channel: '/open/news', event: 'headline' });
    const [env] = await sub.waitEvents('k1', 1);
    expect(env.id).toBe(res.body.id);
  });

  it('matches wildcard subscriptions at any depth and only below their prefix', async () => {
    const sub = await open(tokenAuth());
    await sub.subscribe('all', '/default/*', tokenAuth());
    await sub.subscribe('a', 'default/a/*', tokenAuth()); // no leading slash, as Amplify sends
    await sub.subscribe('exact', '/default/a', tokenAuth());
    for (const channel of ['/default/a', '/default/a/b', '/default/a/b/c/d', '/default/b']) {
      expect((await publishHttp(server, { channel, event: 'e' })).status).toBe(202);
    }
    const channels = (id: string) => sub.events(id).map((e) => e.channel);
    await sub.waitEvents('all', 4);
    expect(channels('all')).toEqual(['/default/a', '/default/a/b', '/default/a/b/c/d', '/default/b']);
    expect(channels('a')).toEqual(['/default/a/b', '/default/a/b/c/d']);
    expect(channels('exact')).toEqual(['/default/a']);
  });

  it('refuses a subscription the token does not grant, with the service error shape, and keeps the others', async () => {
    const token = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', channels: { '/default/allowed': { subscribe: true } }, ttlSeconds: 600 });
    const auth = { host: server.httpHost, Authorization: token };
    const sub = await open(auth);
    expect((await sub.subscribe('ok', '/default/allowed', auth)).type).toBe('subscribe_success');
    const refused = await sub.subscribe('no', '/default/*', auth);
    expect(refused).toMatchObject({ type: 'subscribe_error', id: 'no', errors: [expect.objectContaining({ errorType: 'UnauthorizedException' })] });
    const res = await publishHttp(server, { channel: 'allowed', event: 'e' });
    const [env] = await sub.waitEvents('ok', 1);
    expect(env.id).toBe(res.body.id);
  });

  it('lets a client publish over its socket where the namespace allows it, stamped with its identity', async () => {
    const sub = await open(tokenAuth());
    await sub.subscribe('room', '/chat/lobby', tokenAuth());
    sub.send({ type: 'publish', id: 'p1', channel: '/chat/lobby', events: [JSON.stringify({ event: 'chat.message', data: { text: 'yo' }, meta: { uid: 'forged' } })], authorization: tokenAuth() });
    const ack = await sub.next((f) => f.id === 'p1');
    expect(ack.type).toBe('publish_success');
    const [env] = await sub.waitEvents('room', 1);
    expect(env).toMatchObject({ event: 'chat.message', channel: '/chat/lobby', data: { text: 'yo' }, meta: { uid: 'dev' } });

    sub.send({ type: 'publish', id: 'p2', channel: '/default/room-1', events: [JSON.stringify({ event: 'x', data: 1 })], authorization: tokenAuth() });
    const refused = await sub.next((f) => f.id === 'p2');
    // /default takes publishes from IAM only (the publish function), so a client's token is refused there.
    expect(refused).toMatchObject({ type: 'publish_error', id: 'p2', errors: [expect.objectContaining({ errorType: 'UnauthorizedException' })] });
  });

  it('refuses an unauthorized HTTP publish to the Event API with the service error shape', async () => {
    const res = await fetch(`${server.url}/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: server.devToken },
      body: JSON.stringify({ channel: '/default/room-1', events: [JSON.stringify({ event: 'x' })] }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnauthorizedException');
    const body = await res.json();
    expect(body.errors[0].errorType).toBe('UnauthorizedException');
    expect(typeof body.message).toBe('string');
  });

  it('puts emitPubSubEvent messages on the local EventBridge stand-in, where they can be seen', async () => {
    const res = await publishHttp(server, { channel: 'room-1', event: 'side', data: { n: 1 }, emitPubSubEvent: true });
    expect(res.status).toBe(202);
    const seen = server.pubSubEvents.find((e) => (e.detail as { id?: string }).id === res.body.id);
    expect(seen).toMatchObject({ eventBusName: 'default', source: 'eventsock', detailType: 'eventsock.message.published', detail: { event: 'side', channel: '/default/room-1', data: { n: 1 } } });
    expect(server.logs.entries.some((e) => e.msg === 'eventbridge put' && e.id === res.body.id)).toBe(true);
  });

  it('reads stored messages back from the history API in id order, with the dev token', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await publishHttp(server, { channel: 'kept', event: 'n', data: i, store: 600 })).body.id);
    await publishHttp(server, { channel: 'kept', event: 'not-stored', data: 9 });
    const res = await fetch(`${server.url}/history?channel=/default/kept`, { headers: { authorization: `Bearer ${server.devToken}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const positions = ids.map((id) => text.indexOf(id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((x, y) => x - y)).toEqual(positions);
    expect(text).not.toContain('not-stored');
    const unauth = await fetch(`${server.url}/history?channel=/default/kept`);
    expect(unauth.status).toBe(401);
  });
});

