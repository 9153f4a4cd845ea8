/**
 * The client side of bench/presence.bench.ts, forked so the emulator's CPU figures are
 * its own: sends presence requests (one member per token) and the baseline's requests,
 * and measures join -> member_added (and publish -> delivery) latency with an Eventsock
 * client subscribed to the channel. Commands and answers go over IPC.
 */
import { connect } from '../client/node';
import type { Envelope } from '../functions/core/envelope';

type Cmd =
  | { cmd: 'tokens'; tokens: string[] }
  | { cmd: 'presence'; url: string; action: 'join' | 'heartbeat' | 'leave'; channels: string[]; members: number; concurrency: number }
  | { cmd: 'baseline'; url: string; members: number; concurrency: number }
  | { cmd: 'latency'; url: string; watcherToken: string; apiKey: string; channel: string; samples: number; firstMember: number }
  | { cmd: 'exit' };

let tokens: string[] = [];
const send = (m: unknown) => process.send!(m);

/** `n` POSTs, `concurrency` in flight; answers the time taken and the statuses seen. */
async function posts(n: number, concurrency: number, one: (i: number) => Promise<Response>): Promise<{ ms: number; statuses: Record<string, number>; failures: string[] }> {
  const statuses: Record<string, number> = {};
  const failures: string[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await one(i);
        const text = await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        // A 207 carries per-channel errors (MEMBER_LIMIT); count them as failures too.
        if ((res.status !== 200 || text.includes('"error"')) && failures.length < 3) failures.push(`${res.status} ${text.slice(0, 300)}`);
      }
    }),
  );
  return { ms: performance.now() - start, statuses, failures };
}

const json = (token: string, body: unknown): RequestInit => ({ method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function latency(m: Extract<Cmd, { cmd: 'latency' }>) {
  const client = await connect({ endpoint: m.url, auth: { type: 'token', token: m.watcherToken } });
  let waiting: { pred: (e: Envelope) => boolean; resolve: () => void } | undefined;
  await client.subscribe(m.channel, (e) => {
    if (waiting?.pred(e)) waiting.resolve();
  });
  const until = (pred: (e: Envelope) => boolean, request: () => Promise<Response>) =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => reject(new Error('no delivery within 10 s')), 10_000);
      waiting = { pred, resolve: () => (clearTimeout(timer), resolve(performance.now() - t0)) };
      request().then(async (res) => { if (res.status !== 200) reject(new Error(`${res.status} ${(await res.text()).slice(0, 300)}`)); }, reject);
    });
  const joins: number[] = [];
  const leaves: number[] = [];
  const publishes: number[] = [];
  for (let i = 0; i < m.samples; i++) {
    const k = m.firstMember + i;
    const uid = `u${k}`;
    const body = (action: string) => json(tokens[k], { action, channels: [m.channel], connectionId: `lat-conn-${k}` });
    const isMember = (event: string) => (e: Envelope) => e.event === event && (e.data as { uid?: string } | null)?.uid === uid;
    // Interleaved, so all three see the same conditions.
    joins.push(await until(isMember('eventsock.member_added'), () => fetch(`${m.url}/presence`, body('join'))));
    publishes.push(await until((e) => e.event === 'ping' && (e.data as { i?: number }).i === i, () => fetch(`${m.url}/publish`, json(m.apiKey, { channel: m.channel, event: 'ping', data: { i } }))));
    leaves.push(await until(isMember('eventsock.member_removed'), () => fetch(`${m.url}/presence`, body('leave'))));
  }
  await client.close();
  return { joins, leaves, publishes };
}

process.on('message', async (m: Cmd) => {
  try {
    if (m.cmd === 'tokens') {
      tokens = m.tokens;
      send({ kind: 'ok' });
    } else if (m.cmd === 'presence') {
      const r = await posts(m.members, m.concurrency, (i) => fetch(`${m.url}/presence`, json(tokens[i], { action: m.action, channels: [m.channels[i % m.channels.length]], connectionId: `bench-conn-${i}` })));
      send({ kind: 'done', ...r });
    } else if (m.cmd === 'baseline') {
      const r = await posts(m.members, m.concurrency, (i) => fetch(m.url, json(tokens[i], { action: 'heartbeat', channels: ['/bench/baseline'], connectionId: `bench-conn-${i}` })));
      send({ kind: 'done', ...r });
    } else if (m.cmd === 'latency') {
      send({ kind: 'done', ...(await latency(m)) });
    } else if (m.cmd === 'exit') {
      process.exit(0);
    }
  } catch (e) {
    send({ kind: 'error', error: String((e as Error)?.stack ?? e) });
  }
});
send({ kind: 'started' });
