/**
 * CORS on the emulator's /publish route, as the stack configures the publish Function URL:
 * none by default (every request, OPTIONS too, reaches the function), and with
 * publish.corsAllowedOrigins the URL answers preflights for POST and marks the answers to
 * allowed origins, exactly as the emulator does for /history. Then the real thing: the
 * browser client in headless Chromium, on a page of another origin, publishes stored
 * messages with its JWT through /publish, and fails to when the origin is not allowed.
 */
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildBrowserClient, type BrowserBuild } from '../../client/build';
import { signToken } from '../../client/token';
import { startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';
import { launchChromium, servePage } from '../support/chromium';

type TestServer = Awaited<ReturnType<typeof startTestServer>>;
const APP = 'https://app.example.com';
const namespaces = { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 } };
const token = () => signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'alice', channels: { '/chat/*': { subscribe: true, history: true, publish: true } } });
const preflight = (server: TestServer, origin: string) =>
  fetch(`${server.url}/publish`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
const post = async (server: TestServer, origin: string, data: string) =>
  fetch(`${server.url}/publish`, {
    method: 'POST',
    headers: { origin, authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ channel: '/chat/room', event: 'message', data }] }),
  });

describe('the emulator\'s /publish CORS', () => {
  let withCors: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    withCors = await startTestServer({ namespaces, publish: { corsAllowedOrigins: [APP, 'http://localhost:5173'] } });
    plain = await startTestServer({ namespaces });
  }, 30_000);
  afterAll(async () => {
    await withCors?.close();
    await plain?.close();
  });

  it('answers a preflight from an allowed origin with the allow headers for POST, as /history does for GET', async () => {
    const pre = await preflight(withCors, APP);
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe(APP);
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
    expect(pre.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(pre.headers.get('access-control-max-age')).toBe('300');
    expect(pre.headers.get('vary')).toBe('origin');
    // History keeps its own (default '*', GET).
    const hist = await fetch(`${withCors.url}/history?channel=/chat/room`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET' } });
    expect([hist.status, hist.headers.get('access-control-allow-origin'), hist.headers.get('access-control-allow-methods')]).toEqual([200, '*', 'GET']);
  });

  it('gives a preflight from another origin no allow headers', async () => {
    const pre = await preflight(withCors, 'https://evil.example.com');
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('marks the answer to a POST from an allowed origin, and only that one', async () => {
    const ok = await post(withCors, APP, 'from the app');
    expect(ok.status).toBe(202);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('vary')).toBe('origin');
    expect((await ok.json()).results).toEqual([{ channel: '/chat/room', event: 'message', id: expect.any(String) }]);
    // On AWS another origin would still be served unmarked (CORS is for the browser to enforce);
    // the emulator, a service on the developer's machine, refuses other sites' pages (#13, local/guard.ts).
    const other = await post(withCors, 'https://evil.example.com', 'elsewhere');
    expect(other.status).toBe(403);
    expect((await other.json()).error.code).toBe('ORIGIN_NOT_ALLOWED');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('has no CORS by default: no allow headers, and OPTIONS reaches the publish function', async () => {
    const pre = await preflight(plain, APP);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-methods')).toBeNull();
    // The function's own answer (it serves POST only), not a preflight.
    expect(pre.status).not.toBe(200);
    expect(await pre.json()).toHaveProperty('error.code');
    // A page on a non-loopback origin is refused by the emulator (AWS would serve it unmarked);
    // a server-side caller sends no Origin and is served.
    expect((await post(plain, APP, 'page')).status).toBe(403);
    const res = await fetch(`${plain.url}/publish`, { method: 'POST', headers: { authorization: `Bearer ${plain.devApiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ channel: '/chat/room', event: 'message', data: 'server side' }) });
    expect(res.status).toBe(202);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('a browser page on another origin publishing stored messages', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'eventsock-publish-cors-'));
  let bundle: BrowserBuild;
  let page: Server;
  let pageOrigin: string;
  let browser: Browser;
  let allowed: TestServer;
  let closed: TestServer;

  beforeAll(async () => {
    bundle = await buildBrowserClient({ outdir });
    ({ server: page, origin: pageOrigin } = await servePage(bundle.code));
    // Another port is another origin: the page's origin is allowed on one server only.
    allowed = await startTestServer({ namespaces, publish: { corsAllowedOrigins: [pageOrigin] } });
    closed = await startTestServer({ namespaces });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await allowed?.close();
    await closed?.close();
    await new Promise<void>((r) => (page ? page.close(() => r()) : r()));
    rmSync(outdir, { recursive: true, force: true });
  });

  /** Runs the client in a fresh tab of the page: subscribe, publish stored, wait for the live copy. */
  async function publishFromPage(server: TestServer): Promise<{ ok: true; ids: string[]; got: unknown[] } | { ok: false; code: string; message: string }> {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${pageOrigin}/`);
      // A string, so jest's transform leaves the dynamic import() alone.
      return await tab.evaluate(`(async () => {
        const { connect } = await import('/eventsock.js');
        const client = await connect({ endpoint: ${JSON.stringify(server.url)}, auth: { type: 'token', token: ${JSON.stringify(await token())} }, publishApi: { url: ${JSON.stringify(server.url)} } });
        try {
          const got = [];
          let arrived;
          const live = new Promise((r) => (arrived = r));
          await client.subscribe('/chat/web', (m) => { got.push(m); arrived(); });
          try {
            const r = await client.publish('/chat/web', { event: 'message', data: 'from the page' }, { stored: true });
            await live;
            return { ok: true, ids: r.successful.map((s) => s.id), got };
          } catch (e) {
            return { ok: false, code: e.code, message: e.message };
          }
        } finally {
          await client.close();
        }
      })()`);
    } finally {
      await tab.close();
    }
  }

  it('publishes through /publish when its origin is allowed, and the message is stored and delivered', async () => {
    const r = await publishFromPage(allowed);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ids).toHaveLength(1);
    expect(r.got).toEqual([{ id: r.ids[0], event: 'message', channel: '/chat/web', data: 'from the page', meta: { uid: 'alice', umd: null } }]);
    // Stored: history has it.
    const hist = await fetch(`${allowed.url}/history?channel=/chat/web`, { headers: { authorization: `Bearer ${await token()}` } });
    expect((await hist.json()).items.map((m: { id: string }) => m.id)).toEqual(r.ids);
  }, 60_000);

  it('cannot publish through a publish URL without CORS: the browser blocks the request', async () => {
    const r = await publishFromPage(closed);
    expect(r).toEqual({ ok: false, code: 'CONNECTION_LOST', message: expect.stringContaining('it may still have been published') });
    // The preflight failed, so the POST never reached the function: nothing was stored.
    const hist = await fetch(`${closed.url}/history?channel=/chat/web`, { headers: { authorization: `Bearer ${await token()}` } });
    expect((await hist.json()).items).toEqual([]);
  }, 60_000);
});
