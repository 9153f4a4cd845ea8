/**
 * The browser build: no Node built-ins in the bundle, and the same client running
 * in headless Chromium (native WebSocket, pure-JS SigV4) against a server on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildBrowserClient, NODE_BUILTINS, type BrowserBuild } from '../../client/build';
import { verifyEventAuthorization } from '../../local/sigv4-verify';
import { launchChromium } from '../support/chromium';
import { startScriptedServer, type ScriptedServer } from './support/scripted-server';

let bundle: BrowserBuild;
let server: ScriptedServer;
let page: Server;
let pageUrl: string;
let browser: Browser;

beforeAll(async () => {
  bundle = await buildBrowserClient({ outdir: mkdtempSync(join(tmpdir(), 'eventsock-client-')) });
  server = await startScriptedServer();
  page = createServer((req, res) => {
    if (req.url === '/eventsock.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle.code);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>eventsock</title>');
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', () => r()));
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise<void>((r) => (page ? page.close(() => r()) : r()));
});

describe('browser bundle', () => {
  it('imports no Node built-in and has no require()', () => {
    const builtins = bundle.imports.filter((i) => NODE_BUILTINS.has(i) || i.startsWith('node:'));
    expect(builtins).toEqual([]);
    expect(bundle.externalImports).toEqual([]);
    expect(bundle.code).not.toMatch(/\brequire\(/);
    expect(bundle.code).not.toMatch(/["']node:[a-z]/);
    expect(bundle.code).not.toContain('from"ws"');
  });

  it('ships type declarations for the browser entry', () => {
    const entry = bundle.typeFiles.find((f) => f.endsWith(join('client', 'browser.d.ts')))!;
    expect(entry).toBeDefined();
    expect(readFileSync(entry, 'utf8')).toMatch(/export declare function connect\(opts: ClientOptions\): Promise<EventsockClient>/);
  });

  it('is ESM: exports connect and the SigV4 helpers', () => {
    expect(bundle.code).toMatch(/export\{[^}]*\bconnect\b/);
    expect(bundle.code).toMatch(/export\{[^}]*\bcreateSigner\b/);
  });
});

describe('the client in headless Chromium', () => {
  it('connects with a token, subscribes and receives what the server publishes', async () => {
    const tab = await browser.newPage();
    try {
      await tab.goto(pageUrl);
      // A string, so jest's transform leaves the dynamic import() alone.
      await tab.evaluate(`(async () => {
        const { connect } = await import('/eventsock.js');
        window.got = [];
        window.client = await connect({ endpoint: ${JSON.stringify(server.url)}, auth: { type: 'token', token: 'browser-token' } });
        await window.client.subscribe('/default/web', (m) => window.got.push(m));
      })()`);
      const env = server.publish('/default/web', 'chat.message', { text: 'to the browser' });
      await tab.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length === 1);
      expect(await tab.evaluate(() => (window as unknown as { got: unknown[] }).got[0])).toEqual(env);
    } finally {
      await tab.close();
    }
  });

  it('signs IAM subscribe frames in the browser that the emulator verification accepts', async () => {
    const tab = await browser.newPage();
    try {
      await tab.goto(pageUrl);
      const id = (await tab.evaluate(`(async () => {
        const { connect } = await import('/eventsock.js');
        const c = await connect({ endpoint: ${JSON.stringify(server.url)}, auth: { type: 'iam', region: 'eu-west-1', credentials: async () => ({ accessKeyId: 'AKIDBROWSER', secretAccessKey: 'browser-secret', sessionToken: 'sess' }) } });
        const s = await c.subscribe('/default/signed', () => undefined);
        await c.publish('/default/signed', { event: 'e', data: { ok: true } });
        return s.id;
      })()`)) as string;
      const sub = server.frames.find((f) => f.type === 'subscribe' && f.id === id)!;
      const verify = { credentials: (k: string) => (k === 'AKIDBROWSER' ? { secretAccessKey: 'browser-secret', sessionToken: 'sess' } : undefined), region: 'eu-west-1', service: 'appsync' };
      expect(await verifyEventAuthorization(sub.authorization as Record<string, string>, { kind: 'subscribe', channel: '/default/signed' }, verify)).toMatchObject({ ok: true });
      const pub = server.frames.find((f) => f.type === 'publish' && f.channel === '/default/signed')!;
      expect(await verifyEventAuthorization(pub.authorization as Record<string, string>, { kind: 'publish', channel: '/default/signed', events: pub.events as string[] }, verify)).toMatchObject({ ok: true });
    } finally {
      await tab.close();
    }
  });
});
