/**
 * Publish API throughput: messages per second through createPublishHandler (direct
 * invoke) against dynalite and a local Event API endpoint that verifies SigV4 on every
 * request, as a ratio to a baseline that only signs and POSTs the same events to the
 * same endpoint. Plus the handler's own CPU cost per message (validation, id,
 * envelope) in microseconds, with no I/O.
 *
 * Run alone: `npx tsx bench/publish.bench.ts` (writes bench/results/publish.md).
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { eventRequest } from '../functions/core/event-request';
import { validatePublishRequest } from '../functions/core/message';
import { createPublishHandler } from '../functions/publish/handler';
import { nextIds } from '../functions/publish/ids';
import { envelopeJson } from '../functions/publish/publish';
import { createLogger } from '../functions/shared/log';
import { staticSecretSource } from '../functions/shared/secrets';
import { CREDENTIALS, REGION, startRig } from '../test/publish/support';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const ROUNDS = 5;
const CONCURRENCY = 8;

type Case = { name: string; perCall: number; run: (worker: number, n: number) => Promise<void> };

async function measure(c: Case): Promise<number> {
  let done = 0;
  const end = Date.now() + ROUND_MS;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_x, w) => {
      for (let n = 0; Date.now() < end; n++) {
        await c.run(w, n);
        done += c.perCall;
      }
    }),
  );
  return (done / (Date.now() - start)) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  const rig = await startRig({
    name: 'es-bench',
    namespaces: { default: {}, free: { ordering: 'none' } },
  });
  const silent = createLogger({ write: () => {} });
  const handler = createPublishHandler({
    settings: rig.settings,
    dynamo: rig.dynamo,
    secrets: staticSecretSource({}),
    eventApiUrl: rig.endpoint.url,
    credentials: CREDENTIALS,
    logger: silent,
  });
  const signer = new SignatureV4({ service: 'appsync', region: REGION, credentials: CREDENTIALS, sha256: Sha256, applyChecksum: false });
  const rules = { defaultNamespace: rig.settings.defaultNamespace, namespaces: rig.settings.namespaces, maxDataBytes: rig.settings.publish.maxDataBytes };
  const sample = validatePublishRequest({ channel: 'bench', event: 'tick', data: { n: 1, text: 'hello world' } }, rules).messages[0];

  const cases: Case[] = [
    {
      name: 'baseline: sign + POST one event',
      perCall: 1,
      run: async (w) => {
        const req = eventRequest(rig.settings.eventApiHttpHost, { kind: 'publish', channel: `/default/w${w}`, events: [envelopeJson(nextIds(undefined, 1, Date.now())[0], sample)] });
        const signed = await signer.sign({ ...req, query: {} } as unknown as HttpRequest);
        const { host: _h, ...headers } = signed.headers as Record<string, string>;
        const res = await fetch(rig.endpoint.url, { method: 'POST', headers, body: req.body });
        await res.text();
      },
    },
    {
      name: 'baseline: one PutItem, then sign + POST',
      perCall: 1,
      run: async (w, n) => {
        await rig.dynamo.send(new PutItemCommand({ TableName: rig.settings.tables.heads, Item: { channel: { S: `/base/w${w}` }, lastId: { S: String(n) } } }));
        const req = eventRequest(rig.settings.eventApiHttpHost, { kind: 'publish', channel: `/default/w${w}`, events: [envelopeJson(nextIds(undefined, 1, Date.now())[0], sample)] });
        const signed = await signer.sign({ ...req, query: {} } as unknown as HttpRequest);
        const { host: _h, ...headers } = signed.headers as Record<string, string>;
        await (await fetch(rig.endpoint.url, { method: 'POST', headers, body: req.body })).text();
      },
    },
    {
      name: 'handler, ordering none (no DynamoDB)',
      perCall: 1,
      run: async (w) => void (await handler({ channel: `/free/w${w}`, event: 'tick', data: { n: 1, text: 'hello world' } })),
    },
    {
      name: 'handler, ordering channel (head write)',
      perCall: 1,
      run: async (w) => void (await handler({ channel: `w${w}`, event: 'tick', data: { n: 1, text: 'hello world' } })),
    },
    {
      name: 'handler, one channel shared by all 8 workers',
      perCall: 1,
      run: async () => void (await handler({ channel: 'shared', event: 'tick', data: { n: 1, text: 'hello world' } })),
    },
    {
      name: 'handler, head + store + deduplicationId',
      perCall: 1,
      run: async (w, n) => void (await handler({ channel: `s${w}`, event: 'tick', data: { n: 1 }, store: 60, deduplicationId: `b-${w}-${n}-${Date.now()}` })),
    },
    {
      name: 'handler, batches of 5 on one channel each',
      perCall: 5,
      run: async (w) => void (await handler({ messages: Array.from({ length: 5 }, () => ({ channel: `b${w}`, event: 'tick', data: { n: 1 } })) })),
    },
  ];

  // Warm up every path (JIT, connections, tables).
  for (const c of cases) for (let i = 0; i < 20; i++) await c.run(0, i);
  if (rig.endpoint.refused.length) throw new Error(`endpoint refused signatures: ${rig.endpoint.refused.join(', ')}`);

  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  // Each round starts with a different case, so no case always follows the same neighbour.
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r) % cases.length];
      rig.endpoint.received.length = 0;
      samples.get(c.name)!.push(await measure(c));
    }
  }
  const rate = new Map([...samples].map(([k, v]) => [k, median(v)]));
  const base = rate.get(cases[0].name)!;

  // CPU per message with no I/O: validate, give an id, build the envelope.
  const input = { channel: 'room-1', event: 'msg', data: { text: 'hello world', n: 42, tags: ['a', 'b'] } };
  let last: string | undefined;
  const N = 200_000;
  for (let i = 0; i < 20_000; i++) envelopeJson(nextIds(undefined, 1, Date.now())[0], validatePublishRequest(input, rules).messages[0]);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const m = validatePublishRequest(input, rules).messages[0];
    const id = nextIds(last, 1, Date.now())[0];
    last = id;
    envelopeJson(id, m);
  }
  const overheadUs = Number(process.hrtime.bigint() - t0) / 1000 / N;
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) JSON.stringify({ id: 'X', event: input.event, channel: input.channel, data: input.data, meta: { uid: null, umd: null } });
  const stringifyUs = Number(process.hrtime.bigint() - t1) / 1000 / N;
  const part = (f: () => void) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) f();
    return Number(process.hrtime.bigint() - t) / 1000 / N;
  };
  const validated = validatePublishRequest(input, rules).messages[0];
  const validateUs = part(() => validatePublishRequest(input, rules));
  const idUs = part(() => {
    last = nextIds(last, 1, Date.now())[0];
  });
  const envelopeUs = part(() => envelopeJson(last!, validated));

  await rig.close();

  const base2 = rate.get(cases[1].name)!;
  const noneRatio = rate.get(cases[2].name)! / base;
  const headRatio = rate.get(cases[3].name)! / base2;
  const rows = cases.map((c) => `| ${c.name} | ${fmt(rate.get(c.name)!)} | ${(rate.get(c.name)! / base).toFixed(2)}x | ${(rate.get(c.name)! / base2).toFixed(2)}x |`);
  const cpu = cpus();
  const md = [
    '## Publish API (issue #4)',
    '',
    `Command: \`npx tsx bench/publish.bench.ts\`. Machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
    `Messages per second, median of ${ROUNDS} interleaved rounds (rotating order) of ${ROUND_MS} ms, ${CONCURRENCY} publishes in flight, through \`createPublishHandler\` (direct invoke)`,
    'against dynalite and a loopback Event API endpoint that verifies SigV4 on every request (local/sigv4-verify.ts). The baseline signs and',
    'POSTs the same envelope to the same endpoint with no validation, ids, DynamoDB or dedup. Everything shares the 2 cores, dynalite included,',
    'so DynamoDB-bound rows measure dynalite more than the handler; compare the head-write row with the second baseline (one plain PutItem',
    'before the POST), which is the least any id-ordered publish can do.',
    '',
    '| case | messages/s | vs sign + POST | vs PutItem + sign + POST |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
    `Handler CPU per message with no I/O (validatePublishRequest + next id + envelope JSON): **${overheadUs.toFixed(2)} µs**`,
    `(validation ${validateUs.toFixed(2)} µs, id ${idUs.toFixed(2)} µs, envelope ${envelopeUs.toFixed(2)} µs; JSON.stringify of the same envelope alone: ${stringifyUs.toFixed(2)} µs).`,
    'The rest of a publish is I/O: the SigV4 signature (~170 µs with the pure-JS SHA-256), the POST, and the DynamoDB writes.',
    '',
    'Goals (set here; the issue states none):',
    `- handler with ordering none >= 0.9x sign + POST: ${noneRatio >= 0.9 ? 'met' : '**not met**'} (${noneRatio.toFixed(2)}x);`,
    `- handler with the head write >= 0.8x PutItem + sign + POST: ${headRatio >= 0.8 ? 'met' : '**not met**'} (${headRatio.toFixed(2)}x).`,
    'Figures move by ±30% between runs on this shared machine (other suites run beside it); the ratios within one run are the signal.',
  ].join('\n');
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'publish.md'), md + '\n');
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
