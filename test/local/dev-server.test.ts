import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { withoutTokenPrefix } from '../../functions/core/token-format';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { networkInterfaces } from 'node:os';
import { WebSocket } from 'ws';
import { publishHttp, RawSocket, signedInvoke, startTestServer, TEST_IAM, TEST_TOKEN_SECRET } from '../e2e/helpers';

describe('startDevServer', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-dev-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the console with the dev credentials, signs a 24 h dev token for every namespace, and frees the port on close', async () => {
    const server = await startTestServer({ namespaces: { default: {}, chat: { clientPublish: true } } }, { devApiKey: 'fixed-dev-api-key-0123456789' });
    let closed = false;
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      expect(server.wsUrl).toBe(`ws://127.0.0.1:${server.port}/event/realtime`);
      expect(server.settings.eventApiHttpHost).toBe(`127.0.0.1:${server.port}`);
      expect(server.devApiKey).toBe('fixed-dev-api-key-0123456789');

      const claims = decodeJwt(withoutTokenPrefix(server.devToken));
      expect(claims.scope).toBe('connect subscribe');
      expect(claims.channels).toEqual({
        '/default/*': { subscribe: true, publish: true, history: true },
        '/chat/*': { subscribe: true, publish: true, history: true },
      });
      expect(claims.exp! - claims.iat!).toBe(24 * 3600);

      const page = await fetch(`${server.url}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('window.EVENTSOCK_BOOT');
      expect(html).toContain(server.devToken);
      expect(html).toContain('fixed-dev-api-key-0123456789');
      const js = await fetch(`${server.url}/console/console.js`);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect(await js.text()).toContain('aws-appsync-event-ws');
      expect((await fetch(`${server.url}/console/../dev-server.ts`)).status).toBe(404);
      expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
      const pre = await fetch(`${server.url}/history?channel=/default/a`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } });
      expect(pre.status).toBe(200);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');

      // Close with a subscriber still connected: it is told, and close() does not wait for it to leave.
      const auth = { host: server.httpHost, Authorization: server.devToken };
      const sock = await RawSocket.connect(server.wsUrl, auth);
      await sock.subscribe('s', '/default/*', auth);
      await server.close();
      closed = true;
      expect((await sock.closed).code).toBeGreaterThanOrEqual(1000);
      await server.close(); // idempotent
      await expect(fetch(`${server.url}/`)).rejects.toThrow();
    } finally {
      if (!closed) await server.close();
    }
  });

  it('serves https and wss with the generated certificate, and the publish function delivers over it', async () => {
    const server = await startTestServer({}, { tls: { dir: join(dir, 'tls') } });
    try {
      expect(server.url.startsWith('https://')).toBe(true);
      expect(server.wsUrl.startsWith('wss://')).toBe(true);
      const ca = readFileSync(server.tls!.certFile);
      const auth = { host: server.httpHost, Authorization: server.devToken };
      const sub = await RawSocket.connect(server.wsUrl, auth, { ca });
      await sub.type('connection_ack');
      await sub.subscribe('s', '/default/*', auth);
      // Node's fetch cannot trust one certificate, so publish through https.request.
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = require('node:https').request(`${server.url}/publish`, { method: 'POST', ca, headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' } }, (r: any) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d));
          r.on('end', () => resolve({ status: r.statusCode, body }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ channel: 'secure', event: 'e' }));
      });
      expect(res.status).toBe(202);
      const [env] = await sub.waitEvents('s', 1);
      expect(env.id).toBe(JSON.parse(res.body).id);
      await sub.close();
    } finally {
      await server.close();
    }
  });

  it('keeps stored messages across restarts with a data dir', async () => {
    const dataDir = join(dir, 'data');
    const first = await startTestServer({}, { dataDir });
    let id: string;
    try {
      const res = await publishHttp(first, { channel: 'durable', event: 'e', store: -1 });
      expect(res.status).toBe(202);
      id = res.body.id;
    } finally {
      await first.close();
    }
    const second = await startTestServer({}, { dataDir });
    try {
      const res = await fetch(`${second.url}/history?channel=/default/durable`, { headers: { authorization: `Bearer ${second.devToken}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain(id);
    } finally {
      await second.close();
    }
  });

  it('sends keep-alives at the configured interval, right after the ack', async () => {
    const server = await startTestServer();
    try {
      const auth = { host: server.httpHost, Authorization: server.devToken };
      const sock = await RawSocket.connect(server.wsUrl, auth);
      await sock.next(() => sock.frames.filter((f) => f.type === 'ka').length >= 3);
      expect(sock.frames[0].type).toBe('connection_ack');
      expect(sock.frames[1].type).toBe('ka');
      await sock.close();
    } finally {
      await server.close();
    }
  });

  it('answers bad requests at its own routes with clear errors and stays up', async () => {
    const server = await startTestServer();
    try {
      const invoke = `${server.url}/invoke/publish`;
      expect((await fetch(invoke)).status).toBe(405);
      const unsigned = await fetch(invoke, { method: 'POST', body: '{}' });
      expect(unsigned.status).toBe(403);
      expect(await unsigned.text()).toContain('MISSING_AUTH');
      const notJson = await signedInvoke(invoke, '{not json', { region: server.settings.region });
      expect(notJson.status).toBe(400);
      const other = await signedInvoke(`${server.url}/2015-03-31/functions/someone-else/invocations`, '{}', { region: server.settings.region });
      expect(other.status).toBe(404);
      expect(other.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
      const invalid = await signedInvoke(invoke, JSON.stringify({ channel: '/default/a', event: 'eventsock.fake' }), { region: server.settings.region });
      expect(JSON.stringify(await invalid.json())).toContain('event');

      const big = await fetch(`${server.url}/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'a', event: 'e', data: 'x'.repeat(7 * 1024 * 1024) }),
      }).catch((e: Error) => e);
      expect(big instanceof Error ? 413 : big.status).toBe(413);

      const badWs = new WebSocket(`ws://127.0.0.1:${server.port}/not-realtime`, ['aws-appsync-event-ws']);
      const err = await new Promise<Error>((r) => badWs.on('error', r));
      expect(err.message).toContain('404');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('logs every frame with --verbose, never the token or the keys', async () => {
    const server = await startTestServer({}, { verbose: true });
    try {
      const auth = { host: server.httpHost, Authorization: server.devToken };
      const sock = await RawSocket.connect(server.wsUrl, auth);
      await sock.subscribe('s', '/default/*', auth);
      await publishHttp(server, { channel: 'a', event: 'logged' });
      await sock.waitEvents('s', 1);
      await sock.close();
      const msgs = server.logs.entries.map((e) => e.msg);
      expect(msgs).toEqual(expect.arrayContaining(['frame in', 'frame out', 'http']));
      const all = JSON.stringify(server.logs.entries);
      expect(all).toContain('subscribe_success');
      expect(all).not.toContain(server.devToken);
      expect(all).not.toContain(server.devToken.split('.')[2]);
      expect(all).not.toContain(server.devApiKey);
      expect(all).not.toContain(TEST_IAM.secretAccessKey);
      expect(all).not.toContain(TEST_TOKEN_SECRET);
    } finally {
      await server.close();
    }
  });

  it('gives the dev credentials to a console opened from this machine only', async () => {
    const own = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address ?? '127.0.0.1';
    const server = await startTestServer({}, { host: '0.0.0.0' });
    try {
      expect(server.httpHost).toBe(`127.0.0.1:${server.port}`);
      const local = await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
      expect(local).toContain(server.devApiKey);
      const remote = await (await fetch(`http://${own}:${server.port}/`)).text();
      expect(remote.includes(server.devApiKey)).toBe(own === '127.0.0.1');
      expect(remote.includes(server.devToken)).toBe(own === '127.0.0.1');
    } finally {
      await server.close();
    }
  });
});
