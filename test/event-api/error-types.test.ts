/**
 * The errorType (and status) each refusal carries, over a real WebSocket and real HTTP on
 * loopback, as the sources tested against AWS show them (cited in local/event-api/errors.ts).
 */
import { API_KEY, apiKeyClient, Client, headerProtocol, postEvent, publishWs, startApi, subscribe, wsUrl } from './helpers';

const SIX = ['1', '2', '3', '4', '5', '6'];

describe('event API: errorTypes per refusal (no namespace handler)', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ maxSubscriptionsPerConnection: 2 });
  });
  afterAll(() => srv.close());

  it('more than 5 events: InvalidInputError over the WebSocket, 400 BadRequestException over HTTP, in the service words', async () => {
    const c = await apiKeyClient(srv);
    const ws = await publishWs(c, srv, 'p6', '/default/a', SIX);
    expect(ws).toEqual({ type: 'publish_error', id: 'p6', errors: [{ errorType: 'InvalidInputError', message: 'input exceeded 5 event limit' }] });
    const http = await postEvent(srv, { channel: '/default/a', events: SIX }, { 'x-api-key': API_KEY });
    expect(http.status).toBe(400);
    expect(http.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    expect(http.body).toEqual({ errors: [{ errorType: 'BadRequestException', message: 'Input exceeded 5 event limit' }], message: 'Input exceeded 5 event limit' });
    c.close();
  });

  it('an invalid events list over the WebSocket is InvalidInputError; over HTTP BadRequestException', async () => {
    const c = await apiKeyClient(srv);
    for (const [id, events] of [['a', [{ not: 'a string' }]], ['b', ['{nope']], ['c', []], ['d', 'not a list']] as const) {
      const res = await publishWs(c, srv, id, '/default/a', events as unknown as unknown[]);
      expect({ id, res }).toMatchObject({ id, res: { type: 'publish_error', errors: [{ errorType: 'InvalidInputError' }] } });
    }
    const http = await postEvent(srv, { channel: '/default/a', events: ['{nope'] }, { 'x-api-key': API_KEY });
    expect([http.status, http.headers.get('x-amzn-errortype'), http.body.errors[0].errorType]).toEqual([400, 'BadRequestException', 'BadRequestException']);
    c.close();
  });

  it('an unknown namespace: UnauthorizedException without a message (subscribe, publish, HTTP); the log names the namespace', async () => {
    const c = await apiKeyClient(srv);
    expect(await publishWs(c, srv, 'n', '/nope/a', ['1'])).toEqual({ type: 'publish_error', id: 'n', errors: [{ errorType: 'UnauthorizedException' }] });
    expect(await subscribe(c, srv, 'ns', '/nope/*')).toEqual({ type: 'subscribe_error', id: 'ns', errors: [{ errorType: 'UnauthorizedException' }] });
    const http = await postEvent(srv, { channel: '/nope/a', events: ['1'] }, { 'x-api-key': API_KEY });
    expect(http.status).toBe(401);
    expect(http.headers.get('x-amzn-errortype')).toBe('UnauthorizedException');
    expect(http.body).toEqual({ errors: [{ errorType: 'UnauthorizedException' }] });
    const logged = srv.logger.entries.filter((e) => /refused/.test(e.msg) && /Namespace nope does not exist/.test(String(e.reason)));
    expect(logged.map((e) => e.msg).sort()).toEqual(['http publish refused', 'publish refused', 'subscribe refused']);
    c.close();
  });

  it('a refused API key stays UnauthorizedException (subscribe, publish, HTTP 401)', async () => {
    const c = await apiKeyClient(srv);
    const bad = { host: srv.httpHost, 'x-api-key': 'da2-wrong' };
    expect((await subscribe(c, srv, 'k', '/default/a', bad)).errors[0].errorType).toBe('UnauthorizedException');
    expect((await publishWs(c, srv, 'kp', '/default/a', ['1'], bad)).errors[0].errorType).toBe('UnauthorizedException');
    const http = await postEvent(srv, { channel: '/default/a', events: ['1'] }, { 'x-api-key': 'da2-wrong' });
    expect([http.status, http.headers.get('x-amzn-errortype')]).toEqual([401, 'UnauthorizedException']);
    c.close();
  });

  it('past the subscription limit: subscribe_error MaxSubscriptionsReachedError', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, '1', '/default/m1');
    await subscribe(c, srv, '2', '/default/m2');
    expect(await subscribe(c, srv, '3', '/default/m3')).toMatchObject({ type: 'subscribe_error', id: '3', errors: [{ errorType: 'MaxSubscriptionsReachedError' }] });
    c.close();
  });

  it('an event over 240 KB before any handler fails alone: EventTooLargeException, "Transformed event is larger than 240KB"', async () => {
    const big = JSON.stringify('x'.repeat(240 * 1024));
    const http = await postEvent(srv, { channel: '/default/big', events: ['1', big] }, { 'x-api-key': API_KEY });
    expect(http.status).toBe(200);
    expect(http.body.failed).toEqual([{ identifier: expect.any(String), index: 1, code: 'EventTooLargeException', message: 'Transformed event is larger than 240KB' }]);
    expect(http.body.successful.map((s: { index: number }) => s.index)).toEqual([0]);
  });
});

const HANDLERS = `
import { util } from '@aws-appsync/utils';
export function onPublish(ctx) {
  if (ctx.info.channel.path.includes('deny')) util.unauthorized();
  const out = [];
  for (const e of ctx.events) {
    if (e.payload.grow) { out.push({ id: e.id, payload: { pad: 'x'.repeat(e.payload.grow) } }); continue; }
    out.push({ id: e.id, payload: e.payload });
  }
  return out;
}
export function onSubscribe(ctx) {
  if (ctx.info.channel.path.includes('deny')) util.unauthorized();
}
`;

describe('event API: errorTypes of namespace handler refusals', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ namespaceHandlerCode: HANDLERS });
  });
  afterAll(() => srv.close());
  const open = () => Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, 'x-api-key': API_KEY })]);

  it('util.unauthorized() in onSubscribe: subscribe_error with errorType Unauthorized, and the connection keeps serving', async () => {
    const c = await open();
    const res = await subscribe(c, srv, 'd', '/default/deny');
    expect(res).toMatchObject({ type: 'subscribe_error', id: 'd', errors: [{ errorType: 'Unauthorized' }] });
    expect(res.errors[0].errorCode).toBeUndefined();
    expect((await subscribe(c, srv, 'ok', '/default/fine')).type).toBe('subscribe_success');
    c.close();
  });

  it('util.unauthorized() in onPublish: publish_error Unauthorized over the WebSocket, 401 Unauthorized over HTTP', async () => {
    const c = await open();
    expect(await publishWs(c, srv, 'p', '/default/deny', ['1'])).toMatchObject({ type: 'publish_error', id: 'p', errors: [{ errorType: 'Unauthorized' }] });
    const http = await postEvent(srv, { channel: '/default/deny', events: ['1'] }, { 'x-api-key': API_KEY });
    expect(http.status).toBe(401);
    expect(http.headers.get('x-amzn-errortype')).toBe('Unauthorized');
    expect(http.body.errors[0].errorType).toBe('Unauthorized');
    c.close();
  });

  it('an event the handler makes larger than 240 KB is dropped silently: reported successful, never delivered, logged at debug', async () => {
    const c = await open();
    await subscribe(c, srv, 's', '/default/grow');
    // A 16-byte event that the handler grows to 250,000 characters: over 240 KB only after the handler.
    const res = await publishWs(c, srv, 'g', '/default/grow', ['{"n":1}', '{"grow":250000}', '{"n":3}']);
    expect(res.type).toBe('publish_success');
    expect(res.successful.map((s: { index: number }) => s.index)).toEqual([0, 1, 2]);
    expect(res.failed).toEqual([]);
    await c.next(() => c.data('s').length === 2);
    await publishWs(c, srv, 'after', '/default/grow', ['{"n":4}']);
    await c.next(() => c.data('s').length === 3);
    expect(c.data('s').map((f) => JSON.parse(f.event).n)).toEqual([1, 3, 4]);
    const dropped = srv.logger.entries.find((e) => e.msg === 'event dropped after the handler: over 240 KB');
    expect(dropped).toMatchObject({ level: 'debug', channel: '/default/grow', index: 1, limit: 240 * 1024 });
    expect(Number(dropped!.bytes)).toBeGreaterThan(240 * 1024);
    // The same over HTTP.
    const http = await postEvent(srv, { channel: '/default/grow', events: ['{"grow":250000}'] }, { 'x-api-key': API_KEY });
    expect([http.status, http.body.failed, http.body.successful.length]).toEqual([200, [], 1]);
    c.close();
  });

  it('an event exactly at 240 KB after the handler, id included, is delivered', async () => {
    const c = await open();
    await subscribe(c, srv, 'e', '/default/edge');
    // {"id":"<36-character uuid>","payload":{"pad":"<grow x>"}} is 66 + grow bytes.
    const grow = 240 * 1024 - 66;
    const res = await publishWs(c, srv, 'x', '/default/edge', [JSON.stringify({ grow })]);
    expect(res.successful).toHaveLength(1);
    await c.next(() => c.data('e').length === 1);
    const over = await publishWs(c, srv, 'y', '/default/edge', [JSON.stringify({ grow: grow + 1 })]);
    expect(over.successful).toHaveLength(1);
    await publishWs(c, srv, 'z', '/default/edge', ['{"n":9}']);
    await c.next(() => c.data('e').length === 2);
    expect(JSON.parse(c.data('e')[1].event)).toEqual({ n: 9 });
    c.close();
  });
});
