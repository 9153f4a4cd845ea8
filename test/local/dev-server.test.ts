import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { publishHttp, RawSocket, startTestServer } from '../e2e/helpers';

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

      const claims = decodeJwt(server.devToken);
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

      await server.close();
      closed = true;
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
});
