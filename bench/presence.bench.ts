/**
 * Presence (issue #12): what heartbeats cost, and how fast joins are announced.
 *   A. 10,000 members on one channel, and B. 10,000 members across 1,000 channels (10 each):
 *      joins, heartbeat rounds (every member heartbeats once: one heartbeat interval's
 *      work), a sweep, leaves. Per phase: DynamoDB requests per member (counted at
 *      dynalite, by operation) and the emulator's CPU per request; extrapolated to one
 *      minute at the default 30 s heartbeat and 60 s sweep.
 *      Baseline, same process and run, interleaved with the heartbeat rounds: the least a
 *      heartbeat can do, an HTTP POST whose handler verifies the JWT with raw `jose` and
 *      makes one UpdateItem on the same dynalite.
 *   C. join -> member_added latency p50/p99 at a subscribed Eventsock client, next to
 *      publish API -> delivery on the same channel (baseline), interleaved; and leave ->
 *      member_removed.
 * The emulator (dev server with the real handlers, dynalite in-process) and the baseline
 * server run here; requests come from a child process (bench/presence-load.ts), so the
 * CPU figures are the server side's (dynalite included: on AWS that part is DynamoDB's).
 *
 * Run alone: `npx tsx bench/presence.bench.ts` (writes bench/results/presence.md).
 * BENCH_MEMBERS=1000 makes a quick run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { jwtVerify } from 'jose';
import { signToken } from '../client/token';
import { resolveConfig } from '../functions/core/config';
import { TOKEN_PREFIX } from '../functions/core/token-format';
import { createLogger } from '../functions/shared/log';
import { startDevServer } from '../local/dev-server';
import { signedInvoke } from '../test/e2e/helpers';
import { runBench, writeResults } from './support/run-bench';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 200);
const SECRET = 'presence-bench-secret-0123456789abcdef';
const IAM = { accessKeyId: 'AKIDPRESENCEBENCH', secretAccessKey: 'presence-bench-secret-access-key' };
const HEARTBEAT_SECONDS = 30;
const SWEEP_SECONDS = 60;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

class Load {
  private readonly child: ChildProcess;
  private waiting?: { resolve: (m: any) => void; reject: (e: Error) => void };
  readonly started: Promise<void>;
  constructor() {
    this.child = fork(join(__dirname, 'presence-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let started!: () => void;
    this.started = new Promise((r) => (started = r));
    this.child.on('message', (m: any) => {
      if (m.kind === 'started') return started();
      const w = this.waiting;
      this.waiting = undefined;
      if (m.kind === 'error') w?.reject(new Error(`load child: ${m.error}`));
      else w?.resolve(m);
    });
    this.child.on('exit', (code) => this.waiting?.reject(new Error(`load child exited (${code})`)));
  }
  ask<T = any>(m: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.child.send(m);
    });
  }
  exit() {
    this.child.send({ cmd: 'exit' });
  }
}

interface Phase {
  requests: number;
  ms: number;
  cpuMs: number;
  ddb: Record<string, number>;
  failures: string[];
}

async function main() {
  const loadAtStart = loadavg()[0];
  const server = await startDevServer({
    config: resolveConfig({ namespaces: { default: {}, room: { presence: true } }, presence: { heartbeatSeconds: HEARTBEAT_SECONDS, sweepSeconds: SWEEP_SECONDS, maxMembersPerChannel: Math.max(10_000, MEMBERS) } }),
    port: 0,
    devTokenSecret: SECRET,
    iamCredentials: [IAM],
    presenceSweepMs: 0, // sweeps run when the bench says, so they are measured alone
    logger: createLogger({ level: 'error' }),
  });
  const ddbDelta = (before: Record<string, number>) => {
    const now = server.dynamoRequests();
    return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  };

  // The baseline: verify the JWT with raw jose, one UpdateItem, answer.
  const secretBytes = new TextEncoder().encode(SECRET);
  const ddb = new DynamoDBClient({ endpoint: server.dynamoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
  // Its own table (the presence table's key schema), so sweeps see only the emulator's members.
  const table = 'bench-presence-baseline';
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'channel', KeyType: 'HASH' }, { AttributeName: 'member', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'channel', AttributeType: 'S' }, { AttributeName: 'member', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const baseline = createServer(async (req, res) => {
    try {
      const body = JSON.parse(await readBody(req)) as { channels: string[]; connectionId: string };
      const bearer = String(req.headers.authorization).slice('Bearer '.length);
      const { payload } = await jwtVerify(bearer.startsWith(TOKEN_PREFIX) ? bearer.slice(TOKEN_PREFIX.length) : bearer, secretBytes);
      const deadline = String(Date.now() + 65_000);
      await ddb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { channel: { S: body.channels[0] }, member: { S: `u#${String(payload.uid)}` } },
          UpdateExpression: 'SET conns.#c = :d, deadline = :d',
          ExpressionAttributeNames: { '#c': body.connectionId },
          ExpressionAttributeValues: { ':d': { N: deadline } },
        }),
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"channels":[{"status":"present"}]}');
    } catch (e) {
      res.writeHead(500).end(JSON.stringify({ error: String((e as Error).message) }));
    }
  });
  await new Promise<void>((r) => baseline.listen(0, '127.0.0.1', () => r()));
  const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/presence`;
  // The baseline's items exist, so its UpdateItems are updates as the heartbeats' are.
  await Promise.all(
    Array.from({ length: 8 }, async (_x, w) => {
      for (let i = w; i < MEMBERS; i += 8) {
        await ddb.send(new UpdateItemCommand({ TableName: table, Key: { channel: { S: '/bench/baseline' }, member: { S: `u#u${i}` } }, UpdateExpression: 'SET conns = :m', ExpressionAttributeValues: { ':m': { M: {} } } }));
      }
    }),
  );

  const t0 = Date.now();
  const tokens = await Promise.all(
    Array.from({ length: MEMBERS + LATENCY_SAMPLES }, (_x, i) =>
      signToken({ secret: SECRET, kid: 'k1', uid: `u${i}`, umd: { name: `member ${i}` }, channels: { '/room/*': { subscribe: true } } }),
    ),
  );
  console.log(`signed ${tokens.length} tokens in ${Date.now() - t0} ms`);
  const load = new Load();
  await load.started;
  await load.ask({ cmd: 'tokens', tokens });

  async function phase(run: () => Promise<{ ms: number; failures: string[] }>, requests: number): Promise<Phase> {
    const before = server.dynamoRequests();
    const cpu0 = process.cpuUsage();
    const r = await run();
    const cpu = process.cpuUsage(cpu0);
    return { requests, ms: r.ms, cpuMs: (cpu.user + cpu.system) / 1000, ddb: ddbDelta(before), failures: r.failures };
  }
  const presence = (action: string, channels: string[]) => phase(() => load.ask({ cmd: 'presence', url: server.url, action, channels, members: MEMBERS, concurrency: CONCURRENCY }), MEMBERS);
  const base = () => phase(() => load.ask({ cmd: 'baseline', url: baselineUrl, members: MEMBERS, concurrency: CONCURRENCY }), MEMBERS);
  const sweep = () =>
    phase(async () => {
      const start = performance.now();
      const res = await signedInvoke(`${server.url}/2015-03-31/functions/publish/invocations`, JSON.stringify({ eventsock: 'presence-sweep' }), { region: server.settings.region, credentials: IAM });
      const text = await res.text();
      return { ms: performance.now() - start, failures: res.status === 200 ? [] : [`${res.status} ${text.slice(0, 300)}`] };
    }, 1);

  const cases = [
    { name: `${fmt(MEMBERS)} members on one channel`, channels: ['/room/big'] },
    { name: `${fmt(MEMBERS)} members across ${fmt(Math.max(1, MEMBERS / 10))} channels (10 each)`, channels: Array.from({ length: Math.max(1, MEMBERS / 10) }, (_x, i) => `/room/c${i}`) },
  ];
  const results = [];
  for (const c of cases) {
    console.log(`case: ${c.name}`);
    const joinPhase = await presence('join', c.channels);
    const beats: Phase[] = [];
    const bases: Phase[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        beats.push(await presence('heartbeat', c.channels));
        bases.push(await base());
      } else {
        bases.push(await base());
        beats.push(await presence('heartbeat', c.channels));
      }
      console.log(`  round ${r + 1}: heartbeats ${fmt(MEMBERS / (beats[r].ms / 1000))}/s, baseline ${fmt(MEMBERS / (bases[r].ms / 1000))}/s`);
    }
    const sweepPhase = await sweep();
    const leavePhase = await presence('leave', c.channels);
    const emptySweep = await sweep();
    for (const p of [joinPhase, ...beats, ...bases, sweepPhase, leavePhase, emptySweep]) if (p.failures.length) throw new Error(`${c.name}: ${p.failures.join('; ')}`);
    results.push({ ...c, joinPhase, beats, bases, sweepPhase, leavePhase, emptySweep });
  }

  console.log('latency');
  const lat = await load.ask<{ joins: number[]; leaves: number[]; publishes: number[] }>({ cmd: 'latency', url: server.url, watcherToken: server.devToken, apiKey: server.devApiKey, channel: '/room/lat', samples: LATENCY_SAMPLES, firstMember: MEMBERS });
  load.exit();
  await new Promise<void>((r) => baseline.close(() => r()));
  ddb.destroy();
  await server.close();

  const perReq = (p: Phase) => Object.values(p.ddb).reduce((a, b) => a + b, 0) / p.requests;
  const byOp = (p: Phase) =>
    Object.entries(p.ddb)
      .sort()
      .map(([k, v]) => `${k} ${fmt(v / p.requests, 2)}`)
      .join(', ');
  const cpuUs = (p: Phase) => (p.cpuMs * 1000) / p.requests;
  const rate = (p: Phase) => p.requests / (p.ms / 1000);
  const medianBy = (ps: Phase[], f: (p: Phase) => number) => median(ps.map(f));

  const cpu = cpus();
  const lines = [
    '## Presence (issue #12)',
    '',
    `Command: \`npx tsx bench/presence.bench.ts\`. Machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), Node ${process.version}; load average ${loadAtStart.toFixed(1)} at the start.`,
    `The emulator (dev server, real publish/history handlers, dynalite in the same process) serves \`POST /presence\` over loopback HTTP to a load process (${CONCURRENCY} requests in flight, one member per token and request).`,
    `A heartbeat round is every member heartbeating once: one interval's work. Median of ${ROUNDS} rounds, interleaved with the baseline: an HTTP handler in the same process that verifies the JWT with raw \`jose.jwtVerify\` and makes one UpdateItem on the same dynalite (the least a heartbeat can do).`,
    'DynamoDB requests are counted at dynalite, by operation. CPU is the server process (handlers, HTTP, dynalite: on AWS the dynalite part is DynamoDB\'s, so the Lambda share is lower); per request = process CPU time / requests.',
    '',
    '| case | phase | requests/s | vs baseline | CPU per request | CPU vs baseline | DynamoDB requests per member | by operation |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  const minute: string[] = [];
  const baselineShares: string[] = [];
  const emulatorShares: string[] = [];
  for (const r of results) {
    const hbRate = medianBy(r.beats, rate);
    const baseRate = medianBy(r.bases, rate);
    const hbCpu = medianBy(r.beats, cpuUs);
    const baseCpu = medianBy(r.bases, cpuUs);
    const hb = r.beats[Math.floor(r.beats.length / 2)];
    lines.push(
      `| ${r.name} | join | ${fmt(rate(r.joinPhase))} | - | ${fmt(cpuUs(r.joinPhase))} µs | - | ${fmt(perReq(r.joinPhase), 2)} | ${byOp(r.joinPhase)} |`,
      `| ${r.name} | heartbeat | ${fmt(hbRate)} | ${fmt(hbRate / baseRate, 2)}x | ${fmt(hbCpu)} µs | ${fmt(hbCpu / baseCpu, 2)}x | ${fmt(perReq(hb), 2)} | ${byOp(hb)} |`,
      `| ${r.name} | baseline (jose + 1 UpdateItem) | ${fmt(baseRate)} | 1.00x | ${fmt(baseCpu)} µs | 1.00x | ${fmt(perReq(r.bases[0]), 2)} | ${byOp(r.bases[0])} |`,
      `| ${r.name} | leave | ${fmt(rate(r.leavePhase))} | - | ${fmt(cpuUs(r.leavePhase))} µs | - | ${fmt(perReq(r.leavePhase), 2)} | ${byOp(r.leavePhase)} |`,
      `| ${r.name} | sweep, all alive | one run: ${fmt(r.sweepPhase.ms)} ms | - | ${fmt(r.sweepPhase.cpuMs)} ms | - | ${fmt(Object.values(r.sweepPhase.ddb).reduce((a, b) => a + b, 0))} in all | ${Object.entries(r.sweepPhase.ddb).map(([k, v]) => `${k} ${v}`).join(', ')} |`,
    );
    const perMin = 60 / HEARTBEAT_SECONDS;
    const reqMin = MEMBERS * perMin * perReq(hb) + (Object.values(r.sweepPhase.ddb).reduce((a, b) => a + b, 0) * 60) / SWEEP_SECONDS;
    const writesMin = MEMBERS * perMin * ((hb.ddb.UpdateItem ?? 0) / hb.requests);
    const cpuShare = (MEMBERS * perMin * hbCpu) / 1e6 / 60 + r.sweepPhase.cpuMs / 1000 / SWEEP_SECONDS;
    minute.push(`| ${r.name} | ${fmt(reqMin)} | ${fmt(writesMin)} | ${fmt(cpuShare * 100, 1)}% | ${fmt(MEMBERS * perMin)} |`);
    emulatorShares.push(`${fmt(cpuShare * 100, 1)}%`);
    baselineShares.push(`${fmt((MEMBERS * perMin * baseCpu) / 1e6 / 60 * 100, 1)}%`);
  }
  const p = (xs: number[], q: number) => fmt(quantile(xs, q), 1);
  lines.push(
    '',
    `Per minute at the defaults (heartbeat ${HEARTBEAT_SECONDS} s, sweep ${SWEEP_SECONDS} s), from the medians above:`,
    '',
    '| case | DynamoDB requests/min (heartbeats + sweeps) | of which heartbeat writes/min | emulator CPU (one core = 100%) | heartbeat requests/min (Lambda invocations on AWS) |',
    '|---|---:|---:|---:|---:|',
    ...minute,
    '',
    `Latency on an idle emulator, ${lat.joins.length} samples each, interleaved (join, publish, leave), measured in the load process from the request to the event at an Eventsock client subscribed to the channel:`,
    '',
    '| path | p50 | p99 | p50 vs publish |',
    '|---|---:|---:|---:|',
    `| POST /presence join -> \`eventsock.member_added\` | ${p(lat.joins, 0.5)} ms | ${p(lat.joins, 0.99)} ms | ${fmt(quantile(lat.joins, 0.5) / quantile(lat.publishes, 0.5), 2)}x |`,
    `| POST /presence leave -> \`eventsock.member_removed\` | ${p(lat.leaves, 0.5)} ms | ${p(lat.leaves, 0.99)} ms | ${fmt(quantile(lat.leaves, 0.5) / quantile(lat.publishes, 0.5), 2)}x |`,
    `| baseline: POST /publish (API key) -> delivery | ${p(lat.publishes, 0.5)} ms | ${p(lat.publishes, 0.99)} ms | 1.00x |`,
    '',
    'Notes:',
    '- A heartbeat is 2 DynamoDB requests, whether the members share one channel or are spread over many: one conditional UpdateItem of the member item (the only write) and the revocation GetItem. The `#count` item is written only by joins and leaves. test/presence/cost.test.ts pins these counts.',
    '- A join and a last leave are 5 requests each. That includes the announcement, a publish of `member_added` / `member_removed` (its head write, then a SigV4-signed POST to the Event API). The join\'s first UpdateItem is the heartbeat attempt that finds no member; its failed condition still costs a write unit on AWS.',
    `- Emulator CPU: at the default ${HEARTBEAT_SECONDS} s heartbeat, ${fmt(MEMBERS)} members need ${emulatorShares.join(' / ')} of one core of this machine (one channel / spread). The baseline alone (JWT verify, one UpdateItem, HTTP) would need ${baselineShares.join(' / ')} at the same rate (dynalite included). The emulator is a development tool; on AWS the DynamoDB share is DynamoDB's, and the rest is spread over Lambda invocations (${fmt((MEMBERS * 60) / HEARTBEAT_SECONDS)} per minute).`,
    '- On AWS, every join and leave of a channel writes that channel\'s `#count` item, and one item takes at most 1,000 writes/s. So that is the ceiling on a channel\'s joins + leaves per second, not on its heartbeats. Unconfirmed here: no AWS account.',
    `- The sweep with every member alive is 1 Scan per 1 MB page of the presence table (${results[0].sweepPhase.ddb.Scan ?? 0} pages at ${fmt(MEMBERS)} members). Each removed member adds its leave's writes.`,
    '',
  );
  writeResults('presence', lines);
}

runBench(main);
