/**
 * The emulator as a local service (#13): Host checks where secrets are handed out (DNS
 * rebinding), Origin checks on the socket, publish and history, malformed paths as 400,
 * half-open requests closed within the configured timeouts, and request bodies neither
 * buffered before credentials nor beyond a total budget.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { hostAllowed, malformedPath, originAllowed } from '../../local/guard';
import { publishHttp, startTestServer } from '../e2e/helpers';

const closedWithin = (sock: Socket) => new Promise<number>((r) => { const t = Date.now(); sock.resume(); sock.on('close', () => r(Date.now() - t)); sock.on('error', () => undefined); });
async function raw(port: number, text: string): Promise<Socket> {
  const s = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(text);
  return s;
}
const upgradeStatus = (url: string, headers: Record<string, string>) => new Promise<number>((resolve) => {
  const ws = new WebSocket(url, ['aws-appsync-event-ws'], { headers });
  ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
  ws.on('open', () => { resolve(101); ws.close(); });
  ws.on('error', () => undefined);
});

describe('guard rules', () => {
  it('knows loopback names and the configured host only', () => {
    for (const h of ['localhost:4000', '127.0.0.1:4000', '[::1]:4000', 'app.localhost:4000', '127.0.0.2']) expect([h, hostAllowed(h, [])]).toEqual([h, true]);
    for (const h of ['evil.example:4000', 'localhost.evil.example', '10.0.0.5:4000', '', undefined]) expect([h, hostAllowed(h, [])]).toEqual([h, false]);
    expect(hostAllowed('10.0.0.5:4000', ['10.0.0.5'])).toBe(true);
    expect(originAllowed(undefined, [])).toBe(true);
    expect(originAllowed('http://localhost:5173', [])).toBe(true);
    expect(originAllowed('https://evil.example', [])).toBe(false);
    expect(originAllowed('null', [])).toBe(false);
    expect(originAllowed('https://app.example.com', ['https://app.example.com'])).toBe(true);
    expect(malformedPath('/2015-03-31/functions/%E0%A4%A/invocations')).toMatch(/malformed percent-encoding/);
    expect(malformedPath('/a%20b')).toBeUndefined();
  });
});

describe('the dev server as a local service', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer({ namespaces: { default: {} }, history: { corsAllowedOrigins: ['https://app.example.com'] } }, { allowedOrigins: ['https://app.example.com'], timeouts: { headersTimeoutMs: 500, requestTimeoutMs: 800, idleTimeoutMs: 1000, keepAliveTimeoutMs: 500 }, maxBufferedRequestBytes: 1024 * 1024 });
  });
  afterAll(() => server.close());

  it('hands the console secrets only under a loopback Host: a rebound name gets 403 HOST_NOT_ALLOWED and no token', async () => {
    const ok = await fetch(`${server.url}/`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(server.devToken);
    const s = await raw(server.port, `GET / HTTP/1.1\r\nHost: evil.example:${server.port}\r\nConnection: close\r\n\r\n`);
    let text = '';
    await new Promise<void>((r) => { s.on('data', (d) => (text += d)); s.on('end', () => r()); });
    expect(text).toMatch(/^HTTP\/1\.1 403/);
    expect(text).toContain('HOST_NOT_ALLOWED');
    expect(text).not.toContain(server.devToken);
    expect(text).not.toContain(server.devApiKey);
  });

  it('refuses WebSocket upgrades, publish and history from other sites\' pages, and lets loopback and allowed pages through', async () => {
    expect(await upgradeStatus(server.wsUrl, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { origin: 'null' })).toBe(403);
    expect(await upgradeStatus(server.wsUrl, { origin: 'http://localhost:5173' })).not.toBe(403);
    expect(await upgradeStatus(server.wsUrl, { origin: 'https://app.example.com' })).not.toBe(403);
    const evil = await fetch(`${server.url}/publish`, { method: 'POST', headers: { origin: 'https://evil.example', authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'x', event: 'e' }) });
    expect(evil.status).toBe(403);
    expect((await evil.json()).error).toMatchObject({ code: 'ORIGIN_NOT_ALLOWED', field: 'origin' });
    const hist = await fetch(`${server.url}/history?channel=/default/x`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${server.devToken}` } });
    expect(hist.status).toBe(403);
    const local = await fetch(`${server.url}/publish`, { method: 'POST', headers: { origin: 'http://127.0.0.1:3000', authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'x', event: 'e' }) });
    expect(local.status).toBe(202);
  });

  it('answers a malformed path with 400 MALFORMED_PATH naming it, on invoke and elsewhere', async () => {
    const res = await fetch(`${server.url}/2015-03-31/functions/%E0%A4%A/invocations`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: 'MALFORMED_PATH', field: 'path', message: expect.stringContaining('%E0%A4%A') });
    expect(server.logs.entries.some((e) => String(e.error ?? '').includes('URI malformed'))).toBe(false);
    expect((await fetch(`${server.url}/%ZZ`)).status).toBe(400);
  });

  it('closes partial heads, partial upgrades, unfinished bodies and idle sockets within the configured timeouts', async () => {
    const partialHead = await raw(server.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const partialUpgrade = await raw(server.port, `GET /event/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`);
    const partialBody = await raw(server.port, `POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.devApiKey}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"chan`);
    const idle = await raw(server.port, '');
    const names = ['partial head', 'partial upgrade', 'unfinished body', 'idle'];
    const times = await Promise.all([partialHead, partialUpgrade, partialBody, idle].map((s, i) => Promise.race([closedWithin(s), new Promise((r) => setTimeout(() => r(`${names[i]} still open`), 4000))])));
    expect(times.filter((t) => typeof t !== 'number')).toEqual([]);
  });

  it('answers a request without credentials before reading its body, and refuses bodies beyond the total budget with 503', async () => {
    // 5 MB declared, nothing sent: the refusal comes at once, not after a body that never arrives.
    const s = await raw(server.port, `POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n`);
    let text = '';
    await new Promise<void>((r) => s.on('data', (d) => { text += d; if (text.includes('\r\n\r\n')) r(); }));
    expect(text).toMatch(/^HTTP\/1\.1 401/);
    s.destroy();
    // Two 700 KB bodies at once against a 1 MiB budget: the second waits for no one and gets 503.
    const first = await raw(server.port, `POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.devApiKey}\r\nContent-Type: application/json\r\nContent-Length: 700000\r\n\r\n{`);
    await new Promise((r) => setTimeout(r, 100));
    const second = await raw(server.port, `POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.devApiKey}\r\nContent-Type: application/json\r\nContent-Length: 700000\r\nConnection: close\r\n\r\n{`);
    let answer = '';
    await new Promise<void>((r) => second.on('data', (d) => { answer += d; if (answer.includes('SERVER_BUSY')) r(); }));
    expect(answer).toMatch(/^HTTP\/1\.1 503/);
    expect(answer.toLowerCase()).toContain('retry-after: 1');
    first.destroy();
    second.destroy();
    // The budget is given back: a normal publish works again.
    await new Promise((r) => setTimeout(r, 100));
    expect((await publishHttp(server, { channel: 'x', event: 'after' })).status).toBe(202);
  });
});

describe('--allow-origin', () => {
  it('takes comma-separated origins and refuses one with a path, naming the flag', async () => {
    const { parseCliArgs } = await import('../../local/cli');
    expect(parseCliArgs(['--allow-origin', 'https://a.example, http://b.example:8080'], {})).toMatchObject({ allowedOrigins: ['https://a.example', 'http://b.example:8080'] });
    expect(() => parseCliArgs(['--allow-origin', 'https://a.example/app'], {})).toThrow(/--allow-origin takes origins/);
  });
});
