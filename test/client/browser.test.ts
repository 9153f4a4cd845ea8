/**
 * The browser build: no Node built-ins in the bundle, and the same client running
 * in headless Chromium (native WebSocket, pure-JS SigV4) against a server on loopback.
 */
import type { Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildBrowserClient, NODE_BUILTINS, type BrowserBuild } from '../../client/build';
import { verifyEventAuthorization } from '../../local/sigv4-verify';
import { launchChromium, servePage } from '../support/chromium';
import { signToken } from '../../client/token';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import { namespaceHandlerCode } from '../../functions/namespace/code';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { listenEventApi, type ListeningEventApi } from '../../local/event-api';
import { startScriptedServer, type ScriptedServer } from './support/scripted-server';

let bundle: BrowserBuild;
const outdir = mkdtempSync(join(tmpdir(), 'eventsock-client-'));
let server: ScriptedServer;
let page: Server;
let pageUrl: string;
let browser: Browser;
let emulator: ListeningEventApi;
const SECRET = 'browser-test-secret-0123456789abcdef';

beforeAll(async () => {
  bundle = await buildBrowserClient({ outdir });
  server = await startScriptedServer();
  const served = await servePage(bundle.code);
  page = served.server;
  pageUrl = `${served.origin}/`;
  browser = await launchChromium();
  const config = resolveConfig({ namespaces: { default: { clientPublish: true } } });
  const secrets = staticSecretSource({ [config.tokens.hs256Keys[0].parameterName]: SECRET, [config.tokens.hs256Keys[1].parameterName]: `${SECRET}-2` });
  emulator = await listenEventApi({
    config,
    authorizer: createAuthorizerHandler({ settings: runtimeSettings(config, { eventApiHttpHost: '', region: 'us-east-1' }), secrets, logger: memoryLogger() }),
    namespaceHandlerCode: namespaceHandlerCode(config),
    logger: memoryLogger(),
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await emulator?.close();
  rmSync(outdir, { recursive: true, force: true });
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

  it('is tree-shakable: an app importing only toSubprotocol does not carry SigV4', async () => {
    const { build } = await import('esbuild');
    const shaken = await build({
      stdin: { contents: `import { toSubprotocol } from ${JSON.stringify(bundle.file)}; console.log(toSubprotocol({ host: 'h' }));`, resolveDir: __dirname, loader: 'js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const code = shaken.outputFiles[0].text;
    expect(code).not.toContain('AWS4-HMAC-SHA256');
    expect(code.length).toBeLessThan(bundle.bytes / 2);
    expect(bundle.code).toContain('AWS4-HMAC-SHA256');
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

  it('runs against the emulator with a Lambda-authorized token: receives, publishes and gets its own envelope back', async () => {
    const token = await signToken({ secret: SECRET, kid: 'k1', channels: { '/default/*': { subscribe: true, publish: ['chat.message'] } }, uid: 'browser-user' });
    const tab = await browser.newPage();
    try {
      await tab.goto(pageUrl);
      await tab.evaluate(`(async () => {
        const { connect } = await import('/eventsock.js');
        window.got = [];
        window.client = await connect({ endpoint: ${JSON.stringify(emulator.url)}, auth: { type: 'token', token: () => ${JSON.stringify(token)} } });
        await window.client.subscribe('/default/web', (m) => window.got.push(m));
      })()`);
      await emulator.api.publish('/default/web', [JSON.stringify({ id: '01J0000000000000000000000A', event: 'server.event', channel: '/default/web', data: 1, meta: { uid: null, umd: null } })]);
      await tab.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length === 1);
      const result = (await tab.evaluate(`window.client.publish('/default/web', [{ event: 'chat.message', data: { text: 'from chromium' } }, { event: 'chat.delete' }])`)) as { successful: unknown[]; failed: unknown[] };
      expect(result.successful).toHaveLength(1);
      expect(result.failed).toHaveLength(1);
      await tab.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length === 2);
      const got = (await tab.evaluate('window.got')) as Array<Record<string, unknown>>;
      expect(got[0]).toMatchObject({ event: 'server.event', data: 1 });
      expect(got[1]).toMatchObject({ event: 'chat.message', channel: '/default/web', data: { text: 'from chromium' }, meta: { uid: 'browser-user' } });
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
