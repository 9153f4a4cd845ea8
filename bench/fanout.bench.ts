/**
 * Fan-out of the AppSync Events emulator (local/event-api) against a raw `ws`
 * broadcast of the same frames, in the same run:
 *   A. 1 publisher -> 1,000 subscribers on one channel: deliveries/s (ratio to raw
 *      ws), publish-to-delivery latency p50/p99.
 *   B. 10,000 connections across 100 channels: deliveries/s (ratio to raw ws) and
 *      server memory per idle subscribed connection.
 * Subscribers live in a child process so the server's memory and CPU are its own
 * (2 cores: one for the server, one for the clients). Everything is on 127.0.0.1,
 * bounded, and stops by itself.
 *
 * Run alone: `npx tsx bench/fanout.bench.ts` (writes bench/results/fanout.md).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket, { WebSocketServer } from 'ws';
import { resolveConfig } from '../functions/core/config';
import { createLogger } from '../functions/shared/log';
import { listenEventApi } from '../local/event-api';
import { runBench, writeResults } from './support/run-bench';

const API_KEY = 'da2-bench';
const now = () => performance.timeOrigin + performance.now();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// The subscriber side, run in a child process: opens connections, subscribes, counts data frames.
const CHILD = `
const WebSocket = require(process.env.WS_PATH);
const now = () => performance.timeOrigin + performance.now();
let sockets = [], received = 0, expected = Infinity, lat = null, doneSent = false;
// The event is a JSON string inside the frame, so its quotes arrive escaped: \\"t\\":<ms>
const BS = String.fromCharCode(92);
const T_NEEDLE = BS + '"t' + BS + '":';
function onData(text) {
  // Both servers send the same bytes; the client does as little as it can so the
  // figures measure the servers: a prefix check, and the timestamp for latency.
  if (!text.startsWith('{"type":"data"')) return;
  if (lat) lat.push(now() - parseFloat(text.slice(text.indexOf(T_NEEDLE) + T_NEEDLE.length)));
  received++;
  if (received >= expected && !doneSent) { doneSent = true; process.send({ kind: 'done', at: now(), received }); }
}
async function open(m) {
  let next = 0;
  const one = (i) => new Promise((resolve, reject) => {
    const ws = new WebSocket(m.url, m.protocols, { perMessageDeflate: false });
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 's' + i, channel: m.channels[i % m.channels.length], authorization: m.authorization })));
    ws.on('message', (d) => {
      const t = d.toString();
      if (t.includes('subscribe_success')) { ws.removeAllListeners('message'); ws.on('message', (x) => onData(x.toString())); resolve(); }
      else if (t.includes('error')) reject(new Error(t));
    });
    sockets.push(ws);
  });
  const worker = async () => { while (next < m.count) await one(next++); };
  await Promise.all(Array.from({ length: 100 }, worker));
}
process.on('message', async (m) => {
  try {
    if (m.cmd === 'open') { await open(m); process.send({ kind: 'ready', sockets: sockets.length }); }
    if (m.cmd === 'expect') { received = 0; doneSent = false; expected = m.total; lat = m.latency ? [] : null; process.send({ kind: 'armed' }); }
    if (m.cmd === 'latency') { lat.sort((a, b) => a - b); const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]; process.send({ kind: 'latency', p50: q(0.5), p99: q(0.99), n: lat.length }); }
    if (m.cmd === 'close') { for (const s of sockets) s.terminate(); sockets = []; process.send({ kind: 'closed' }); }
    if (m.cmd === 'status') process.send({ kind: 'status', received, expected });
    if (m.cmd === 'exit') process.exit(0);
  } catch (e) { process.send({ error: String(e && e.message || e) }); }
});
`;

class Subscribers {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, (m: any) => void>();
  constructor(file: string) {
    this.child = fork(file, [], { env: { ...process.env, WS_PATH: require.resolve('ws') }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: any) => {
      if (m.error) throw new Error(`subscriber process: ${m.error}`);
      const w = this.waiting.get(m.kind);
      this.waiting.delete(m.kind);
      w?.(m);
    });
  }
  private reply(kind: string): Promise<any> {
    return new Promise((resolve) => this.waiting.set(kind, resolve));
  }
  private ask(msg: { cmd: string }, kind: string): Promise<any> {
    const r = this.reply(kind);
    this.child.send(msg);
    return r;
  }
  open(url: string, protocols: string[], count: number, channels: string[], authorization: Record<string, string>) {
    return this.ask({ cmd: 'open', url, protocols, count, channels, authorization } as { cmd: string }, 'ready');
  }
  /** Arms the counter; `done` resolves when `total` deliveries have arrived, or rejects after 60 s saying how many did. */
  async expect(total: number, latency = false): Promise<{ done: Promise<{ at: number }> }> {
    const done = this.reply('done');
    await this.ask({ cmd: 'expect', total, latency } as { cmd: string }, 'armed');
    const watchdog = new Promise<never>((_, reject) => {
      const t = setTimeout(async () => {
        const st = await this.ask({ cmd: 'status' }, 'status');
        reject(new Error(`only ${st.received} of ${st.expected} deliveries arrived within 60 s`));
      }, 60_000);
      done.then(() => clearTimeout(t));
    });
    return { done: Promise.race([done, watchdog]) };
  }
  latency(): Promise<{ p50: number; p99: number; n: number }> {
    return this.ask({ cmd: 'latency' }, 'latency');
  }
  close() {
    return this.ask({ cmd: 'close' }, 'closed');
  }
  exit() {
    this.child.send({ cmd: 'exit' });
  }
}

/** The baseline: a bare ws server doing the least a pub/sub can do with the same frames. */
async function rawServer(): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: (p) => (p.has('aws-appsync-event-ws') ? 'aws-appsync-event-ws' : false) });
  const channels = new Map<string, Set<{ ws: WebSocket; head: string }>>();
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'subscribe') {
        let set = channels.get(f.channel);
        if (!set) channels.set(f.channel, (set = new Set()));
        set.add({ ws, head: '{"type":"data","id":' + JSON.stringify(f.id) + ',"event":' });
        ws.send(JSON.stringify({ type: 'subscribe_success', id: f.id }));
      } else if (f.type === 'publish') {
        const set = channels.get(f.channel);
        const ejs = (f.events as string[]).map((e) => JSON.stringify(e));
        if (set) for (const s of set) for (const ej of ejs) s.ws.send(s.head + ej + '}');
        ws.send(JSON.stringify({ type: 'publish_success', id: f.id, successful: [], failed: [] }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/event/realtime`,
    server,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Target {
  name: string;
  url: string;
  protocols: string[];
  close(): Promise<void>;
}

async function emulatorTarget(): Promise<Target> {
  const config = resolveConfig({ auth: { apiKey: {} }, namespaces: { default: { publishAuthModes: ['AWS_IAM', 'API_KEY'], subscribeAuthModes: ['API_KEY'] } } });
  const srv = await listenEventApi({ config, apiKeys: [API_KEY], logger: createLogger({ level: 'error' }), maxConnections: 20_000 });
  const header = 'header-' + Buffer.from(JSON.stringify({ host: srv.httpHost, 'x-api-key': API_KEY })).toString('base64url');
  return { name: 'emulator', url: `ws://${srv.httpHost}/event/realtime`, protocols: ['aws-appsync-event-ws', header], close: () => srv.close() };
}

async function rawTarget(): Promise<Target> {
  const raw = await rawServer();
  return { name: 'raw ws', url: raw.url, protocols: ['aws-appsync-event-ws'], close: () => raw.close() };
}

async function publisher(t: Target): Promise<{ send(channel: string, events: string[]): void; drained(n: number): Promise<void>; close(): void }> {
  const ws = new WebSocket(t.url, t.protocols, { perMessageDeflate: false });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  let acked = 0;
  let waiter: { n: number; resolve: () => void } | undefined;
  ws.on('message', (d) => {
    if (d.toString().startsWith('{"type":"publish_success"')) {
      acked++;
      if (waiter && acked >= waiter.n) waiter.resolve();
    }
  });
  let id = 0;
  const auth = { 'x-api-key': API_KEY };
  return {
    send: (channel, events) => ws.send(JSON.stringify({ type: 'publish', id: `p${id++}`, channel, events, authorization: auth })),
    drained: (n) => (acked >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
    close: () => ws.terminate(),
  };
}

const payload = (i: number) => JSON.stringify({ t: now(), i, text: 'x'.repeat(100) });

/** Deliveries per second for `messages` publishes to each channel, pipelined. */
async function throughput(t: Target, subs: Subscribers, channels: string[], perChannel: number, subscribersPerChannel: number): Promise<number> {
  const pub = await publisher(t);
  // Warm-up round, not measured.
  let { done } = await subs.expect(channels.length * subscribersPerChannel);
  for (const ch of channels) pub.send(ch, [payload(-1)]);
  await done;
  const total = channels.length * perChannel * subscribersPerChannel;
  ({ done } = await subs.expect(total));
  const start = now();
  for (let i = 0; i < perChannel; i++) for (const ch of channels) pub.send(ch, [payload(i)]);
  const { at } = await done;
  pub.close();
  return total / ((at - start) / 1000);
}

/** Publish-to-delivery latency with one publish in flight at a time, spaced out. */
async function latency(t: Target, subs: Subscribers, channel: string, count: number, subscribers: number): Promise<{ p50: number; p99: number; n: number }> {
  const pub = await publisher(t);
  const { done } = await subs.expect(count * subscribers, true);
  for (let i = 0; i < count; i++) {
    pub.send(channel, [payload(i)]);
    await pub.drained(i + 1);
    await new Promise((r) => setTimeout(r, 5));
  }
  await done;
  pub.close();
  return subs.latency();
}

function memory(): { rss: number; heap: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers };
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'eventsock-fanout-'));
  const childFile = join(dir, 'subscribers.cjs');
  writeFileSync(childFile, CHILD);
  const subs = new Subscribers(childFile);
  const hardStop = setTimeout(() => {
    console.error('fanout bench: hard time limit reached');
    process.exit(1);
  }, 240_000);
  const results: Record<string, Record<string, number>> = {};
  try {
    // Alternate the order so neither side always runs on a warmer machine.
    for (const make of [rawTarget, emulatorTarget, rawTarget, emulatorTarget]) {
      const t = await make();
      const r = (results[t.name] ??= {});
      const step = (m: string) => console.error(`[fanout] ${new Date().toISOString().slice(11, 19)} ${t.name}: ${m}`);
      step('opening 1,000 subscribers');
      const ready = await subs.open(t.url, t.protocols, 1000, ['/default/room'], { host: '127.0.0.1', 'x-api-key': API_KEY });
      if (ready.sockets !== 1000) throw new Error('not all subscribers connected');
      step('throughput A');
      const a = await throughput(t, subs, ['/default/room'], 200, 1000);
      r.aRate = Math.max(r.aRate ?? 0, a);
      step('latency A');
      const l = await latency(t, subs, '/default/room', 100, 1000);
      if (r.p50 === undefined || l.p99 < r.p99) Object.assign(r, { p50: l.p50, p99: l.p99, latN: l.n });
      await subs.close();
      await new Promise((res) => setTimeout(res, 300));

      const channels = Array.from({ length: 100 }, (_, i) => `/default/c${i}/x`);
      const before = memory();
      step('opening 10,000 connections');
      const readyB = await subs.open(t.url, t.protocols, 10_000, channels, { host: '127.0.0.1', 'x-api-key': API_KEY });
      if (readyB.sockets !== 10_000) throw new Error('not all 10,000 connections opened');
      await new Promise((res) => setTimeout(res, 500));
      const after = memory();
      r.rssPerConn = Math.min(r.rssPerConn ?? Infinity, (after.rss - before.rss) / 10_000);
      r.heapPerConn = Math.min(r.heapPerConn ?? Infinity, (after.heap - before.heap) / 10_000);
      step('throughput B');
      const b = await throughput(t, subs, channels, 10, 100);
      r.bRate = Math.max(r.bRate ?? 0, b);
      await subs.close();
      await t.close();
      await new Promise((res) => setTimeout(res, 500));
      console.log(`${t.name}: A ${Math.round(a)} deliveries/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms; B ${Math.round(b)} deliveries/s`);
    }
  } finally {
    clearTimeout(hardStop);
    subs.exit();
    rmSync(dir, { recursive: true, force: true });
  }

  const e = results.emulator;
  const raw = results['raw ws'];
  const ratioA = e.aRate / raw.aRate;
  const ratioB = e.bRate / raw.bRate;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const kb = (n: number) => (n / 1024).toFixed(1) + ' KB';
  const lines = [
    '## Fan-out (issue #5, local/event-api)',
    '',
    `Command: \`npx tsx bench/fanout.bench.ts\`. Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, 1-min load average ${loadBefore.toFixed(1)} at the start (the machine is shared; figures move with it).`,
    'Server in the bench process, subscribers in one child process, all on 127.0.0.1. Baseline: a bare `ws` server that keeps a',
    'channel -> sockets map and sends the same `data` frames (same bytes) to the same subscribers, measured in the same run.',
    'Each side ran twice, interleaved; best round shown. One publisher connection sends `publish` frames pipelined (throughput)',
    'or one at a time, 5 ms apart (latency). Subscribers only check each frame\'s prefix and read the timestamp in the event.',
    '',
    '| measure | emulator | raw ws | ratio | goal |',
    '|---|---:|---:|---:|---|',
    `| A: 1 publisher -> 1,000 subscribers, deliveries/s (200 publishes) | ${fmt(e.aRate)} | ${fmt(raw.aRate)} | ${ratioA.toFixed(2)}x | >= 0.5x: ${ratioA >= 0.5 ? 'met' : '**not met**'} |`,
    `| A: publish-to-delivery p50 (${fmt(e.latN)} deliveries) | ${e.p50.toFixed(2)} ms | ${raw.p50.toFixed(2)} ms | - | - |`,
    `| A: publish-to-delivery p99 | ${e.p99.toFixed(2)} ms | ${raw.p99.toFixed(2)} ms | - | <= 20 ms: ${e.p99 <= 20 ? 'met' : '**not met**'} |`,
    `| B: 10,000 connections, 100 channels, deliveries/s (1,000 publishes) | ${fmt(e.bRate)} | ${fmt(raw.bRate)} | ${ratioB.toFixed(2)}x | >= 0.5x: ${ratioB >= 0.5 ? 'met' : '**not met**'} |`,
    `| B: server memory per idle subscribed connection, RSS | ${kb(e.rssPerConn)} | ${kb(raw.rssPerConn)} | ${(e.rssPerConn / raw.rssPerConn).toFixed(2)}x | - |`,
    `| B: server memory per idle subscribed connection, JS heap + buffers | ${kb(e.heapPerConn)} | ${kb(raw.heapPerConn)} | ${(e.heapPerConn / raw.heapPerConn).toFixed(2)}x | - |`,
    '',
    'The latency is measured from just before the publish frame is sent to the subscriber having parsed the event, across',
    'processes (performance.timeOrigin + now), with the subscriber process handling 1,000 sockets on the second core.',
    'Memory: growth of the server process after a forced GC across opening 10,000 subscribed connections, divided by 10,000;',
    'the RSS delta depends on the allocator and varies between runs, the heap + buffers figure is the stable one.',
    '',
  ];
  writeResults('fanout', lines);
}

runBench(main);
