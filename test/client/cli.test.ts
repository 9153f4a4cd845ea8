import { execFile } from 'node:child_process';
import { TOKEN_PREFIX, withoutTokenPrefix } from '../../functions/core/token-format';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { main, type CliIo } from '../../client/cli';
import { startScriptedServer, type ScriptedServer } from './support/scripted-server';
import { waitFor } from './support/wait';

function io(env: Record<string, string> = {}, signal?: AbortSignal): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l), env, signal };
}

const SECRET = 'cli-test-secret';

describe('eventsock token', () => {
  it('signs a token with the channel grants, uid and kid the authorizer expects', async () => {
    const t = io({ EVENTSOCK_TOKEN_SECRET: SECRET });
    const code = await main(['token', '--channel', '/default/*=subscribe,history', '--channel', '/chat/room-1=publish:message|typing', '--uid', 'bob', '--umd', '{"name":"Bob"}', '--ttl', '600'], t);
    expect(code).toBe(0);
    // An Eventsock token: `es1.` + the JWT (functions/core/token-format.ts).
    expect(t.out[0].startsWith(TOKEN_PREFIX)).toBe(true);
    const { payload } = await jwtVerify(withoutTokenPrefix(t.out[0]), new TextEncoder().encode(SECRET));
    expect(payload).toMatchObject({
      channels: { '/default/*': { subscribe: true, history: true }, '/chat/room-1': { publish: ['message', 'typing'] } },
      uid: 'bob',
      umd: { name: 'Bob' },
      scope: 'connect subscribe',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(decodeProtectedHeader(withoutTokenPrefix(t.out[0])).kid).toBe('k1');
  });

  it('bad grants and a missing secret are usage errors naming the option', async () => {
    const t = io({ EVENTSOCK_TOKEN_SECRET: SECRET });
    expect(await main(['token', '--channel', '/default/*=read'], t)).toBe(2);
    expect(t.err.join('\n')).toMatch(/--channel .*unknown permission "read"/);
    const u = io();
    expect(await main(['token', '--channel', '/default/*=subscribe'], u)).toBe(2);
    expect(u.err.join('\n')).toMatch(/no signing secret/);
    const w = io({ EVENTSOCK_TOKEN_SECRET: SECRET });
    expect(await main(['token', '--channel', '/default/*=subscribe', '--umd', '{not json'], w)).toBe(2);
    expect(w.err.join('\n')).toMatch(/--umd is not JSON/);
  });

  it('runs through the bin shim (tsx) as npx eventsock would', async () => {
    const bin = join(__dirname, '..', '..', 'client', 'bin', 'eventsock.mjs');
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'token', '--secret', SECRET, '--channel', '/default/x=subscribe'], { timeout: 20_000 });
    const { payload } = await jwtVerify(withoutTokenPrefix(stdout.trim()), new TextEncoder().encode(SECRET));
    expect(payload.channels).toEqual({ '/default/x': { subscribe: true } });
  });
});

describe('eventsock publish over the publish API', () => {
  it('POSTs the message with the bearer key and prints the answer; an error answer exits 1 without echoing the key', async () => {
    const seen: Array<{ auth?: string; body: unknown; path?: string }> = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ auth: req.headers.authorization, body: JSON.parse(body), path: req.url });
        if (req.headers.authorization !== 'Bearer esk_good') {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"UNAUTHORIZED","message":"bad key"}}');
          return;
        }
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"01HZZ","channel":"/default/room","event":"greet"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = io({ EVENTSOCK_PUBLISH_KEY: 'esk_good' });
      expect(await main(['publish', 'room', 'greet', '{"text":"hi"}', '--endpoint', endpoint, '--store', '60'], ok)).toBe(0);
      expect(seen[0]).toEqual({ auth: 'Bearer esk_good', path: '/publish', body: { channel: 'room', event: 'greet', data: { text: 'hi' }, store: 60 } });
      expect(JSON.parse(ok.out[0])).toEqual({ id: '01HZZ', channel: '/default/room', event: 'greet' });
      const bad = io();
      expect(await main(['publish', 'room', 'greet', '--publish-url', `${endpoint}/publish`, '--key', 'esk_wrong'], bad)).toBe(1);
      expect(bad.err.join('\n')).toMatch(/HTTP 401/);
      expect(bad.err.join('\n')).not.toContain('esk_wrong');
      const usage = io();
      expect(await main(['publish', 'room', 'greet', 'not-json', '--endpoint', endpoint, '--key', 'k'], usage)).toBe(2);
      expect(usage.err[0]).toMatch(/data is not JSON/);
      // --token without --ws: a client publish through the publish API with that JWT, no store.
      const asClient = io();
      expect(await main(['publish', 'room', 'greet', '--endpoint', endpoint, '--token', 'a.b.c'], asClient)).toBe(1);
      expect(seen.at(-1)).toEqual({ auth: 'Bearer a.b.c', path: '/publish', body: { channel: 'room', event: 'greet', data: null } });
      const storeWithToken = io();
      expect(await main(['publish', 'room', 'greet', '--endpoint', endpoint, '--token', 'a.b.c', '--store', '60'], storeWithToken)).toBe(2);
      expect(storeWithToken.err[0]).toMatch(/--store is a backend decision/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('eventsock subscribe and publish --ws', () => {
  let server: ScriptedServer;
  beforeEach(async () => {
    server = await startScriptedServer();
  });
  afterEach(() => server.close());

  it('prints each envelope as a JSON line and stops after --count', async () => {
    const t = io({ EVENTSOCK_ENDPOINT: server.url, EVENTSOCK_TOKEN: 'tok' });
    const run = main(['subscribe', '/default/cli', '--count', '2'], t);
    await waitFor(() => server.frames.some((f) => f.type === 'subscribe'), 'subscribe');
    const a = server.publish('/default/cli', 'e', 1);
    const b = server.publish('/default/cli', 'e', 2);
    expect(await run).toBe(0);
    expect(t.out.map((l) => JSON.parse(l))).toEqual([a, b]);
  });

  it('ends on abort (Ctrl-C) and publishes over the socket with --ws', async () => {
    const ac = new AbortController();
    const t = io({ EVENTSOCK_ENDPOINT: server.url }, ac.signal);
    const run = main(['subscribe', '/default/ws', '--api-key', 'da2-k'], t);
    await waitFor(() => server.frames.some((f) => f.type === 'subscribe'), 'subscribe');
    const p = io({ EVENTSOCK_ENDPOINT: server.url });
    expect(await main(['publish', '/default/ws', 'hello', '"there"', '--ws', '--token', 'tok'], p)).toBe(0);
    expect(JSON.parse(p.out[0]).successful).toHaveLength(1);
    await waitFor(() => t.out.length === 1, 'delivery');
    expect(JSON.parse(t.out[0])).toMatchObject({ event: 'hello', data: 'there', channel: '/default/ws' });
    ac.abort();
    expect(await run).toBe(0);
  });

  it('a refused subscription exits 1 with the server error type', async () => {
    server.refuseChannels.add('/default/no');
    const t = io({ EVENTSOCK_ENDPOINT: server.url, EVENTSOCK_TOKEN: 'tok' });
    expect(await main(['subscribe', '/default/no'], t)).toBe(1);
    expect(t.err.join('\n')).toMatch(/SUBSCRIBE_REFUSED \(UnauthorizedException\)/);
  });
});
