/**
 * Authorizer decisions per second, against baselines measured in the same process:
 * - HS256, token with 10 patterns, first-seen tokens (every token new) vs raw
 *   `jose.jwtVerify` over the same tokens (goal >= 0.9x);
 * - HS256, the same token repeated (verified-claims cache) vs a raw HMAC check with
 *   node:crypto over the same token (goal >= 0.7x);
 * - ES256 with the key set fetched once from a loopback JWKS URL and cached, first-seen
 *   tokens, vs raw `jose.jwtVerify` with an imported public key;
 * - the Lambda bundle's load time (esbuild, as the stack builds it) vs a bundle of
 *   jose's jwtVerify alone.
 * Writes bench/results/authorizer.md. Run: npx tsx bench/authorizer.bench.ts
 */
import { execFileSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { signToken } from '../client/token';
import { createAuthorizerHandler } from '../functions/authorizer/handler';
import type { AuthorizerEvent } from '../functions/core/authorizer-contract';
import { resolveConfig, runtimeSettings } from '../functions/core/config';
import { createLogger } from '../functions/shared/log';
import { staticSecretSource } from '../functions/shared/secrets';

const ROOT = join(__dirname, '..');
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const ROUNDS = 3;
const ROUND_MS = 600;

const settings = runtimeSettings(
  resolveConfig({
    defaultNamespace: 'chat',
    namespaces: { chat: { clientPublish: true }, game: { clientPublish: true } },
    tokens: { algorithms: ['HS256', 'ES256'], jwksUrl: 'https://keys.example.test/.well-known/jwks.json' },
  }),
  { eventApiHttpHost: '', region: 'eu-west-1' },
);
const secrets = staticSecretSource({ '/eventsock/token-secret/k1': SECRET, '/eventsock/token-secret/k2': 'unused-second-secret-xxxxxxxxxxxxxxxx' });
// Production level: allows are logged at debug, so they cost a level check only.
const logger = createLogger({ level: 'info', write: () => {} });

/** Ten patterns; the channel asked about is covered only by the last one, so all ten are examined. */
const TEN_PATTERNS = Object.fromEntries([
  ...Array.from({ length: 9 }, (_, i) => [`/game/table-${i}/*`, { subscribe: true, publish: ['move'] }]),
  ['/chat/rooms/*', { subscribe: true, publish: true }],
]);
const CHANNEL = '/chat/rooms/lobby';

function subscribe(token: string): AuthorizerEvent {
  return { authorizationToken: token, requestContext: { apiId: 'a', accountId: '1', requestId: 'r', operation: 'EVENT_SUBSCRIBE', channel: CHANNEL, channelNamespaceName: 'chat' }, requestHeaders: {} };
}

/** Operations per second of `fn(i)` run back to back for ROUND_MS; `i` counts up. */
async function rate(fn: (i: number) => unknown): Promise<number> {
  let i = 0;
  const start = performance.now();
  const end = start + ROUND_MS;
  let t = start;
  while (t < end) {
    for (let k = 0; k < 50; k++) await fn(i++);
    t = performance.now();
  }
  return (i / (t - start)) * 1000;
}

/** Interleaves the contenders round by round and keeps each one's median, so drift hits both alike. */
async function compare(contenders: Record<string, (i: number) => unknown>): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (const fn of Object.values(contenders)) for (let i = 0; i < 200; i++) await fn(i); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of Object.entries(contenders)) samples[name].push(await rate(fn));
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]]));
}

async function main() {
  const now = Date.now();
  const secretBytes = new TextEncoder().encode(SECRET);

  // --- HS256 ---
  const POOL = 12_000;
  const hsTokens: string[] = [];
  for (let i = 0; i < POOL; i++) hsTokens.push(await signToken({ channels: TEN_PATTERNS, secret: SECRET, kid: 'k1', uid: 'user-1', jti: `t-${i}`, ttlSeconds: 3600, now }));
  const repeated = hsTokens[0];
  const authorize = createAuthorizerHandler({ settings, secrets, logger, verifier: { cacheMaxEntries: 10_000 } });
  const check = await authorize(subscribe(repeated));
  if (!check.isAuthorized) throw new Error('bench token was refused');

  const [signingInput, sigText] = [repeated.slice(0, repeated.lastIndexOf('.')), repeated.slice(repeated.lastIndexOf('.') + 1)];
  const sigBytes = Buffer.from(sigText, 'base64url');
  const rawHmac = () => timingSafeEqual(createHmac('sha256', SECRET).update(signingInput).digest(), sigBytes);
  if (!rawHmac()) throw new Error('raw HMAC baseline does not verify');

  // First-seen: a fresh authorizer per round would re-import keys; instead walk a pool larger than the cache.
  const fresh = createAuthorizerHandler({ settings, secrets, logger, verifier: { cacheMaxEntries: 0 } });
  const hs = await compare({
    rawJose: (i) => jwtVerify(hsTokens[i % POOL], secretBytes, { algorithms: ['HS256'] }),
    firstSeen: (i) => fresh(subscribe(hsTokens[i % POOL])),
    rawHmac: () => rawHmac(),
    repeated: () => authorize(subscribe(repeated)),
  });

  // --- ES256 with a JWKS URL fetched once and cached ---
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'es-1', alg: 'ES256' };
  let jwksRequests = 0;
  const server = createServer((_req, res) => {
    jwksRequests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const jwksFetch: typeof fetch = (input, init) => fetch(`http://127.0.0.1:${port}${new URL(String(input)).pathname}`, init);
  const ES_POOL = 4000;
  const esTokens: string[] = [];
  for (let i = 0; i < ES_POOL; i++) esTokens.push(await signToken({ channels: TEN_PATTERNS, privateKey, alg: 'ES256', kid: 'es-1', jti: `e-${i}`, now }));
  const esAuthorize = createAuthorizerHandler({ settings, secrets, logger, jwksFetch, verifier: { cacheMaxEntries: 0 } });
  if (!(await esAuthorize(subscribe(esTokens[0]))).isAuthorized) throw new Error('ES256 bench token was refused');
  const es = await compare({
    rawJose: (i) => jwtVerify(esTokens[i % ES_POOL], publicKey, { algorithms: ['ES256'] }),
    firstSeen: (i) => esAuthorize(subscribe(esTokens[i % ES_POOL])),
  });
  server.close();

  // --- bundle load time ---
  const dir = mkdtempSync(join(tmpdir(), 'eventsock-authorizer-bench-'));
  const common = { bundle: true, platform: 'node' as const, format: 'esm' as const, target: 'node20', minify: true, mainFields: ['module', 'main'], absWorkingDir: ROOT, logLevel: 'silent' as const };
  await build({ ...common, entryPoints: [join(ROOT, 'functions/authorizer/index.ts')], outfile: join(dir, 'authorizer.mjs') });
  await build({ ...common, stdin: { contents: "export { jwtVerify } from 'jose';", resolveDir: ROOT, loader: 'ts' }, outfile: join(dir, 'baseline.mjs') });
  const loadMs = (file: string) => {
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify('file://' + file)}); console.log(performance.now() - t);`], { encoding: 'utf8' });
      runs.push(Number(out.trim()));
    }
    return runs.sort((a, b) => a - b)[3];
  };
  const bundle = { ms: loadMs(join(dir, 'authorizer.mjs')), kb: statSync(join(dir, 'authorizer.mjs')).size / 1024 };
  const base = { ms: loadMs(join(dir, 'baseline.mjs')), kb: statSync(join(dir, 'baseline.mjs')).size / 1024 };
  rmSync(dir, { recursive: true, force: true });

  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const x = (n: number) => `${n.toFixed(2)}x`;
  const goal = (ok: boolean) => (ok ? 'met' : '**not met**');
  const hsFirstRatio = hs.firstSeen / hs.rawJose;
  const hsRepeatRatio = hs.repeated / hs.rawHmac;
  const lines = [
    '## Authorizer (issue #3)',
    '',
    'Command: `npx tsx bench/authorizer.bench.ts`. Machine: 2 cores' + ` (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
    `Each figure is the median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms, one decision awaited at a time (what one Lambda container does).`,
    'A decision is a full `createAuthorizerHandler` call for EVENT_SUBSCRIBE on a channel covered only by the 10th of 10 patterns.',
    '',
    '| case | decisions/s | baseline | baseline ops/s | ratio | goal |',
    '|---|---:|---|---:|---:|---|',
    `| HS256, first-seen tokens (claims cache off) | ${f(hs.firstSeen)} | raw \`jose.jwtVerify\`, same tokens | ${f(hs.rawJose)} | ${x(hsFirstRatio)} | >= 0.9x: ${goal(hsFirstRatio >= 0.9)} |`,
    `| HS256, first-seen tokens | ${f(hs.firstSeen)} | raw HMAC (node:crypto) | ${f(hs.rawHmac)} | ${x(hs.firstSeen / hs.rawHmac)} | - |`,
    `| HS256, repeated token (claims cache) | ${f(hs.repeated)} | raw HMAC (node:crypto), same token | ${f(hs.rawHmac)} | ${x(hsRepeatRatio)} | >= 0.7x: ${goal(hsRepeatRatio >= 0.7)} |`,
    `| HS256, repeated token (claims cache) | ${f(hs.repeated)} | raw \`jose.jwtVerify\` | ${f(hs.rawJose)} | ${x(hs.repeated / hs.rawJose)} | - |`,
    `| ES256, JWKS URL cached, first-seen tokens | ${f(es.firstSeen)} | raw \`jose.jwtVerify\`, imported key | ${f(es.rawJose)} | ${x(es.firstSeen / es.rawJose)} | - |`,
    `| ES256, first-seen tokens | ${f(es.firstSeen)} | raw HMAC (node:crypto) | ${f(hs.rawHmac)} | ${x(es.firstSeen / hs.rawHmac)} | - |`,
    '',
    `JWKS requests during the ES256 run: ${jwksRequests} (the key set is fetched once, then served from jose's cache).`,
    '',
    '| bundle (esbuild, ESM, minified, node20) | size | import time (median of 7 fresh processes) |',
    '|---|---:|---:|',
    `| functions/authorizer/index.ts | ${bundle.kb.toFixed(0)} KB | ${bundle.ms.toFixed(1)} ms |`,
    `| baseline: jose jwtVerify alone | ${base.kb.toFixed(0)} KB | ${base.ms.toFixed(1)} ms |`,
    `| ratio | ${(bundle.kb / base.kb).toFixed(1)}x | ${x(bundle.ms / base.ms)} |`,
    '',
  ];
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'authorizer.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
