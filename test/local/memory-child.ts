/**
 * A dev server in its own process for test/local/memory.test.ts: prints its endpoints as
 * one JSON line, then answers each "rss" line on stdin with its resident set size.
 */
import { createInterface } from 'node:readline';
import { resolveConfig } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { startDevServer } from '../../local/dev-server';

(async () => {
  const server = await startDevServer({ config: resolveConfig({ namespaces: { default: {} } }), port: 0, logger: memoryLogger(), devTokenSecret: 'memory-test-secret-0123456789abcdef' });
  process.stdout.write(JSON.stringify({ url: server.url, wsUrl: server.wsUrl, httpHost: server.httpHost, devToken: server.devToken, devApiKey: server.devApiKey, iam: server.iamCredentials[0], region: server.settings.region }) + '\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'rss') process.stdout.write(JSON.stringify({ rss: process.memoryUsage().rss }) + '\n');
    if (line === 'exit') void server.close().then(() => process.exit(0));
  });
})();
