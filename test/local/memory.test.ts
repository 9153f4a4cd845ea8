/**
 * Memory of the emulator in total, measured as the process's RSS in a child process (#13):
 * the red-team run saw 124 MB grow to 341-552 MB under 20 stalled subscribers, and 149 MB to
 * 316 MB under 40 concurrent 6 MB unauthenticated POST /publish bodies. The bounds here are
 * generous (RSS is noisy); what they catch is growth with the attackers' bytes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { signedInvoke } from '../e2e/helpers';

type Child = { proc: ChildProcessWithoutNullStreams; info: any; rss(): Promise<number>; lines: string[] };

async function startChild(): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'memory-child.ts')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const next = () => new Promise<string>((r) => (lines.length ? r(lines.shift()!) : waiters.push(r)));
  const info = JSON.parse(await next());
  return {
    proc,
    info,
    lines,
    rss: async () => {
      proc.stdin.write('rss\n');
      return JSON.parse(await next()).rss as number;
    },
  };
}

const MB = 1024 * 1024;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('emulator memory in total', () => {
  let child: Child;
  beforeAll(async () => {
    child = await startChild();
  }, 60_000);
  afterAll(async () => {
    child.proc.stdin.write('exit\n');
    await new Promise((r) => child.proc.once('exit', r));
  });

  it('stays bounded under 40 concurrent 6 MB unauthenticated POST /publish bodies', async () => {
    const before = await child.rss();
    const port = Number(new URL(child.info.url).port);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const sockets = await Promise.all(Array.from({ length: 40 }, () => new Promise<Socket>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => {
        s.write(`POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${6 * MB}\r\n\r\n`);
        resolve(s);
      });
      s.on('error', () => undefined);
      s.resume();
    })));
    // Send ~2 MB on each (80 MB in all) while they are open.
    for (let i = 0; i < 32; i++) for (const s of sockets) if (!s.destroyed) s.write(chunk);
    await new Promise((r) => setTimeout(r, 500));
    const during = await child.rss();
    for (const s of sockets) s.destroy();
    expect(during - before).toBeLessThan(60 * MB);
  }, 60_000);

  it('stays bounded under 20 stalled subscribers while messages are published', async () => {
    const before = await child.rss();
    const auth = { host: child.info.httpHost, Authorization: child.info.devToken };
    const stalled: WebSocket[] = [];
    for (let i = 0; i < 20; i++) {
      const ws = new WebSocket(child.info.wsUrl, ['aws-appsync-event-ws', `header-${b64(auth)}`]);
      await new Promise<void>((r) => ws.once('open', () => r()));
      ws.send(JSON.stringify({ type: 'connection_init' }));
      ws.send(JSON.stringify({ type: 'subscribe', id: `s${i}`, channel: '/default/flood', authorization: auth }));
      await new Promise<void>((r) => ws.on('message', (d) => String(d).includes('subscribe_success') && r()));
      (ws as unknown as { _socket: Socket })._socket.pause();
      stalled.push(ws);
    }
    // 400 messages of 100 KB: 40 MB each, 800 MB for all 20 if nothing bounded the total.
    const data = 'x'.repeat(100 * 1024);
    let peak = 0;
    for (let i = 0; i < 400; i += 5) {
      const body = JSON.stringify({ messages: Array.from({ length: 5 }, (_v, k) => ({ channel: '/default/flood', event: 'm', data: `${i + k}${data}` })) });
      const res = await signedInvoke(`${child.info.url}/invoke/publish`, body, { region: child.info.region, credentials: child.info.iam });
      await res.arrayBuffer();
      if (i % 20 === 0) peak = Math.max(peak, await child.rss());
    }
    await new Promise((r) => setTimeout(r, 200));
    const during = Math.max(peak, await child.rss());
    for (const ws of stalled) ws.terminate();
    expect(during - before).toBeLessThan(150 * MB);
  }, 120_000);
});
