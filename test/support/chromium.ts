/**
 * Headless Chromium for the browser tests, driven by playwright-core (which brings
 * no browser of its own). Uses Debian's `chromium`; `.ci/run` installs it, and on a
 * developer machine where it is missing we install it when we can (root with apt),
 * so `npm install && npm test` works alone on a fresh clone of a fresh machine.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[];

export function chromiumPath(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'], { stdio: 'inherit', timeout: 600_000 });
    if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  }
  throw new Error('Chromium not found: install Debian\'s chromium package (apt-get install chromium) or set CHROMIUM_PATH');
}

/** Launches headless Chromium (playwright gives it a fresh profile) with the flags this closed network needs. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A loopback page server for browser tests: `/eventsock.js` is the given client bundle,
 * every other path an empty HTML page. Its origin (http://127.0.0.1:<port>) is the page's.
 */
export async function servePage(bundleCode: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/eventsock.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundleCode);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>eventsock</title>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
