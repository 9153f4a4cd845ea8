/**
 * Authorizer decisions per second, against baselines measured in the same process:
 * - HS256, token with 10 patterns, first-seen tokens (every token new) vs raw
 *   `jose.jwtVerify(token, secretBytes)` over the same tokens (goal >= 0.9x), and, for
 *   reference only, jose with the HMAC key imported once;
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
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { signToken } from '../client/token';
import { createAuthorizerHandler } from '../functions/authorizer/handler';
import type { AuthorizerEvent } from '../functions/core/authorizer-contract';
import { resolveConfig, runtimeSettings } from '../functions/core/config';
import { createLogger } from '../functions/shared/log';
import { buildFunction } from '../modules/build-functions';
import { FUNCTIONS } from '../modules/functions';
import { staticSecretSource } from '../functions/shared/secrets';

const ROOT = join(__dirname, '..');
const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const ROUNDS = 11;
const ROUND_MS = 250;

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

interface Sample {
  /** Operations per wall-clock second (the measure). */
  wall: number;
  /** Operations per CPU-second of this process, all its threads (WebCrypto runs HMAC/ECDSA on the libuv pool). */
  cpu: number;
}

/** Runs `fn(i)` back to back for ROUND_MS; `i` keeps counting across rounds. */
function rater() {
  let i = 0;
  return async (fn: (i: number) => unknown): Promise<Sample> => {
    const first = i;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + ROUND_MS;
    let t = start;
    while (t < end) {
      for (let k = 0; k < 25; k++) await fn(i++);
      t = performance.now();
    }
    const cpu = process.cpuUsage(cpu0);
    const n = i - first;
    return { wall: (n / (t - start)) * 1000, cpu: (n / (cpu.user + cpu.system)) * 1e6 };
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/**
 * Runs the contenders in short interleaved rounds. Other processes share the 2 cores, so
 * wall-clock rates drift; each ratio is taken within a round (adjacent measurements) and the
 * median ratio over the rounds is reported. CPU-time rates are far steadier under such load.
 */
async function compare(contenders: Record<string, (i: number) => unknown>) {
  const names = Object.keys(contenders);
  const samples: Record<string, Sample[]> = Object.fromEntries(names.map((k) => [k, []]));
  const counters = Object.fromEntries(names.map((k) => [k, rater()]));
  for (const fn of Object.values(contenders)) for (let i = 0; i < 300; i++) await fn(i + 1_000_000); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const name of names) samples[name].push(await counters[name](contenders[name]));
  return {
    rate: (name: string, m: keyof Sample = 'wall') => median(samples[name].map((s) => s[m])),
    ratio: (a: string, b: string, m: keyof Sample = 'wall') => median(samples[a].map((x, r) => x[m] / samples[b][r][m])),
  };
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

  // First-seen: the production cache size (10,000), walking a pool of 12,000 tokens, so no token is
  // still cached when it comes round again and every decision pays for verification and insertion.
  const fresh = createAuthorizerHandler({ settings, secrets, logger });
  // Not the goal's baseline: jose at its fastest, with the key imported once, shown so the gap is visible.
  const cryptoKey = await crypto.subtle.importKey('raw', secretBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const hs = await compare({
    rawJose: (i) => jwtVerify(hsTokens[i % POOL], secretBytes, { algorithms: ['HS256'] }),
    rawJoseKey: (i) => jwtVerify(hsTokens[i % POOL], cryptoKey, { algorithms: ['HS256'] }),
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
  const ES_POOL = 1500;
  const esTokens: string[] = [];
  for (let i = 0; i < ES_POOL; i++) esTokens.push(await signToken({ channels: TEN_PATTERNS, privateKey, alg: 'ES256', kid: 'es-1', jti: `e-${i}`, now }));
  const esAuthorize = createAuthorizerHandler({ settings, secrets, logger, jwksFetch, verifier: { cacheMaxEntries: 1000 } });
  if (!(await esAuthorize(subscribe(esTokens[0]))).isAuthorized) throw new Error('ES256 bench token was refused');
  const es = await compare({
    rawJose: (i) => jwtVerify(esTokens[i % ES_POOL], publicKey, { algorithms: ['ES256'] }),
    firstSeen: (i) => esAuthorize(subscribe(esTokens[i % ES_POOL])),
    rawHmac: () => rawHmac(),
  });
  server.close();

  // --- bundle load time: built exactly as the stack builds it (modules/build-functions.ts, code splitting) ---
  const dir = mkdtempSync(join(tmpdir(), 'eventsock-authorizer-bench-'));
  const built = await buildFunction({ name: 'authorizer', entry: 'functions/authorizer/index.ts' }, { root: ROOT, outDir: dir });
  await build({ bundle: true, platform: 'node', format: 'esm', target: 'node20', minify: true, mainFields: ['module', 'main'], absWorkingDir: ROOT, logLevel: 'silent', stdin: { contents: "export { jwtVerify } from 'jose';", resolveDir: ROOT, loader: 'ts' }, outfile: join(dir, 'baseline.mjs') });
  const loadMs = (file: string) => {
    const runs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify('file://' + file)}); console.log(performance.now() - t);`], { encoding: 'utf8' });
      runs.push(Number(out.trim()));
    }
    return median(runs);
  };
  const bundle = { ms: loadMs(join(dir, 'authorizer', 'index.mjs')), kb: built.entryBytes / 1024, totalKb: built.codeBytes / 1024 };
  const base = { ms: loadMs(join(dir, 'baseline.mjs')), kb: statSync(join(dir, 'baseline.mjs')).size / 1024 };
  rmSync(dir, { recursive: true, force: true });
  const budget = FUNCTIONS.authorizer.budget;

  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const x = (n: number) => `${n.toFixed(2)}x`;
  const goal = (ok: boolean) => (ok ? 'met' : '**not met**');
  const hsFirstRatio = hs.ratio('firstSeen', 'rawJose');
  const hsRepeatRatio = hs.ratio('repeated', 'rawHmac');
  const lines = [
    '## Authorizer (issue #3)',
    '',
    'Command: `npx tsx bench/authorizer.bench.ts`. Machine: 2 cores' + ` (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, shared with other work (load average at start ${loadavg()[0].toFixed(1)}).`,
    `${ROUNDS} interleaved rounds of ${ROUND_MS} ms per contender, one decision awaited at a time (what one Lambda container does); rates are medians over rounds, ratios are medians of the per-round ratios.`,
    'A decision is a full `createAuthorizerHandler` call for EVENT_SUBSCRIBE on a channel covered only by the 10th of 10 patterns; logging at the production level.',
    '',
    '| case | decisions/s | baseline (same run) | baseline ops/s | ratio (wall clock) | ratio (CPU time) | goal (wall clock) |',
    '|---|---:|---|---:|---:|---:|---|',
    `| HS256, first-seen tokens (12,000 distinct, cache 10,000) | ${f(hs.rate('firstSeen'))} | raw \`jose.jwtVerify(token, secretBytes)\`, same tokens | ${f(hs.rate('rawJose'))} | ${x(hsFirstRatio)} | ${x(hs.ratio('firstSeen', 'rawJose', 'cpu'))} | >= 0.9x: ${goal(hsFirstRatio >= 0.9)} |`,
    `| HS256, first-seen tokens | ${f(hs.rate('firstSeen'))} | raw \`jose.jwtVerify(token, cryptoKey)\`, HMAC key imported once, same tokens | ${f(hs.rate('rawJoseKey'))} | ${x(hs.ratio('firstSeen', 'rawJoseKey'))} | ${x(hs.ratio('firstSeen', 'rawJoseKey', 'cpu'))} | - |`,
    `| HS256, first-seen tokens | ${f(hs.rate('firstSeen'))} | raw HMAC-SHA256 check (node:crypto) | ${f(hs.rate('rawHmac'))} | ${x(hs.ratio('firstSeen', 'rawHmac'))} | ${x(hs.ratio('firstSeen', 'rawHmac', 'cpu'))} | - |`,
    `| HS256, repeated token (claims cache) | ${f(hs.rate('repeated'))} | raw HMAC-SHA256 check (node:crypto), same token | ${f(hs.rate('rawHmac'))} | ${x(hsRepeatRatio)} | ${x(hs.ratio('repeated', 'rawHmac', 'cpu'))} | >= 0.7x: ${goal(hsRepeatRatio >= 0.7)} |`,
    `| HS256, repeated token (claims cache) | ${f(hs.rate('repeated'))} | raw \`jose.jwtVerify\` | ${f(hs.rate('rawJose'))} | ${x(hs.ratio('repeated', 'rawJose'))} | ${x(hs.ratio('repeated', 'rawJose', 'cpu'))} | - |`,
    `| ES256, JWKS URL fetched once and cached, first-seen tokens | ${f(es.rate('firstSeen'))} | raw \`jose.jwtVerify\`, imported public key | ${f(es.rate('rawJose'))} | ${x(es.ratio('firstSeen', 'rawJose'))} | ${x(es.ratio('firstSeen', 'rawJose', 'cpu'))} | - |`,
    `| ES256, first-seen tokens | ${f(es.rate('firstSeen'))} | raw HMAC-SHA256 check (node:crypto) | ${f(es.rate('rawHmac'))} | ${x(es.ratio('firstSeen', 'rawHmac'))} | ${x(es.ratio('firstSeen', 'rawHmac', 'cpu'))} | - |`,
    '',
    `JWKS requests during the ES256 run: ${jwksRequests} (the key set is fetched once, then served from jose's cache).`,
    '',
    '| bundle (npm run build: esbuild ESM, code splitting, minified) | entry chunk | all code (lazy chunks included) | entry import time (median of 7 fresh processes) | budget (modules/functions.ts) |',
    '|---|---:|---:|---:|---|',
    `| functions/authorizer/index.ts | ${bundle.kb.toFixed(0)} KB | ${bundle.totalKb.toFixed(0)} KB | ${bundle.ms.toFixed(1)} ms | ${budget.maxBytes / 1024} KB / ${budget.maxLoadMs} ms: ${goal(bundle.kb * 1024 <= budget.maxBytes && bundle.ms <= budget.maxLoadMs)} |`,
    `| baseline: jose jwtVerify alone | ${base.kb.toFixed(0)} KB | ${base.kb.toFixed(0)} KB | ${base.ms.toFixed(1)} ms | - |`,
    `| ratio | ${(bundle.kb / base.kb).toFixed(1)}x | - | ${x(bundle.ms / base.ms)} | - |`,
    '',
    'The SSM client (~370 KB of the lazy chunks) is loaded with `await import()` on the first invocation, not at import.',
    '',
    'Notes:',
    '- HS256 signatures are checked with node:crypto (`createHmac` + `timingSafeEqual`, key object made once per secret) on the calling thread; the claims still go through jose\'s own claims-set validation, then core/claims. jose (Web Crypto) runs every HMAC as a job on the libuv thread pool: with a byte secret it also imports the key per call, and even with a key imported once the round trip to the pool costs several times the hash itself. That round trip, not our claims checks, decision or handlerContext, was what kept the first-seen path under 0.9x before (0.86x recorded). test/tokens/hs256-equivalence.test.ts checks that this path gives the same result, reason and detail as `jose.jwtVerify` on the attack list, edge cases and generated tokens. Asymmetric algorithms (ES256 rows) still go through `jose.jwtVerify`.',
    '- First sight keeps only a small "verified" mark per token; parsed claims are kept from the second sighting on. Keeping full parsed claims for every token made a stream of never-repeated tokens 25-45% slower (measured in CPU time): the objects outlive young-generation GCs. A WeakMap or a side map for per-token data cost the same for the same reason; per-token data now lives on the cached claims object.',
    '- Wall-clock figures move by 30% or more between runs while other work shares the 2 cores; the CPU-time column is the steadier one.',
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
