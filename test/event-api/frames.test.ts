/**
 * Frame-by-frame edge cases of the realtime protocol and POST /event (PROTOCOL.md
 * "Messages after connect", "HTTP publish", "Channels and namespaces"): every
 * client frame is answered with the service's frame type and errorType, the
 * connection survives, and other connections are unaffected.
 */
import { API_KEY, apiKeyClient, Client, keyAuth, postEvent, publishWs, startApi, subscribe } from './helpers';

describe('event API: frame edge cases', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi();
  });
  afterAll(() => srv.close());

  it('delivers once per subscription when an exact and a wildcard subscription on one connection both match', async () => {
    const c = await apiKeyClient(srv);
    expect((await subscribe(c, srv, 'exact', '/default/room/1')).type).toBe('subscribe_success');
    expect((await subscribe(c, srv, 'wild', '/default/*')).type).toBe('subscribe_success');
    expect((await subscribe(c, srv, 'wild2', '/default/room/*')).type).toBe('subscribe_success');
    expect((await publishWs(c, srv, 'p', '/default/room/1', ['"x"'])).type).toBe('publish_success');
    await c.next(() => c.frames.filter((f) => f.type === 'data').length === 3);
    expect(c.data('exact').map((f) => f.event)).toEqual(['"x"']);
    expect(c.data('wild').map((f) => f.event)).toEqual(['"x"']);
    expect(c.data('wild2').map((f) => f.event)).toEqual(['"x"']);
    c.close();
  });

  it('normalises channels with and without the leading slash, with a trailing one, and a bare namespace', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 'n1', 'default/norm/a');
    await subscribe(c, srv, 'bare', '/default');
    await publishWs(c, srv, 'p1', '/default/norm/a/', ['1']);
    await publishWs(c, srv, 'p2', 'default', ['2']);
    await c.next(() => c.data('n1').length === 1 && c.data('bare').length === 1);
    expect(c.data('n1')[0].event).toBe('1');
    expect(c.data('bare')[0].event).toBe('2');
    // 5 segments of 50 characters is the largest valid channel.
    const longest = '/default/' + Array.from({ length: 4 }, (_, i) => String(i).repeat(50)).join('/');
    expect((await subscribe(c, srv, 'long', longest)).type).toBe('subscribe_success');
    c.close();
  });

  it('answers subscribe and publish frames with missing or non-string fields with *_error BadRequestException and the id', async () => {
    const c = await apiKeyClient(srv);
    c.send({ type: 'subscribe', id: 's-nochan', authorization: keyAuth(srv) });
    c.send({ type: 'subscribe', id: 's-numchan', channel: 42, authorization: keyAuth(srv) });
    c.send({ type: 'publish', id: 'p-noevents', channel: '/default/a', authorization: keyAuth(srv) });
    c.send({ type: 'publish', id: 'p-strevents', channel: '/default/a', events: '"x"', authorization: keyAuth(srv) });
    c.send({ type: 'publish', id: 'p-nochan', events: ['1'], authorization: keyAuth(srv) });
    // A bad events list over the WebSocket is InvalidInputError (local/event-api/errors.ts); a bad channel BadRequestException.
    for (const [id, type, errorType] of [
      ['s-nochan', 'subscribe_error', 'BadRequestException'],
      ['s-numchan', 'subscribe_error', 'BadRequestException'],
      ['p-noevents', 'publish_error', 'InvalidInputError'],
      ['p-strevents', 'publish_error', 'InvalidInputError'],
      ['p-nochan', 'publish_error', 'BadRequestException'],
    ]) {
      const f = await c.answer(id);
      expect(f).toMatchObject({ type, id, errors: [{ errorType }] });
    }
    expect((await subscribe(c, srv, 'ok', '/default/a')).type).toBe('subscribe_success');
    c.close();
  });

  it('unsubscribes once: a second unsubscribe of the same id is UnknownOperationError, and the id can be reused', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 'u', '/default/u');
    c.frames.length = 0;
    c.send({ type: 'unsubscribe', id: 'u' });
    expect((await c.answer('u')).type).toBe('unsubscribe_success');
    c.frames.length = 0;
    c.send({ type: 'unsubscribe', id: 'u' });
    expect(await c.answer('u')).toMatchObject({ type: 'unsubscribe_error', id: 'u', errors: [{ errorType: 'UnknownOperationError' }] });
    await publishWs(c, srv, 'p-after', '/default/u', ['1']);
    expect(c.data('u')).toEqual([]);
    c.frames.length = 0;
    expect((await subscribe(c, srv, 'u', '/default/u')).type).toBe('subscribe_success');
    await publishWs(c, srv, 'p-again', '/default/u', ['2']);
    await c.next(() => c.data('u').length === 1);
    c.close();
  });

  it('never lets a frame whose authorization is not an object fall back on the connect authorization', async () => {
    const c = await apiKeyClient(srv);
    for (const [i, authorization] of ['garbage', 42, ['x-api-key', API_KEY], true].entries()) {
      c.send({ type: 'subscribe', id: `bad-${i}`, channel: '/default/a', authorization });
      expect(await c.answer(`bad-${i}`)).toMatchObject({ type: 'subscribe_error', errors: [{ errorType: 'UnauthorizedException' }] });
      c.send({ type: 'publish', id: `badp-${i}`, channel: '/default/a', events: ['1'], authorization });
      expect(await c.answer(`badp-${i}`)).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'UnauthorizedException' }] });
    }
    // No authorization at all still means the connect authorization (README "Behaviour worth knowing").
    c.send({ type: 'subscribe', id: 'none', channel: '/default/a' });
    expect((await c.answer('none')).type).toBe('subscribe_success');
    c.close();
  });

  it('reads a frame authorization carried only in payload.extensions (the GraphQL realtime place) instead of falling back', async () => {
    const c = await apiKeyClient(srv);
    const wrong = { host: srv.httpHost, 'x-api-key': 'da2-wrong' };
    c.send({ type: 'subscribe', id: 'ext', channel: '/default/a', payload: { extensions: { authorization: wrong } } });
    expect(await c.answer('ext')).toMatchObject({ type: 'subscribe_error', errors: [{ errorType: 'UnauthorizedException' }] });
    c.send({ type: 'subscribe', id: 'ext-ok', channel: '/default/a', payload: { extensions: { authorization: keyAuth(srv) } } });
    expect((await c.answer('ext-ok')).type).toBe('subscribe_success');
    c.close();
  });

  it('refuses a frame whose own authorization is wrong even though the connect authorization was good', async () => {
    const c = await apiKeyClient(srv);
    const wrong = { host: srv.httpHost, 'x-api-key': 'da2-wrong' };
    expect((await subscribe(c, srv, 'w', '/default/a', wrong)).errors[0].errorType).toBe('UnauthorizedException');
    expect((await publishWs(c, srv, 'wp', '/default/a', ['1'], wrong)).errors[0].errorType).toBe('UnauthorizedException');
    c.close();
  });

  it('answers a publish whose id is too long with publish_error carrying that id (a publish is always answered)', async () => {
    const c = await apiKeyClient(srv);
    const id = 'p'.repeat(200);
    c.send({ type: 'publish', id, channel: '/default/a', events: ['1'], authorization: keyAuth(srv) });
    const f = await c.next((x) => x.type === 'publish_error' || x.type === 'publish_success' || x.type === 'error');
    expect(f.type).toBe('publish_error');
    expect(f.id).toBe(id);
    expect(f.errors[0].errorType).toBe('BadRequestException');
    c.close();
  });

  it('keeps other connections working while one sends every kind of bad frame', async () => {
    const healthy = await apiKeyClient(srv);
    await subscribe(healthy, srv, 'h', '/default/healthy');
    const bad = await apiKeyClient(srv, false);
    for (const raw of ['', 'null', '"str"', '1', '{}', '{"type":null}', '{"type":{"a":1}}', '{"type":"subscribe","id":{}}', '{"type":"publish","id":"x","channel":"/default/*","events":["1"]}']) bad.send(raw);
    bad.send(Buffer.from([0x7b, 0x22]));
    await bad.next(() => bad.frames.length >= 10, 10_000);
    expect(bad.closed).toBeUndefined();
    await publishWs(healthy, srv, 'ph', '/default/healthy', ['"ok"']);
    await healthy.next(() => healthy.data('h').length === 1);
    healthy.close();
    bad.close();
  });
});

describe('event API: POST /event edge cases', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ maxFrameBytes: 256 * 1024 });
  });
  afterAll(() => srv.close());

  const expectError = (res: { status: number; headers: Headers; body: any }, status: number, errorType: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('x-amzn-errortype')).toBe(errorType);
    expect(res.body.errors[0].errorType).toBe(errorType);
    expect(typeof res.body.message).toBe('string');
    expect(res.body.message.length).toBeGreaterThan(0);
  };

  it('answers successful and failed arrays with identifier and index', async () => {
    const res = await postEvent(srv, { channel: 'default/h', events: ['1', '{"a":2}'] }, { 'x-api-key': API_KEY });
    expect(res.status).toBe(200);
    expect(res.body.failed).toEqual([]);
    expect(res.body.successful).toEqual([
      { identifier: expect.any(String), index: 0 },
      { identifier: expect.any(String), index: 1 },
    ]);
    expect(res.body.successful[0].identifier).not.toBe(res.body.successful[1].identifier);
    // Every answer names its request, as AWS's do (the CORS answer exposes the header).
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    const err = await postEvent(srv, '{', { 'x-api-key': API_KEY });
    expect(err.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(err.headers.get('x-amzn-requestid')).not.toBe(res.headers.get('x-amzn-requestid'));
  });

  it.each([
    ['malformed JSON', '{"channel":', 400, 'BadRequestException'],
    ['a JSON array', '[]', 400, 'BadRequestException'],
    ['no channel', JSON.stringify({ events: ['1'] }), 400, 'BadRequestException'],
    ['no events', JSON.stringify({ channel: '/default/a' }), 400, 'BadRequestException'],
    ['six events', JSON.stringify({ channel: '/default/a', events: ['1', '2', '3', '4', '5', '6'] }), 400, 'BadRequestException'],
    ['a wildcard channel', JSON.stringify({ channel: '/default/*', events: ['1'] }), 400, 'BadRequestException'],
    ['a non-string event', JSON.stringify({ channel: '/default/a', events: [{ a: 1 }] }), 400, 'BadRequestException'],
  ])('refuses %s with the status, x-amzn-ErrorType and a body with errors and message', async (_name, body, status, errorType) => {
    expectError(await postEvent(srv, body, { 'x-api-key': API_KEY }), status, errorType);
  });

  it('refuses a request with no credentials with 401 UnauthorizedException', async () => {
    expectError(await postEvent(srv, { channel: '/default/a', events: ['1'] }, {}), 401, 'UnauthorizedException');
  });

  it('refuses an oversized body with 413 and keeps serving', async () => {
    const res = await fetch(`${srv.url}/event`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-amzn-errortype')).toBeTruthy();
    const after = await postEvent(srv, { channel: '/default/a', events: ['1'] }, { 'x-api-key': API_KEY });
    expect(after.status).toBe(200);
  });

  it('carries x-amzn-ErrorType on a 405 as on every other error', async () => {
    const res = await fetch(`${srv.url}/event`, { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('x-amzn-errortype')).toBe('BadRequestException');
  });

  it('accepts a body sent with another content type (curl -d sends application/x-www-form-urlencoded)', async () => {
    const res = await fetch(`${srv.url}/event`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ channel: '/default/a', events: ['1'] }),
    });
    expect(res.status).toBe(200);
  });
});

describe('event API: connection without connection_init', () => {
  it('sends no ka before the first request even with a short keep-alive interval, then keeps sending them', async () => {
    const srv = await startApi({ keepAliveIntervalMs: 50 });
    try {
      const c = await Client.open(`ws://${srv.httpHost}/event/realtime`, ['aws-appsync-event-ws', 'header-' + Buffer.from(JSON.stringify(keyAuth(srv))).toString('base64url')]);
      // A round trip that is not a request: an unknown type is answered without starting keep-alives.
      c.send({ type: 'nope' });
      await c.type('error');
      expect(c.frames.filter((f) => f.type === 'ka')).toEqual([]);
      await subscribe(c, srv, 's', '/default/k');
      await c.next(() => c.frames.filter((f) => f.type === 'ka').length >= 3);
      expect(c.frames.filter((f) => f.type === 'connection_ack')).toEqual([]);
      c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('event API: timers longer than a Node timer can hold', () => {
  it('keeps a connection whose lifetime and keep-alive interval exceed 2^31-1 ms open, without a ka storm', async () => {
    const thirtyDays = 30 * 24 * 3600 * 1000;
    const srv = await startApi({ connectionLifetimeMs: thirtyDays, keepAliveIntervalMs: thirtyDays });
    try {
      const c = await apiKeyClient(srv);
      await subscribe(c, srv, 's', '/default/long');
      // A few round trips: a timer Node clamped to 1 ms would have fired many times by now.
      for (let i = 0; i < 5; i++) await publishWs(c, srv, `p${i}`, '/default/long', [String(i)]);
      await c.next(() => c.data('s').length === 5);
      expect(c.closed).toBeUndefined();
      expect(c.frames.filter((f) => f.type === 'ka')).toHaveLength(1);
      c.close();
    } finally {
      await srv.close();
    }
  });
});

describe('event API: POST /event larger than maxFrameBytes', () => {
  it('answers 413 from the declared length without waiting for a body it will refuse', async () => {
    const srv = await startApi({ maxFrameBytes: 64 * 1024 });
    try {
      const http = await import('node:http');
      const [host, port] = srv.httpHost.split(':');
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host, port: Number(port), path: '/event', method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
        req.write('x'.repeat(1024)); // and never the rest
      });
      expect(status).toBe(413);
      const after = await postEvent(srv, { channel: '/default/a', events: ['1'] }, { 'x-api-key': API_KEY });
      expect(after.status).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('answers 413 as soon as a chunked body passes the limit', async () => {
    const srv = await startApi({ maxFrameBytes: 64 * 1024 });
    try {
      const http = await import('node:http');
      const [host, port] = srv.httpHost.split(':');
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host, port: Number(port), path: '/event', method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
        req.write('x'.repeat(128 * 1024)); // over the limit, and the body never ends
      });
      expect(status).toBe(413);
    } finally {
      await srv.close();
    }
  });
});

describe('event API: CORS for browser clients', () => {
  it('lists authorization explicitly in a preflight answer (a * never covers Authorization), and the other headers asked for', async () => {
    const srv = await startApi();
    try {
      const pre = await fetch(`${srv.url}/event`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-amz-date,x-amz-security-token' },
      });
      expect(pre.status).toBe(204);
      const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(',').map((h) => h.trim());
      for (const h of ['authorization', 'content-type', 'x-amz-date', 'x-amz-security-token', 'x-api-key']) expect(allowed).toContain(h);
      const bare = await fetch(`${srv.url}/event`, { method: 'OPTIONS' });
      expect((bare.headers.get('access-control-allow-headers') ?? '').toLowerCase()).toContain('authorization');
    } finally {
      await srv.close();
    }
  });
});

describe('event API: the service limits at their defaults', () => {
  it('holds 200 subscriptions on one connection (wildcards count), refuses the 201st with MaxSubscriptionsReachedError, accepts 5 events and refuses 6', async () => {
    const srv = await startApi();
    try {
      const c = await apiKeyClient(srv);
      for (let i = 0; i < 200; i++) c.send({ type: 'subscribe', id: `s${i}`, channel: i % 2 ? `/default/c${i}` : `/default/w${i}/*`, authorization: keyAuth(srv) });
      await c.next(() => c.frames.filter((f) => f.type === 'subscribe_success').length === 200, 20_000);
      const over = await subscribe(c, srv, 's200', '/default/over');
      expect(over).toMatchObject({ type: 'subscribe_error', id: 's200', errors: [{ errorType: 'MaxSubscriptionsReachedError' }] });
      expect(srv.api.stats().subscriptions).toBe(200);
      expect((await publishWs(c, srv, 'five', '/default/c1', ['1', '2', '3', '4', '5'])).successful).toHaveLength(5);
      expect((await publishWs(c, srv, 'six', '/default/c1', ['1', '2', '3', '4', '5', '6'])).errors[0].errorType).toBe('InvalidInputError');
      c.close();
    } finally {
      await srv.close();
    }
  });
});
