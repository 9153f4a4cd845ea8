/**
 * The web console in headless Chromium: it connects with the injected dev token,
 * subscribes, publishes through the publish API and over the socket, and shows
 * what arrives.
 */
import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium';
import { startTestServer } from '../e2e/helpers';

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
