import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { loadTls } from '../../local/tls';

describe('local TLS', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-tls-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a certificate for the local names, keeps the key private, and reuses it on the next start', async () => {
    const first = await loadTls({ dir });
    expect(first.generated).toBe(true);
    expect(readFileSync(first.certFile, 'utf8')).toBe(first.cert);
    expect(statSync(first.keyFile).mode & 0o077).toBe(0);
    const second = await loadTls({ dir });
    expect(second.generated).toBe(false);
    expect(second.cert).toBe(first.cert);
  });

  it('replaces a certificate file that is not a valid certificate', async () => {
    const d = join(dir, 'broken');
    const first = await loadTls({ dir: d });
    writeFileSync(first.certFile, 'not a certificate');
    const again = await loadTls({ dir: d });
    expect(again.generated).toBe(true);
    expect(again.cert).toContain('BEGIN CERTIFICATE');
  });

  it('serves wss that a client trusting the written file accepts and an untrusting one refuses', async () => {
    const tls = await loadTls({ dir });
    const server = createServer({ cert: tls.cert, key: tls.key });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.send('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        const ws = new WebSocket(`wss://${host}:${port}/event/realtime`, { ca: readFileSync(tls.certFile) });
        const msg = await new Promise<string>((resolve, reject) => {
          ws.on('message', (m) => resolve(String(m)));
          ws.on('error', reject);
        });
        expect(msg).toBe('hello');
        ws.close();
      }
      const untrusted = new WebSocket(`wss://127.0.0.1:${port}/event/realtime`);
      const err = await new Promise<Error>((resolve) => untrusted.on('error', resolve));
      expect(err.message).toMatch(/self[- ]signed/i);
    } finally {
      wss.close();
      await new Promise((r) => server.close(r));
    }
  });

  it('uses given files, and names the missing or unreadable one', async () => {
    const tls = await loadTls({ dir });
    const own = await loadTls({ certFile: tls.certFile, keyFile: tls.keyFile });
    expect(own.generated).toBe(false);
    expect(own.cert).toBe(tls.cert);
    await expect(loadTls({ certFile: tls.certFile })).rejects.toMatchObject({ code: 'TLS_CONFIG', field: 'key' });
    await expect(loadTls({ certFile: join(dir, 'nope.pem'), keyFile: tls.keyFile })).rejects.toMatchObject({ code: 'TLS_CONFIG', field: 'cert' });
    await expect(loadTls({ certFile: tls.keyFile, keyFile: tls.keyFile })).rejects.toThrow(/holds no PEM CERTIFICATE/);
  });
});
