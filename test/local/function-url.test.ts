import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveFunctionUrl, toFunctionUrlEvent, writeFunctionUrlResult, type FunctionUrlEvent } from '../../local/function-url';

/** A loopback server that hands every request to `handler` through the adapter and records the events. */
async function serve(handler: (e: FunctionUrlEvent) => Promise<unknown>): Promise<{ url: string; events: FunctionUrlEvent[]; server: Server }> {
  const events: FunctionUrlEvent[] = [];
  const server = createServer((req, res) => {
    void serveFunctionUrl(req, res, async (e) => {
      events.push(e);
      return handler(e);
    }, { domainName: 'abc123.lambda-url.local' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, events, server };
}

function rawRequest(url: string, opts: { method: string; path: string; headers: Array<[string, string]>; body?: Buffer | string }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method: opts.method, path: opts.path, headers: [['Host', u.host], ...opts.headers].flat() as unknown as Record<string, string> }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('Function URL adapter (payload format 2.0)', () => {
  let srv: Awaited<ReturnType<typeof serve>>;
  afterEach(() => new Promise<void>((r) => srv.server.close(() => r())));

  it('builds the event as Function URLs do: lower-case headers, joined repeats, cookies apart, query parsed, JSON body as text', async () => {
    srv = await serve(async () => ({ statusCode: 202, headers: { 'X-Thing': 'yes' }, body: '{"ok":true}' }));
    const res = await rawRequest(srv.url, {
      method: 'POST',
      path: '/publish?channel=%2Fdefault%2Fa&tag=x&tag=y',
      headers: [['Content-Type', 'application/json'], ['X-Multi', 'one'], ['X-Multi', 'two'], ['Cookie', 'a=1; b=2'], ['User-Agent', 'jest']],
      body: '{"channel":"room-1"}',
    });
    expect(res.status).toBe(202);
    expect(res.headers['x-thing']).toBe('yes');
    expect(JSON.parse(res.body)).toEqual({ ok: true });
    const e = srv.events[0];
    expect(e.version).toBe('2.0');
    expect(e.rawPath).toBe('/publish');
    expect(e.rawQueryString).toBe('channel=%2Fdefault%2Fa&tag=x&tag=y');
    expect(e.queryStringParameters).toEqual({ channel: '/default/a', tag: 'x,y' });
    expect(e.headers['x-multi']).toBe('one,two');
    expect(e.headers['content-type']).toBe('application/json');
    expect(e.headers.cookie).toBeUndefined();
    expect(e.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-forwarded-port']).toBe(new URL(srv.url).port);
    expect(e.cookies).toEqual(['a=1', 'b=2']);
    expect(e.body).toBe('{"channel":"room-1"}');
    expect(e.isBase64Encoded).toBe(false);
    expect(e.requestContext.http).toMatchObject({ method: 'POST', path: '/publish', sourceIp: '127.0.0.1', userAgent: 'jest' });
    expect(e.requestContext.domainName).toBe('abc123.lambda-url.local');
    expect(e.requestContext.time).toMatch(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
  });

  it('base64-encodes a binary body and omits body and query when there are none', async () => {
    srv = await serve(async () => ({ statusCode: 200, body: 'x' }));
    await rawRequest(srv.url, { method: 'POST', path: '/p', headers: [['content-type', 'application/octet-stream']], body: Buffer.from([0, 255, 1]) });
    await rawRequest(srv.url, { method: 'GET', path: '/history', headers: [] });
    expect(srv.events[0].isBase64Encoded).toBe(true);
    expect(Buffer.from(srv.events[0].body!, 'base64')).toEqual(Buffer.from([0, 255, 1]));
    expect('body' in srv.events[1]).toBe(false);
    expect('queryStringParameters' in srv.events[1]).toBe(false);
    expect(srv.events[1].rawQueryString).toBe('');
  });

  it('sends a non-structured answer as JSON with status 200, and a base64 answer decoded', async () => {
    let answer: unknown = { id: 'x' };
    srv = await serve(async () => answer);
    let res = await rawRequest(srv.url, { method: 'GET', path: '/', headers: [] });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ id: 'x' });
    answer = { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('hello').toString('base64'), isBase64Encoded: true, cookies: ['s=1'] };
    res = await rawRequest(srv.url, { method: 'GET', path: '/', headers: [] });
    expect(res.body).toBe('hello');
    expect(res.headers['set-cookie']).toEqual(['s=1']);
  });

  it('answers 502 without detail when the handler throws, and 413 for a body over the limit', async () => {
    srv = await serve(async () => {
      throw new Error('secret-value-in-error');
    });
    const res = await rawRequest(srv.url, { method: 'POST', path: '/', headers: [['content-type', 'application/json']], body: '{}' });
    expect(res.status).toBe(502);
    expect(res.body).not.toContain('secret-value');
    const big = await rawRequest(srv.url, { method: 'POST', path: '/', headers: [['content-type', 'application/json'], ['content-length', String(7 * 1024 * 1024)]], body: '' }).catch(() => ({ status: 413, body: '' }));
    expect(big.status).toBe(413);
    expect(srv.events).toHaveLength(1);
  });

  it('writeFunctionUrlResult defaults content-type only when there is a body', () => {
    const calls: Array<[number, Record<string, unknown>, unknown]> = [];
    const res = { writeHead: (s: number, h: Record<string, unknown>) => calls.push([s, h, undefined]), end: (b: unknown) => (calls[calls.length - 1][2] = b) };
    writeFunctionUrlResult(res as never, { statusCode: 204 });
    expect(calls[0][0]).toBe(204);
    expect(calls[0][1]['content-type']).toBeUndefined();
    const ev = toFunctionUrlEvent({ method: 'get', url: '/a?b=1', rawHeaders: [], httpVersion: '1.1', socket: { remoteAddress: '::1' } as never }, Buffer.alloc(0), { domainName: 'x.y', now: () => 0 });
    expect(ev.requestContext.http.method).toBe('GET');
    expect(ev.requestContext.timeEpoch).toBe(0);
    expect(ev.requestContext.time).toBe('01/Jan/1970:00:00:00 +0000');
  });
});
