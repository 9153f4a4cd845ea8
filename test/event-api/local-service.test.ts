/**
 * The Event API emulator as a long-running local service (#13): the bytes waiting for
 * stalled readers are bounded in total, not only per connection, and a WebSocket that
 * sends nothing at all (not even the pong its stack answers pings with, e.g. one stuck
 * half-way through a frame) is closed past the connectionTimeoutMs its ack announced.
 */
import { createConnection, type Socket } from 'node:net';
import { apiKeyClient, startApi, subscribe } from './helpers';

const big = (bytes: number) => JSON.stringify('x'.repeat(bytes - 2));
const rawSocket = (c: unknown) => (c as { ws: { _socket: Socket } }).ws._socket;

describe('bounded in total', () => {
  it('closes stalled readers once all connections together hold maxTotalBufferedBytes, though each is under its own bound', async () => {
    // Each may hold 8 MiB, but all together only 1 MiB: four stalled readers must be cut off
    // long before 4 x 8 MiB are queued; a reading subscriber gets everything.
    const srv = await startApi({ maxBufferedBytes: 8 * 1024 * 1024, maxTotalBufferedBytes: 1024 * 1024, closeGraceMs: 500 });
    try {
      const healthy = await apiKeyClient(srv);
      await subscribe(healthy, srv, 'h', '/default/stall');
      const stalled = [];
      for (let i = 0; i < 4; i++) {
        const c = await apiKeyClient(srv);
        await subscribe(c, srv, `s${i}`, '/default/stall');
        rawSocket(c).pause();
        stalled.push(c);
      }
      const total = 60;
      for (let i = 0; i < total; i++) {
        await srv.api.publish('/default/stall', [big(100 * 1024)]);
        await new Promise((r) => setTimeout(r, 2));
      }
      await healthy.next(() => healthy.data('h').length === total, 15_000);
      const closes = srv.logger.entries.filter((e) => e.msg === 'closing connection' && String(e.reason).startsWith('slow consumer'));
      expect(closes.length).toBe(4);
      // 60 x 100 KiB = 6 MiB each would have fitted under the per-connection bound.
      expect(srv.api.stats().connections).toBe(1);
      healthy.close();
    } finally {
      await srv.close();
    }
  });
});

describe('silent WebSockets', () => {
  it('keeps a quiet client whose WebSocket answers pings, past several timeouts', async () => {
    const srv = await startApi({ connectionTimeoutMs: 300 });
    try {
      const c = await apiKeyClient(srv);
      await new Promise((r) => setTimeout(r, 1200));
      expect(srv.api.stats().connections).toBe(1);
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('closes one that sent half a frame and then nothing, within the announced timeout', async () => {
    const srv = await startApi({ connectionTimeoutMs: 300, closeGraceMs: 200 });
    try {
      const c = await apiKeyClient(srv);
      const sock = rawSocket(c);
      // A masked text frame header announcing 100 bytes, then 3 of them: the server's parser waits for the rest.
      sock.write(Buffer.from([0x81, 0x80 | 100, 1, 2, 3, 4, 0x61, 0x62, 0x63]));
      const started = Date.now();
      const closed = await c.waitClosed(5000);
      expect(Date.now() - started).toBeLessThan(2000);
      expect([1001, 1006]).toContain(closed.code);
      expect(srv.logger.entries.some((e) => e.msg === 'connection silent')).toBe(true);
      expect(srv.api.stats().connections).toBe(0);
    } finally {
      await srv.close();
    }
  });

  it('closes a raw TCP client that upgraded and then never answers pings', async () => {
    const srv = await startApi({ connectionTimeoutMs: 300, closeGraceMs: 200 });
    try {
      const url = new URL(srv.url.replace(/^http/, 'ws') + '/event/realtime');
      const sock = createConnection({ host: url.hostname, port: Number(url.port) });
      await new Promise<void>((r) => sock.once('connect', () => r()));
      const auth = Buffer.from(JSON.stringify({ host: srv.httpHost, 'x-api-key': 'da2-local-test-key' })).toString('base64url');
      sock.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: aws-appsync-event-ws, header-${auth}\r\n\r\n`);
      let head = '';
      await new Promise<void>((r) => sock.on('data', (d) => { head += d.toString('latin1'); if (head.includes('\r\n\r\n')) r(); }));
      expect(head).toMatch(/^HTTP\/1\.1 101/);
      const closed = await new Promise<number>((r) => { const t = Date.now(); sock.on('close', () => r(Date.now() - t)); });
      expect(closed).toBeLessThan(3000);
    } finally {
      await srv.close();
    }
  });
});
