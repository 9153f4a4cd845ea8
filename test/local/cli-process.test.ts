/**
 * The real `npm start` process: started as the README says (npx tsx local/cli.ts),
 * its printed commands run as a developer would paste them, then stopped with SIGTERM.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { WebSocket } from 'ws';
import { shellWords } from '../compat/support';

const ROOT = join(__dirname, '..', '..');
const ENV = {
  EVENTSOCK_DEV_TOKEN_SECRET: 'cli-test-token-secret-0123456789',
  EVENTSOCK_DEV_API_KEY: 'cli-test-api-key-0123456789',
};

/** Turns a printed `curl` line into a fetch call, signing as curl's --aws-sigv4 does. */
async function curlToFetch(line: string): Promise<Response> {
  const w = shellWords(line.trim());
  expect(w[0]).toBe('curl');
  let method = 'GET';
  let url = '';
  let body: string | undefined;
  let sigv4: string | undefined;
  let user: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < w.length; i++) {
    if (w[i] === '-X') method = w[++i];
    else if (w[i] === '-H') {
      const [k, ...v] = w[++i].split(':');
      headers[k.trim().toLowerCase()] = v.join(':').trim();
    } else if (w[i] === '-d') {
      body = w[++i];
      method = method === 'GET' ? 'POST' : method;
    } else if (w[i] === '--aws-sigv4') sigv4 = w[++i];
    else if (w[i] === '--user') user = w[++i];
    else if (w[i] === '-sS') continue;
    else url = w[i];
  }
  if (sigv4) {
    const [, , region, service] = sigv4.split(':');
    const [accessKeyId, secretAccessKey] = user!.split(':');
    const u = new URL(url);
    const signer = new SignatureV4({ region, service, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
    const signed = await signer.sign({ method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: u.pathname, query: {}, headers: { ...headers, host: u.host }, body });
    return fetch(url, { method, headers: signed.headers as Record<string, string>, body });
  }
  return fetch(url, { method, headers, body });
}

function startCli(args: string[], env: Record<string, string> = {}): { proc: ChildProcessWithoutNullStreams; out: () => string; err: () => string; exit: Promise<number | null> } {
  // Its own process group, so a failed test can kill npx, tsx and node together.
  const proc = spawn('npx', ['tsx', 'local/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...ENV, ...env }, stdio: 'pipe', detached: true });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out: () => out, err: () => err, exit };
}

function killGroup(proc: ChildProcessWithoutNullStreams): void {
  try {
    process.kill(-proc.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function groupAlive(proc: ChildProcessWithoutNullStreams): boolean {
  try {
    process.kill(-proc.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, what: () => string, ms = 60000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Child processes start slowly when the whole suite shares two cores.
jest.setTimeout(90_000);

describe('npm start (local/cli.ts) as a process', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints working commands, delivers the printed curl publish to the printed wscat subscription, and stops on SIGTERM', async () => {
    const cli = startCli(['--port', '0']);
    try {
      await waitFor(() => cli.out().includes('Ctrl-C stops'), () => cli.out() + cli.err());
      const lines = cli.out().split('\n').map((l) => l.trim());
      expect(cli.out()).toContain(ENV.EVENTSOCK_DEV_API_KEY);
      // Logs are JSON lines on stderr, never holding the secrets.
      expect(cli.err()).not.toContain(ENV.EVENTSOCK_DEV_API_KEY);
      expect(cli.err()).not.toContain(ENV.EVENTSOCK_DEV_TOKEN_SECRET);
      // npx may add its own "npm warn" lines; everything the emulator writes is JSON.
      const logLines = cli.err().split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
      expect(logLines.length).toBeGreaterThan(0);
      for (const l of logLines) expect(() => JSON.parse(l)).not.toThrow();

      // wscat line: the subprotocols and URL it would use.
      const wscat = shellWords(lines.find((l) => l.startsWith('npx wscat'))!);
      const protocols = wscat.flatMap((w, i) => (w === '-s' ? [wscat[i + 1]] : []));
      const wsUrl = wscat[wscat.indexOf('-c') + 1];
      expect(protocols[0]).toBe('aws-appsync-event-ws');
      expect(protocols[1]).toMatch(/^header-[A-Za-z0-9_-]+$/);
      const ws = new WebSocket(wsUrl, protocols);
      const frames: Array<Record<string, any>> = [];
      ws.on('message', (m) => frames.push(JSON.parse(String(m))));
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      expect(ws.protocol).toBe('aws-appsync-event-ws');
      ws.send(lines.find((l) => l.startsWith('{"type":"connection_init"'))!);
      ws.send(lines.find((l) => l.startsWith('{"type":"subscribe"'))!);
      await waitFor(() => frames.some((f) => f.type === 'subscribe_success'), () => JSON.stringify(frames));

      const publish = await curlToFetch(lines.find((l) => l.startsWith('curl') && l.includes('/publish'))!);
      expect(publish.status).toBe(202);
      const published = await publish.json();
      await waitFor(() => frames.some((f) => f.type === 'data'), () => JSON.stringify(frames));
      const envelope = JSON.parse(frames.find((f) => f.type === 'data')!.event);
      expect(envelope).toMatchObject({ id: published.id, event: 'hello', channel: '/default/room-1', data: { text: 'hi' } });

      const invoke = await curlToFetch(lines.find((l) => l.startsWith('curl') && l.includes('/invoke/publish'))!);
      expect(invoke.status).toBe(200);
      const invoked = await invoke.json();
      await waitFor(() => frames.filter((f) => f.type === 'data').length === 2, () => JSON.stringify(frames));
      expect(JSON.parse(frames.filter((f) => f.type === 'data')[1].event).id).toBe(invoked.id);

      const history = await curlToFetch(lines.find((l) => l.startsWith('curl') && l.includes('/history'))!);
      expect(history.status).toBe(200);
      expect(JSON.stringify(await history.json())).toContain(published.id);
      ws.close();

      // To the whole group, as a terminal or a supervisor does: npx itself does not forward it.
      process.kill(-cli.proc.pid!, 'SIGTERM');
      // npx dies of the signal itself; the emulator under it must stop cleanly and leave nothing behind.
      await cli.exit;
      await waitFor(() => cli.err().includes('"msg":"stopped"'), () => cli.err());
      await waitFor(() => !groupAlive(cli.proc), () => 'process group still alive');
    } finally {
      killGroup(cli.proc);
    }
  });

  it('exits 1 naming the field of an invalid config, and 2 on a bad flag', async () => {
    const bad = join(dir, 'bad.config.ts');
    writeFileSync(bad, "export default { namespaces: { chat: { ordering: 'random' } } };\n");
    const cli = startCli(['--port', '0', '--config', bad]);
    expect(await cli.exit).toBe(1);
    expect(cli.err()).toContain('config.namespaces.chat.ordering');

    const flag = startCli(['--port', 'x']);
    expect(await flag.exit).toBe(2);
    expect(flag.err()).toContain('--port must be a port number');
  });

  it('exits 1 with a hint when the port is taken, leaving nothing running', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const cli = startCli(['--port', String(port)]);
      expect(await cli.exit).toBe(1);
      expect(cli.err()).toContain(`port ${port} is in use`);
      await waitFor(() => !groupAlive(cli.proc), () => 'process group still alive');
    } finally {
      blocker.close();
    }
  });

  it('prints usage for --help', async () => {
    const cli = startCli(['--help']);
    expect(await cli.exit).toBe(0);
    expect(cli.out()).toContain('EVENTSOCK_DEV_TOKEN_SECRET');
    expect(cli.out()).toContain('--data-dir');
  });
});
