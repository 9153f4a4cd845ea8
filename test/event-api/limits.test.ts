import { API_KEY, apiKeyClient, keyAuth, postEvent, publishWs, startApi, subscribe } from './helpers';

const big = (bytes: number) => JSON.stringify('x'.repeat(bytes - 2));

describe('event API: limits and errors', () => {
  let srv: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    srv = await startApi({ maxSubscriptionsPerConnection: 3 });
  });
  afterAll(() => srv.close());

  it('refuses more than 5 events: InvalidInputError over the WebSocket, BadRequestException over HTTP', async () => {
    const c = await apiKeyClient(srv);
    const res = await publishWs(c, srv, 'p6', '/default/a', ['1', '2', '3', '4', '5', '6']);
    expect(res).toMatchObject({ type: 'publish_error', id: 'p6', errors: [{ errorType: 'InvalidInputError' }] });
    expect(res.errors[0].message).toMatch(/5 event limit/);
    const http = await postEvent(srv, { channel: '/default/a', events: ['1', '2', '3', '4', '5', '6'] }, { 'x-api-key': API_KEY });
    expect(http.status).toBe(400);
    expect(http.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    c.close();
  });

  it('fails an event over 240 KB alone with EventTooLargeException', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 's', '/default/big');
    const res = await publishWs(c, srv, 'pb', '/default/big', ['1', big(240 * 1024 + 1), '3']);
    expect(res.type).toBe('publish_success');
    expect(res.successful.map((s: any) => s.index)).toEqual([0, 2]);
    expect(res.failed).toEqual([expect.objectContaining({ index: 1, code: 'EventTooLargeException' })]);
    await c.next(() => c.data('s').length === 2);
    expect(c.data('s').map((f) => f.event)).toEqual(['1', '3']);
    const exact = await publishWs(c, srv, 'pe', '/default/big', [big(240 * 1024)]);
    expect(exact.failed).toEqual([]);
    const http = await postEvent(srv, { channel: '/default/big', events: [big(240 * 1024 + 1)] }, { 'x-api-key': API_KEY });
    expect(http.status).toBe(200);
    expect(http.body.failed[0].code).toBe('EventTooLargeException');
    c.close();
  });

  it.each([
    ['/default/1/2/3/4/5', /6 segments; at most 5/],
    ['/default/' + 'a'.repeat(51), /51 characters; at most 50/],
    ['/default/-bad', /invalid/],
    ['/default/a b', /invalid/],
  ])('refuses channel %s with BadRequestException', async (channel, msg) => {
    const c = await apiKeyClient(srv);
    const sub = await subscribe(c, srv, 'x', channel);
    expect(sub).toMatchObject({ type: 'subscribe_error', errors: [{ errorType: 'BadRequestException' }] });
    expect(sub.errors[0].message).toMatch(msg);
    const pub = await publishWs(c, srv, 'y', channel, ['1']);
    expect(pub).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'BadRequestException' }] });
    c.close();
  });

  it('refuses publishing to a wildcard, and an unknown namespace with UnauthorizedException', async () => {
    const c = await apiKeyClient(srv);
    expect((await publishWs(c, srv, 'w', '/default/*', ['1'])).errors[0]).toMatchObject({ errorType: 'BadRequestException' });
    expect((await publishWs(c, srv, 'n', '/nope/a', ['1'])).errors[0]).toEqual({ errorType: 'UnauthorizedException' });
    expect((await subscribe(c, srv, 'ns', '/nope/*')).errors[0]).toEqual({ errorType: 'UnauthorizedException' });
    c.close();
  });

  it('refuses events that are not JSON strings, naming the event', async () => {
    const c = await apiKeyClient(srv);
    expect((await publishWs(c, srv, 'a', '/default/a', [{ not: 'a string' }])).errors[0].message).toMatch(/events\[0\] must be a string/);
    expect((await publishWs(c, srv, 'b', '/default/a', ['1', '{nope'])).errors[0].message).toMatch(/events\[1\] is not valid JSON/);
    expect((await publishWs(c, srv, 'c', '/default/a', [])).errors[0].errorType).toBe('InvalidInputError');
    c.close();
  });

  it('answers MaxSubscriptionsReachedError past the per-connection limit, and frees a slot on unsubscribe', async () => {
    const c = await apiKeyClient(srv);
    for (const id of ['1', '2', '3']) expect((await subscribe(c, srv, id, `/default/m${id}`)).type).toBe('subscribe_success');
    const over = await subscribe(c, srv, '4', '/default/m4');
    expect(over).toMatchObject({ type: 'subscribe_error', id: '4', errors: [{ errorType: 'MaxSubscriptionsReachedError' }] });
    c.send({ type: 'unsubscribe', id: '1' });
    await c.type('unsubscribe_success', '1');
    expect((await subscribe(c, srv, '5', '/default/m5')).type).toBe('subscribe_success');
    c.close();
  });

  it('refuses a subscription id already in use on the connection', async () => {
    const c = await apiKeyClient(srv);
    await subscribe(c, srv, 'dup', '/default/d');
    c.send({ type: 'subscribe', id: 'dup', channel: '/default/e', authorization: keyAuth(srv) });
    await c.next((f) => f.type === 'subscribe_error' && f.id === 'dup');
    c.close();
  });

  it('answers malformed JSON, non-objects, unknown types and missing ids with error frames and keeps the connection', async () => {
    const c = await apiKeyClient(srv);
    c.send('{not json');
    c.send('[1,2]');
    c.send({ type: 'start', id: 'gql' });
    c.send({ type: 'subscribe', channel: '/default/a', authorization: keyAuth(srv) });
    await c.next(() => c.frames.filter((f) => f.type === 'error').length === 4);
    const errors = c.frames.filter((f) => f.type === 'error');
    expect(errors[0].errors[0]).toMatchObject({ errorType: 'BadRequestException', message: 'The message is not valid JSON.' });
    expect(errors[1].errors[0].errorType).toBe('BadRequestException');
    expect(errors[2]).toMatchObject({ id: 'gql', errors: [{ errorType: 'UnsupportedOperation', message: 'start not supported through the realtime channel' }] });
    expect(errors[3].errors[0].message).toMatch(/subscribe needs an id/);
    expect((await subscribe(c, srv, 'still', '/default/a')).type).toBe('subscribe_success');
    c.close();
  });

  it('ignores client ka frames and a repeated connection_init gets another ack', async () => {
    const c = await apiKeyClient(srv);
    c.send({ type: 'ka' });
    c.send({ type: 'connection_init' });
    await c.next(() => c.frames.filter((f) => f.type === 'connection_ack').length === 2);
    expect(c.frames.filter((f) => f.type === 'error')).toEqual([]);
    c.close();
  });
});

describe('event API: connection limits and bad clients', () => {
  it('closes an oversized frame with 1009 and other connections carry on', async () => {
    const srv = await startApi({ maxFrameBytes: 64 * 1024 });
    try {
      const healthy = await apiKeyClient(srv);
      await subscribe(healthy, srv, 'h', '/default/a');
      const bad = await apiKeyClient(srv);
      bad.send('x'.repeat(64 * 1024 + 1));
      expect((await bad.waitClosed()).code).toBe(1009);
      await srv.api.publish('/default/a', ['"after"']);
      await healthy.next((f) => f.type === 'data' && f.event === '"after"');
      const http = await fetch(`${srv.url}/event`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: 'x'.repeat(64 * 1024 + 1) });
      expect(http.status).toBe(413);
      healthy.close();
    } finally {
      await srv.close();
    }
  });

  it('closes a connection when its lifetime ends', async () => {
    const srv = await startApi({ connectionLifetimeMs: 150 });
    try {
      const c = await apiKeyClient(srv);
      const closed = await c.waitClosed();
      expect(closed.code).toBe(1000);
      expect(closed.reason).toMatch(/lifetime/);
      expect(srv.api.stats().connections).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it('refuses upgrades beyond maxConnections with 503 and accepts again after one closes', async () => {
    const srv = await startApi({ maxConnections: 2 });
    try {
      const a = await apiKeyClient(srv);
      const b = await apiKeyClient(srv);
      await expect(apiKeyClient(srv)).rejects.toThrow(/503/);
      a.close();
      await a.waitClosed();
      for (let i = 0; i < 100 && srv.api.stats().connections !== 1; i++) await new Promise((r) => setTimeout(r, 50));
      const c = await apiKeyClient(srv);
      b.close();
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('survives a flood of connections opened at once, and a healthy connection keeps working', async () => {
    const srv = await startApi();
    try {
      const healthy = await apiKeyClient(srv);
      await subscribe(healthy, srv, 'h', '/default/f');
      const flood = await Promise.all(Array.from({ length: 300 }, () => apiKeyClient(srv, false)));
      expect(srv.api.stats().connections).toBe(301);
      flood.forEach((c) => c.close());
      await srv.api.publish('/default/f', ['"still here"']);
      await healthy.next((f) => f.type === 'data' && f.event === '"still here"');
      for (let i = 0; i < 100 && srv.api.stats().connections !== 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(srv.api.stats().connections).toBe(1);
      healthy.close();
    } finally {
      await srv.close();
    }
  });

  it('answers every frame of a flood in order, without dropping any', async () => {
    const srv = await startApi({ maxInFlightPerConnection: 4 });
    try {
      const c = await apiKeyClient(srv);
      await subscribe(c, srv, 's', '/default/flood');
      const n = 500;
      for (let i = 0; i < n; i++) c.send({ type: 'publish', id: `p${i}`, channel: '/default/flood', events: [String(i)], authorization: keyAuth(srv) });
      const acks = () => c.frames.filter((f) => f.type === 'publish_success').length;
      // The last data frame can arrive before the last publish_success: wait for both.
      await c.next(() => c.data('s').length === n && acks() === n, 10_000);
      expect(c.frames.filter((f) => f.type === 'publish_success')).toHaveLength(n);
      expect(c.data('s').map((f) => Number(f.event))).toEqual([...Array(n).keys()]);
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('closes a slow consumer with 1008 and a reason, while a healthy subscriber gets everything', async () => {
    const srv = await startApi({ maxBufferedBytes: 256 * 1024, closeGraceMs: 2000 });
    try {
      const healthy = await apiKeyClient(srv);
      await subscribe(healthy, srv, 'h', '/default/slow');
      const slow = await apiKeyClient(srv);
      await subscribe(slow, srv, 's', '/default/slow');
      // Stop reading: the server's buffer for this client can only grow.
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
      const payload = big(200 * 1024);
      const total = 60;
      for (let i = 0; i < total; i++) {
        await srv.api.publish('/default/slow', [payload]);
        // As publishes arriving over the network would, let the sockets drain in between.
        await new Promise((r) => setTimeout(r, 1));
      }
      await healthy.next(() => healthy.data('h').length === total, 15_000);
      expect(srv.logger.entries.some((e) => e.msg === 'closing connection' && String(e.reason).startsWith('slow consumer'))).toBe(true);
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
      const closed = await slow.waitClosed(10_000);
      expect([1008, 1006]).toContain(closed.code);
      expect(slow.data('s').length).toBeLessThan(total);
      expect(srv.api.stats().subscriptions).toBe(1);
      healthy.close();
    } finally {
      await srv.close();
    }
  });

  it('logs every frame with --verbose but never the authorization', async () => {
    const srv = await startApi({ verbose: true });
    try {
      const c = await apiKeyClient(srv);
      await subscribe(c, srv, 'v', '/default/v');
      await publishWs(c, srv, 'pv', '/default/v', ['"hello"']);
      await c.next((f) => f.type === 'data');
      const text = JSON.stringify(srv.logger.entries);
      expect(text).toContain('frame in');
      expect(text).toContain('hello');
      expect(text).toContain('[redacted]');
      expect(text).not.toContain(API_KEY);
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('closes open connections with 1001 on close()', async () => {
    const srv = await startApi();
    const c = await apiKeyClient(srv);
    await srv.close();
    expect((await c.waitClosed()).code).toBe(1001);
  });
});
