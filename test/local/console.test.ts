/**
 * The web console in headless Chromium: it connects with the injected dev token,
 * subscribes, publishes through the publish API and over the socket, and shows
 * what arrives.
 */
import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import { launchChromium } from '../support/chromium';
import { startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';
import { waitFor } from '../client/support/wait';

// Chromium is slow to start when the whole suite shares two cores.
jest.setTimeout(60_000);

describe('web console (Chromium)', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let page: Page;

  beforeAll(async () => {
    server = await startTestServer({ namespaces: { default: {}, chat: { clientPublish: true } } });
    browser = await launchChromium();
    page = await browser.newPage();
  }, 60000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('connects with the dev token, subscribes, publishes through the API and the socket, and shows the messages live', async () => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.url}/`);
    expect(await page.inputValue('#token')).toBe(server.devToken);
    expect(await page.inputValue('#endpoint')).toBe(server.wsUrl);

    await page.click('#connect');
    await page.waitForSelector('#status.on');
    await page.fill('#sub-channel', '/default/*');
    await page.click('#subscribe');
    await page.fill('#sub-channel', '/chat/*');
    await page.click('#subscribe');
    await page.waitForFunction(() => document.querySelectorAll('#subscriptions li.active').length === 2);

    await page.fill('#pub-channel', '/default/room-1');
    await page.fill('#pub-event', 'greeting');
    await page.fill('#pub-data', '{"text":"hello from chromium"}');
    await page.click('#publish');
    await page.waitForSelector('#pub-result.ok');
    expect(await page.textContent('#pub-result')).toContain('202');
    await page.waitForSelector('#messages li.data');
    const first = await page.textContent('#messages li.data');
    expect(first).toContain('/default/room-1');
    expect(first).toContain('hello from chromium');

    await page.fill('#pub-channel', '/chat/lobby');
    await page.fill('#pub-event', 'chat.message');
    await page.fill('#pub-data', '{"text":"over the socket"}');
    await page.selectOption('#pub-via', 'socket');
    await page.click('#publish');
    await page.waitForFunction(() => document.querySelectorAll('#messages li.data').length === 2);
    const second = await page.textContent('#messages li.data');
    expect(second).toContain('/chat/lobby');
    expect(second).toContain('over the socket');
    expect(second).toContain('"uid": "dev"');

    // A message with markup is shown as text, never run.
    await page.selectOption('#pub-via', 'api');
    await page.fill('#pub-channel', '/default/room-1');
    await page.fill('#pub-data', '{"text":"<img src=x onerror=window.__pwned=1>"}');
    await page.click('#publish');
    await page.waitForFunction(() => document.querySelectorAll('#messages li.data').length === 3);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // The last API publish was stored (the "store 1 h" box is ticked by default): read it back.
    await page.click('#history');
    await page.waitForSelector('#messages li.history');
    const history = await page.textContent('#messages li.history');
    expect(history).toContain('history of /default/room-1 (200)');
    expect(history).toContain('hello from chromium');

    const shot = join(tmpdir(), `eventsock-console-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    unlinkSync(shot);
    expect(pageErrors).toEqual([]);
  });

  it('shows a refused subscription as failed without dropping the connection', async () => {
    await page.fill('#sub-channel', '/nowhere/*');
    await page.click('#subscribe');
    await page.waitForSelector('#subscriptions li.failed');
    expect(await page.textContent('#messages li.error')).toContain('UnauthorizedException');
    expect(await page.getAttribute('#status', 'class')).toContain('on');
  });

  it('works over --tls (https page, wss socket) in a browser that trusts the certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventsock-console-tls-'));
    const secure = await startTestServer({}, { tls: { dir } });
    // Trusting the one certificate is what importing cert.pem does; Chromium's switch for it is per context.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const p = await context.newPage();
      await p.goto(`${secure.url}/`);
      expect(await p.inputValue('#endpoint')).toBe(secure.wsUrl);
      expect(secure.wsUrl.startsWith('wss://')).toBe(true);
      await p.click('#connect');
      await p.waitForSelector('#status.on');
      await p.click('#subscribe');
      await p.waitForSelector('#subscriptions li.active');
      await p.click('#publish');
      await p.waitForSelector('#messages li.data');
      expect(await p.textContent('#messages li.data')).toContain('hi from the console');
    } finally {
      await context.close();
      await secure.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('web console: members panel (Chromium, presence)', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let page: Page;
  const pageErrors: string[] = [];
  const clients: EventsockClient[] = [];

  beforeAll(async () => {
    // Heartbeats every 5 s (a member times out after 12 s), sweeps every 200 ms, as test/presence does.
    server = await startTestServer({ namespaces: { default: {}, room: { presence: true } }, presence: { heartbeatSeconds: 5 } }, { presenceSweepMs: 200 });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.url}/`);
    await page.click('#connect');
    await page.waitForSelector('#status.on');
  }, 60000);
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  async function member(uid: string): Promise<EventsockClient> {
    const token = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid, umd: { name: uid.toUpperCase() }, channels: { '/room/*': { subscribe: true } } } as Parameters<typeof signToken>[0]);
    const c = await connect({ endpoint: server.url, auth: { type: 'token', token }, publishApi: { url: server.url }, history: { url: server.url } });
    clients.push(c);
    return c;
  }
  const shown = () => page.$$eval('#members li', (lis) => lis.map((li) => (li as HTMLElement).dataset.uid));
  async function watch(channel: string, opts: { join?: boolean } = {}) {
    await page.setChecked('#mem-join', opts.join ?? false);
    await page.fill('#mem-channel', channel);
    await page.click('#watch');
  }

  it('lists the members of a channel and shows joins and leaves of a real client live', async () => {
    // The panel starts on the first namespace with presence, not the default one.
    expect(await page.inputValue('#mem-channel')).toBe('/room/room-1');
    const ann = await member('ann');
    await ann.subscribe('/room/lobby', () => undefined, { presence: true });
    await watch('/room/lobby');
    await page.waitForSelector('#mem-status.ok');
    expect(await page.textContent('#mem-status')).toBe('watching /room/lobby live');
    expect(await shown()).toEqual(['ann']);
    expect(await page.textContent('#members li[data-uid="ann"] .umd')).toBe('{"name":"ANN"}');
    expect(await page.getAttribute('#members li[data-uid="ann"] .since', 'datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await page.textContent('#mem-count')).toBe('1 member');

    const bob = await member('bob');
    await bob.subscribe('/room/lobby', () => undefined, { presence: true });
    await page.waitForSelector('#members li[data-uid="bob"]', { timeout: 5000 });
    expect(await shown()).toEqual(['ann', 'bob']);
    expect(await page.textContent('#members li[data-uid="bob"] .umd')).toBe('{"name":"BOB"}');
    expect(await page.textContent('#mem-count')).toBe('2 members');

    await bob.close();
    await page.waitForSelector('#members li[data-uid="bob"]', { state: 'detached', timeout: 5000 });
    expect(await shown()).toEqual(['ann']);
    expect(await page.textContent('#mem-count')).toBe('1 member');
    expect(await page.textContent('#messages')).toContain('/room/lobby  left  bob');

    await page.click('#unwatch');
    expect(await shown()).toEqual([]);
    expect(await page.textContent('#mem-status')).toBe('stopped');
    expect(pageErrors).toEqual([]);
  });

  it('replays the joins and leaves that arrive while the member list is being read', async () => {
    const cat = await member('cat');
    await cat.subscribe('/room/slow', () => undefined, { presence: true });
    // Hold the list's answer: it is read (cat only), then dan joins and cat leaves before the console gets it.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let fetched!: () => void;
    const listRead = new Promise<void>((r) => (fetched = r));
    const handler = async (route: Route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const response = await route.fetch();
      fetched();
      await released;
      await route.fulfill({ response });
    };
    await page.route((url) => url.pathname === '/presence', handler);
    try {
      await watch('/room/slow');
      await listRead;
      const dan = await member('dan');
      await dan.subscribe('/room/slow', () => undefined, { presence: true });
      await cat.close();
      await page.waitForFunction(() => /left {2}cat/.test(document.getElementById('messages')!.textContent ?? ''), undefined, { timeout: 5000 });
      expect(await page.textContent('#mem-count')).toBe('loading…');
      release();
      await page.waitForSelector('#mem-status.ok');
      expect(await shown()).toEqual(['dan']);
    } finally {
      release();
      await page.unroute((url) => url.pathname === '/presence', handler);
    }
    await page.click('#unwatch');
    expect(pageErrors).toEqual([]);
  });

  it('"join as" makes the console a member with heartbeats, and Stop leaves', async () => {
    expect(await page.textContent('#mem-uid')).toBe('dev');
    const eve = await member('eve');
    const sub = await eve.subscribe('/room/me', () => undefined, { presence: true });
    const heartbeat = page.waitForRequest((r) => r.url().endsWith('/presence') && r.method() === 'POST' && (r.postData() ?? '').includes('"heartbeat"'), { timeout: 10_000 });
    await watch('/room/me', { join: true });
    await page.waitForSelector('#members li[data-uid="dev"]', { timeout: 5000 });
    expect(await shown()).toEqual(['dev', 'eve']);
    await page.waitForSelector('#mem-join-status.ok');
    expect(await page.textContent('#mem-join-status')).toContain('member of /room/me as dev (heartbeat every 5 s');
    await waitFor(() => sub.members().some((m) => m.uid === 'dev'), 'eve sees dev', 5000);
    expect(sub.members().find((m) => m.uid === 'dev')).toMatchObject({ umd: { name: 'local developer' } });

    const body = JSON.parse((await heartbeat).postData()!) as { action: string; channels: string[]; connectionId: string };
    expect(body).toMatchObject({ action: 'heartbeat', channels: ['/room/me'] });
    expect(body.connectionId).toMatch(/^[A-Za-z0-9_-]{8,64}$/);

    await page.click('#unwatch');
    await waitFor(() => !sub.members().some((m) => m.uid === 'dev'), 'dev left', 5000);
    await page.waitForFunction(() => document.getElementById('mem-join-status')!.textContent === 'left /room/me');

    // A closed socket ends the watch and leaves too.
    await watch('/room/me', { join: true });
    await waitFor(() => sub.members().some((m) => m.uid === 'dev'), 'dev is back', 5000);
    await page.click('#disconnect');
    await waitFor(() => !sub.members().some((m) => m.uid === 'dev'), 'dev left on disconnect', 5000);
    expect(await page.textContent('#mem-status')).toBe('stopped: the socket closed');
    expect(await shown()).toEqual([]);
    await page.click('#connect');
    await page.waitForSelector('#status.on');
    // The token is sent, never shown.
    expect(await page.innerText('body')).not.toContain(server.devToken);
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('shows the refusal of a namespace without presence, with its code', async () => {
    const posts: string[] = [];
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/presence')) posts.push(JSON.parse(r.postData() ?? '{}').action); });
    await watch('/default/room-1', { join: true });
    await page.waitForSelector('#mem-status.bad');
    const status = await page.textContent('#mem-status');
    expect(status).toContain('members of /default/room-1 refused (400) PRESENCE_DISABLED: ');
    expect(status).toContain('namespace default does not have presence');
    expect(await page.isDisabled('#unwatch')).toBe(true);
    expect(await shown()).toEqual([]);
    await page.waitForSelector('#mem-join-status.bad');
    expect(await page.textContent('#mem-join-status')).toContain('join of /default/room-1 refused (403) PRESENCE_DISABLED: ');
    // The refused join made no member, so nothing is left.
    await new Promise((r) => setTimeout(r, 300));
    expect(posts).toEqual(['join']);
    expect(pageErrors).toEqual([]);
  });
});
