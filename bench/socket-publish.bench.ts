/**
 * Client WebSocket publishes through the pipeline (the namespace's Lambda data source,
 * functions/socket-publish) against the direct path (the APPSYNC_JS handler alone), in the
 * same run and process: the emulator's Event API on loopback with the real authorizer,
 * namespace code and socket-publish function on dynalite, Eventsock clients on real
 * sockets. Publish-to-delivery latency and throughput as a ratio to the direct path, and
 * the DynamoDB requests per client message, next to the publish API's (the same counting
 * client wrapped around both functions).
 *
 * Run alone: `npx tsx bench/socket-publish.bench.ts` (writes bench/results/socket-publish.md).
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type EventsockClient } from '../client/node';
import { signToken } from '../client/token';
import { createAuthorizerHandler } from '../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../functions/core/config';
import type { Envelope } from '../functions/core/envelope';
import { namespaceHandlerCode, namespaceHandlerConfigs, SOCKET_PUBLISH_DATA_SOURCE, type NamespaceHandlerConfigs } from '../functions/namespace/code';
import { createPublishHandler } from '../functions/publish/handler';
import { createLogger } from '../functions/shared/log';
import { staticSecretSource } from '../functions/shared/secrets';
import { createSocketPublishHandler } from '../functions/socket-publish/handler';
import { listenEventApi } from '../local/event-api';
import { createTables, startDynalite } from '../local/dynamo';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1500);
const ROUNDS = 3;
const PUBLISHERS = 4;
const SECRET = 'bench-socket-publish-secret-0123456789abcdef';
const CREDENTIALS = { accessKeyId: 'AKIDBENCHSOCKET', secretAccessKey: 'bench-secret' };
const REGION = 'us-east-1';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  const config = resolveConfig({
    name: 'es-bench-sock',
    namespaces: {
      default: {},
      pipe: { clientPublish: true, defaultStoreSeconds: 3600 },
      direct: { clientPublish: true, socketPublish: 'direct' },
    },
  });
  const db = await startDynalite();
  const raw = new DynamoDBClient({ endpoint: db.endpoint, region: REGION, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
  // Every DynamoDB request either function makes, by command.
  const counts = new Map<string, number>();
  const dynamo = { send: (cmd: { constructor: { name: string } }) => (counts.set(cmd.constructor.name, (counts.get(cmd.constructor.name) ?? 0) + 1), raw.send(cmd as never)) } as unknown as DynamoDBClient;
  const silent = createLogger({ write: () => {} });
  const secrets = staticSecretSource({ [config.tokens.hs256Keys[0].parameterName]: SECRET });

  let settings = runtimeSettings(config, { eventApiHttpHost: '127.0.0.1:1', region: REGION });
  await createTables(raw, settings.tables);
  const socketPublish = createSocketPublishHandler({ settings, dynamo, logger: silent });
  const handlerConfigs: Record<string, NamespaceHandlerConfigs> = {};
  for (const ns of Object.values(config.namespaces)) {
    const c = namespaceHandlerConfigs(ns);
    if (c) handlerConfigs[ns.name] = c;
  }
  const api = await listenEventApi({
    config,
    region: REGION,
    authorizer: createAuthorizerHandler({ settings, secrets, logger: silent }),
    iamCredentials: [CREDENTIALS],
    namespaceHandlerCode: namespaceHandlerCode(config),
    dataSources: { [SOCKET_PUBLISH_DATA_SOURCE]: { type: 'AWS_LAMBDA', invoke: socketPublish } },
    handlerConfigs,
    logger: silent,
  });
  settings = runtimeSettings(config, { eventApiHttpHost: api.httpHost, region: REGION });
  const publishApi = createPublishHandler({ settings, dynamo, secrets, eventApiUrl: `${api.url}/event`, credentials: CREDENTIALS, logger: silent });

  const token = (uid: string) => signToken({ secret: SECRET, kid: 'k1', uid, channels: { '/pipe/*': { subscribe: true, publish: true }, '/direct/*': { subscribe: true, publish: true } } });
  const open = async (uid: string) => connect({ endpoint: api.url, auth: { type: 'token', token: await token(uid) }, reconnect: false });
  const publishers: EventsockClient[] = await Promise.all(Array.from({ length: PUBLISHERS }, (_x, i) => open(`p${i}`)));
  const watcher = await open('watcher');
  const latencies = new Map<string, number[]>([['pipe', []], ['direct', []]]);
  for (const ns of ['pipe', 'direct']) {
    await watcher.subscribe(`/${ns}/*`, (m: Envelope) => {
      const sent = (m.data as { t?: number } | null)?.t;
      if (typeof sent === 'number') latencies.get(ns)!.push(performance.now() - sent);
    });
  }

  /** Messages per second over the socket to one namespace; each publisher has its own channel. */
  async function round(ns: string, extra: (w: number, n: number) => Record<string, unknown> = () => ({})): Promise<number> {
    let done = 0;
    const start = performance.now();
    const end = start + ROUND_MS;
    await Promise.all(
      publishers.map(async (c, w) => {
        for (let n = 0; performance.now() < end; n++) {
          const r = await c.publish(`/${ns}/w${w}`, { event: 'tick', data: { t: performance.now(), n }, ...extra(w, n) });
          if (r.failed.length) throw new Error(`publish failed: ${JSON.stringify(r.failed)}`);
          done++;
        }
      }),
    );
    return (done / (performance.now() - start)) * 1000;
  }

  // Warm-up (JIT, sockets, tables).
  await round('pipe');
  await round('direct');
  const rates = new Map<string, number[]>([['pipe', []], ['direct', []]]);
  for (const l of latencies.values()) l.length = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const ns of r % 2 === 0 ? ['pipe', 'direct'] : ['direct', 'pipe']) rates.get(ns)!.push(await round(ns));
  }
  await new Promise((res) => setTimeout(res, 200));

  /** DynamoDB requests per message of `n` sequential calls of `f`. */
  async function perMessage(n: number, f: (i: number) => Promise<unknown>): Promise<{ total: number; by: string }> {
    counts.clear();
    for (let i = 0; i < n; i++) await f(i);
    const total = [...counts.values()].reduce((a, b) => a + b, 0) / n;
    const by = [...counts].sort().map(([k, v]) => `${k.replace(/Command$/, '')} ${(v / n).toFixed(2)}`).join(', ');
    return { total, by };
  }
  const N = 50;
  const stamp = Date.now();
  const ddb = [
    ['socket publish, pipeline (1 event per publish, stored)', await perMessage(N, (i) => publishers[0].publish('/pipe/count', { event: 'tick', data: { i } }))],
    ['socket publish, pipeline, with deduplicationId', await perMessage(N, (i) => publishers[0].publish('/pipe/count-d', { event: 'tick', data: { i }, deduplicationId: `d-${stamp}-${i}` }))],
    ['socket publish, pipeline, 5 events per publish', await perMessage(N / 5, (i) => publishers[0].publish('/pipe/count-5', Array.from({ length: 5 }, (_x, k) => ({ event: 'tick', data: { i, k } }))).then(() => undefined)).then((r) => ({ total: r.total / 5, by: r.by.replace(/(\d+\.\d+)/g, (x) => (Number(x) / 5).toFixed(2)) }))],
    ['socket publish, direct', await perMessage(N, (i) => publishers[0].publish('/direct/count', { event: 'tick', data: { i } }))],
    ['publish API (invoke), stored, 1 message', await perMessage(N, (i) => publishApi({ channel: '/pipe/api', event: 'tick', data: { i }, store: 3600 }))],
    ['publish API (invoke), stored, with deduplicationId', await perMessage(N, (i) => publishApi({ channel: '/pipe/api-d', event: 'tick', data: { i }, store: 3600, deduplicationId: `a-${stamp}-${i}` }))],
  ] as const;

  for (const c of [...publishers, watcher]) await c.close();
  await api.close();
  raw.destroy();
  await db.close();

  const pipeRate = median(rates.get('pipe')!);
  const directRate = median(rates.get('direct')!);
  const lp = latencies.get('pipe')!;
  const ld = latencies.get('direct')!;
  const cpu = cpus();
  const md = [
    '## Socket publish through the pipeline (issue #10)',
    '',
    `Command: \`npx tsx bench/socket-publish.bench.ts\`. Machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
    `Client WebSocket publishes (Eventsock node client, real sockets on loopback) to the emulator's Event API with the real authorizer; ${PUBLISHERS} publishers,`,
    `one publish in flight each, one event per publish, own channel each; one subscriber on \`/<ns>/*\` measures publish-to-delivery. Median of ${ROUNDS}`,
    `interleaved rounds of ${ROUND_MS} ms. Pipeline: the namespace's onPublish is the socket-publish function (DIRECT data source, in-process, on dynalite:`,
    'head write + stored message per publish); direct: the APPSYNC_JS handler alone. Everything, dynalite included, shares the machine.',
    '',
    '| measure | pipeline | direct | ratio (pipeline / direct) |',
    '|---|---:|---:|---:|',
    `| messages/s | ${fmt(pipeRate)} | ${fmt(directRate)} | ${(pipeRate / directRate).toFixed(2)}x |`,
    `| publish-to-delivery p50 | ${pct(lp, 50).toFixed(2)} ms | ${pct(ld, 50).toFixed(2)} ms | ${(pct(lp, 50) / pct(ld, 50)).toFixed(2)}x |`,
    `| publish-to-delivery p99 | ${pct(lp, 99).toFixed(2)} ms | ${pct(ld, 99).toFixed(2)} ms | ${(pct(lp, 99) / pct(ld, 99)).toFixed(2)}x |`,
    `| deliveries measured | ${fmt(lp.length)} | ${fmt(ld.length)} | - |`,
    '',
    `DynamoDB requests per client message (counted on the DynamoDB client both functions use; ${N} sequential messages, one channel each case):`,
    '',
    '| path | requests per message | by command |',
    '|---|---:|---|',
    ...ddb.map(([name, r]) => `| ${name} | ${r.total.toFixed(2)} | ${r.by || '-'} |`),
    '',
    'In AWS the pipeline also costs one Lambda invoke per socket publish (1-5 events), and one per publish-API delivery chunk to a pipeline',
    'namespace (passed through unchanged); the emulator calls the function in-process, so the invoke latency of a warm Lambda is not in these figures.',
  ].join('\n');
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'socket-publish.md'), md + '\n');
  console.log(md);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
