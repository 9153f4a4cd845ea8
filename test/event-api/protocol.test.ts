import { API_KEY, apiKeyClient, Client, headerProtocol, keyAuth, postEvent, publishWs, rawUpgrade, startApi, subscribe, wsUrl } from './helpers';

describe('event API: handshake', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ keepAliveIntervalMs: 100 });
  });
  afterAll(() => srv.close());

  it('selects aws-appsync-event-ws and answers connection_init with ack (timeout at top level) then ka', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol(keyAuth(srv))]);
    expect(c.ws.protocol).toBe('aws-appsync-event-ws');
    c.send({ type: 'connection_init', payload: { ignored: true } });
    await c.type('ka');
    expect(c.frames[0]).toEqual({ type: 'connection_ack', connectionTimeoutMs: 300000 });
    expect(c.frames[1]).toEqual({ type: 'ka' });
    // and again on the interval
    await c.next((f) => f.type === 'ka' && c.frames.filter((x) => x.type === 'ka').length >= 2);
    c.close();
  });

  it('accepts header- first, with spaces, padding and a trailing newline in the JSON', async () => {
    const json = JSON.stringify(keyAuth(srv)) + '\n';
    let b64 = Buffer.from(json).toString('base64url');
    while (b64.length % 4) b64 += '=';
    const got = await rawUpgrade(srv, `header-${b64} ,  aws-appsync-event-ws`, JSON.stringify({ type: 'connection_init' }));
    expect(got.protocol).toBe('aws-appsync-event-ws');
    expect(JSON.parse(got.texts[0])).toEqual({ type: 'connection_ack', connectionTimeoutMs: 300000 });
  });

  it('accepts connect authorization as plain upgrade headers (Swift/Kotlin SDKs)', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws'], { headers: { 'x-api-key': API_KEY } });
    expect(await subscribe(c, srv, 's1', '/default/a')).toEqual({ type: 'subscribe_success', id: 's1' });
    c.close();
  });

  it.each(['/realtime', '//realtime'])('serves the realtime endpoint at %s too', async (path) => {
    const c = await Client.open(wsUrl(srv, path), ['aws-appsync-event-ws', headerProtocol(keyAuth(srv))]);
    c.send({ type: 'connection_init' });
    await c.type('connection_ack');
    c.close();
  });

  it('refuses a bad key by accepting the upgrade, sending connection_error and closing', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, 'x-api-key': 'wrong' })]);
    const err = await c.type('connection_error');
    expect(err.errors[0]).toEqual({ errorType: 'UnauthorizedException', errorCode: 401, message: 'You are not authorized to make this call.' });
    expect(srv.logger.entries.some((e) => e.msg === 'connect refused' && /API key is not valid/.test(String(e.reason)))).toBe(true);
    await c.waitClosed();
    expect(JSON.stringify(srv.logger.entries)).not.toContain('wrong"');
  });

  it('refuses a connection with no authorization at all', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws']);
    expect((await c.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
    await c.waitClosed();
  });

  it('refuses a header- value that is not base64 JSON', async () => {
    const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', 'header-bm90LWpzb24']);
    expect((await c.type('connection_error')).errors[0].message).toMatch(/base64url-encoded JSON/);
    await c.waitClosed();
  });

  it('works without connection_init: subscribe and publish straight away, ka only after the first request', async () => {
    const c = await apiKeyClient(srv, false);
    await new Promise((r) => setTimeout(r, 150));
    expect(c.frames).toEqual([]);
    expect(await subscribe(c, srv, 'a', 'default/room')).toEqual({ type: 'subscribe_success', id: 'a' });
    const res = await publishWs(c, srv, 'p', 'default/room', [JSON.stringify({ n: 1 })]);
    expect(res.type).toBe('publish_success');
    await c.next((f) => f.type === 'data');
    c.close();
  });
});

describe('event API: subscribe, publish, unsubscribe', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi();
  });
  afterAll(() => srv.close());

  it('delivers each event as its own data frame with event as a JSON string', async () => {
    const sub = await apiKeyClient(srv);
    const pub = await apiKeyClient(srv);
    await subscribe(sub, srv, 'sub-1', '/default/room/1/');
    const events = [JSON.stringify({ a: 1 }), JSON.stringify('two'), '3'];
    const res = await publishWs(pub, srv, 'pub-1', '/default/room/1', events);
    expect(res.type).toBe('publish_success');
    expect(res.successful.map((s: any) => s.index)).toEqual([0, 1, 2]);
    expect(res.failed).toEqual([]);
    expect(typeof res.successful[0].identifier).toBe('string');
    await sub.next(() => sub.data('sub-1').length === 3);
    expect(sub.data('sub-1')).toEqual(events.map((event) => ({ type: 'data', id: 'sub-1', event })));
    sub.close();
    pub.close();
  });

  it('matches wildcards at any depth, and not the prefix itself or siblings', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 'w1', '/default/*');
    await subscribe(c, srv, 'w2', '/default/a/*');
    await subscribe(c, srv, 'w3', '/default/a/b/c/*');
    for (const ch of ['/default/a', '/default/a/b', '/default/a/b/c/d', '/default/x/y']) await srv.api.publish(ch, [JSON.stringify(ch)]);
    await c.next(() => c.data('w1').length === 4);
    const got = (id: string) => c.data(id).map((f) => JSON.parse(f.event));
    expect(got('w1')).toEqual(['/default/a', '/default/a/b', '/default/a/b/c/d', '/default/x/y']);
    expect(got('w2')).toEqual(['/default/a/b', '/default/a/b/c/d']);
    expect(got('w3')).toEqual(['/default/a/b/c/d']);
    c.close();
  });

  it('unsubscribes, and answers an unknown id with UnknownOperationError', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 'u1', '/default/u');
    c.send({ type: 'unsubscribe', id: 'u1' });
    expect(await c.type('unsubscribe_success', 'u1')).toEqual({ type: 'unsubscribe_success', id: 'u1' });
    expect(srv.api.stats().subscriptions).toBe(0);
    c.send({ type: 'unsubscribe', id: 'u1' });
    const err = await c.type('unsubscribe_error', 'u1');
    expect(err.errors[0].errorType).toBe('UnknownOperationError');
    await srv.api.publish('/default/u', ['1']);
    await publishWs(c, srv, 'sync', '/default/other', ['1']);
    expect(c.data('u1')).toEqual([]);
    c.close();
  });

  it('HTTP POST /event publishes with the key in headers', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 'h', '/default/http');
    const res = await postEvent(srv, { channel: '/default/http', events: ['{"x":1}'], id: 'extra-field' }, { 'x-api-key': API_KEY });
    expect(res.status).toBe(200);
    expect(res.body.successful).toHaveLength(1);
    await c.next((f) => f.type === 'data' && f.id === 'h');
    expect(c.data('h')[0].event).toBe('{"x":1}');
    c.close();
  });

  it('answers CORS preflight for /event, 405 for other methods, and leaves other paths alone', async () => {
    const pre = await fetch(`${srv.url}/event`, { method: 'OPTIONS' });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const get = await fetch(`${srv.url}/event`);
    expect(get.status).toBe(405);
    expect((await get.json()).errors[0].errorType).toBe('BadRequestException');
    expect((await fetch(`${srv.url}/other`)).status).toBe(404);
    const notJson = await postEvent(srv, '{oops', { 'x-api-key': API_KEY });
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toBe('The request body is not valid JSON.');
  });

  it('tolerates unknown fields and Amplify-style payload duplicates on frames', async () => {
    const c = await apiKeyClient(srv);
    c.send({ type: 'subscribe', id: 'amp', channel: 'default/amp', authorization: keyAuth(srv), payload: { channel: 'default/amp', extensions: {} }, extra: 1 });
    expect((await c.answer('amp')).type).toBe('subscribe_success');
    c.close();
  });
});
