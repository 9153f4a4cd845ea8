/**
 * Client bench: what IAM signing costs per subscribe, as a ratio to a bare
 * @smithy/signature-v4 sign of the same request in the same run, and the browser
 * bundle's size minified + gzipped (goal <= 40 KB with IAM signing).
 * `npx tsx bench/client.bench.ts` writes bench/results/client.md.
 */
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { createAuthorizer, toSubprotocol } from '../client/auth';
import { buildBrowserClient } from '../client/build';
import { eventRequest } from '../functions/core/event-request';

const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret', sessionToken: 'bench-session' };
const host = 'abc123.appsync-api.eu-west-1.amazonaws.com';
const N = 3000;
const ROUNDS = 7;

type Op = (i: number) => Promise<unknown>;

/** Runs the measures round-robin (a round of each, then again) so machine noise hits all of them alike. */
async function timeAll(ops: Record<string, Op>): Promise<Record<string, number>> {
  for (const fn of Object.values(ops)) for (let i = 0; i < 500; i++) await fn(i); // warm-up
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, fn] of Object.entries(ops)) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) await fn(i);
      samples[label].push(Number(process.hrtime.bigint() - t0) / 1000 / N);
    }
  }
  const out: Record<string, number> = {};
  for (const [label, s] of Object.entries(samples)) {
    s.sort((a, b) => a - b);
    out[label] = s[Math.floor(s.length / 2)];
    console.log(`${label}: ${out[label].toFixed(1)} µs/op (median of ${ROUNDS} rounds of ${N})`);
  }
  return out;
}

async function main(): Promise<void> {
  const bare = new SignatureV4({ service: 'appsync', region: 'eu-west-1', credentials, sha256: Sha256, applyChecksum: false });
  const auth = createAuthorizer({ type: 'iam', region: 'eu-west-1', credentials }, host);

  const t = await timeAll({
    bare: (i) => {
      const req = eventRequest(host, { kind: 'subscribe', channel: `/default/room-${i % 100}` });
      return bare.sign({ ...req, query: {}, headers: { ...req.headers } } as HttpRequest);
    },
    subscribe: (i) => auth.authorize({ kind: 'subscribe', channel: `/default/room-${i % 100}` }),
    connect: async () => toSubprotocol(await auth.authorize({ kind: 'connect' })),
  });
  const bareUs = t.bare;
  const subUs = t.subscribe;
  const connectUs = t.connect;
  const ratio = subUs / bareUs;

  const b = await buildBrowserClient({ outdir: join(__dirname, '..', 'dist', 'client'), types: false });
  const kb = (n: number) => (n / 1024).toFixed(1);
  console.log(`browser bundle: ${kb(b.bytes)} KB minified, ${kb(b.gzipBytes)} KB gzipped`);
  const sizeGoal = b.gzipBytes <= 40 * 1024;

  const md = [
    '## client',
    '',
    'Command: `npx tsx bench/client.bench.ts`. Machine: 2 cores ' + `(${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
    '',
    '| measure | value |',
    '|---|---|',
    `| bare \`SignatureV4.sign\` of the subscribe request (baseline) | ${bareUs.toFixed(1)} µs |`,
    `| client IAM subscribe authorization | ${subUs.toFixed(1)} µs (**${ratio.toFixed(2)}x** the baseline) |`,
    `| client IAM connect subprotocol (sign + JSON + base64url) | ${connectUs.toFixed(1)} µs (${(connectUs / bareUs).toFixed(2)}x) |`,
    `| browser bundle (client/browser.ts, ESM, IAM signing included) | ${kb(b.bytes)} KB minified, **${kb(b.gzipBytes)} KB gzipped** |`,
    '',
    `Medians of ${ROUNDS} rounds of ${N} sequential signs after a warm-up, rounds interleaved, same process and credentials.`,
    `Goal: bundle <= 40 KB gzipped: ${sizeGoal ? 'met' : 'NOT met'}. The signing overhead over a bare sign is the request`,
    'construction from `eventRequest()` and the header copy into the authorization object.',
    '',
  ].join('\n');
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'client.md'), md);
  console.log('wrote bench/results/client.md');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
