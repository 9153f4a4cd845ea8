/**
 * The crash matrix with a real kill (issue #13): the publish runs in a child process
 * (crash-child.ts: the real handler on this test's dynalite and SigV4-checking Event
 * API) and is SIGKILLed, either at a named step (the child says where it is and waits)
 * or with no hook at all while AppSync is taking its delivery. Then a retry here, in a
 * "new container" after the dead claim's lease, and history and the live deliveries
 * are checked for exactly one copy of each message. crash.test.ts covers every step in
 * process; this shows that nothing the dead process held in memory was needed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createHistoryHandler } from '../../functions/history/handler';
import type { PublishStep } from '../../functions/publish/publish';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { CREDENTIALS, REGION, rigPublishHandler, startRig, type Rig } from './support';

const ROOT = join(__dirname, '..', '..');
jest.setTimeout(60_000);

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(() => rig.close());
beforeEach(() => {
  rig.endpoint.received.length = 0;
  rig.endpoint.respond = undefined;
});

interface Child {
  proc: ChildProcessWithoutNullStreams;
  /** Resolves with the first JSON line the child prints. */
  said: Promise<{ at?: string; ids?: string[]; done?: unknown }>;
  /** How it ended: the signal that killed it, else its exit code and output (for the failure message). */
  exited: Promise<string>;
}

function startChild(body: unknown, step?: PublishStep): Child {
  const job = { dynamoEndpoint: rig.db.endpoint, settings: rig.settings, eventApiUrl: rig.endpoint.url, region: REGION, credentials: CREDENTIALS, body, step };
  const proc = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'crash-child.ts')], {
    cwd: ROOT,
    env: { ...process.env, EVENTSOCK_CRASH_JOB: JSON.stringify(job) },
    stdio: 'pipe',
  });
  let out = '';
  let err = '';
  const said = new Promise<{ at?: string; ids?: string[]; done?: unknown }>((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    proc.on('exit', () => reject(new Error(`child exited before saying anything: ${err}`)));
  });
  said.catch(() => undefined);
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise<string>((r) => proc.on('exit', (code, signal) => r(signal ?? `exit ${code}: ${out} ${err}`)));
  return { proc, said, exited };
}

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
});

/** A new container, later: the dead claim's lease (budget 2 s + 5 s) is over. */
const retry = (body: unknown) => rigPublishHandler(rig, new Map([[rig.settings.publish.apiKeyParameterNames[0], 'k']]), { now: () => Date.now() + 10_000 })(body as never);

type Item = { id: string; data: unknown; channel: string };
async function historyOf(channel: string): Promise<Item[]> {
  const h = createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets: staticSecretSource(new Map()), logger: memoryLogger() });
  const r = (await h({ channel, limit: 100 })) as { items?: Item[] };
  if (!r.items) throw new Error(`history failed: ${JSON.stringify(r)}`);
  return r.items;
}
const deliveredOn = (channel: string) => rig.endpoint.received.filter((x) => x.channel === channel).flatMap((x) => x.events as unknown as Item[]);
const distinct = (items: Item[]) => [...new Set(items.map((e) => e.id))];
type One = { id: string; channel: string; event: string; error?: unknown };

it('SIGKILLed after storing (a deduplicated message): the retry answers the first id and delivers that copy once', async () => {
  const channel = '/default/kill-stored';
  const body = { channel, event: 'e', data: 'stored-then-killed', store: 3600, deduplicationId: 'kill-stored-1' };
  const child = startChild(body, 'stored');
  children.push(child);
  const at = await child.said;
  expect(at).toEqual({ at: 'stored', ids: [expect.any(String)] });
  child.proc.kill('SIGKILL');
  expect(await child.exited).toBe('SIGKILL');

  // The dead process's copy is in the table, hidden, and nobody got it.
  expect(await historyOf(channel)).toEqual([]);
  expect(deliveredOn(channel)).toEqual([]);
  const item = (await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.messages, Key: { channel: { S: channel }, id: { S: at.ids![0] } }, ConsistentRead: true }))).Item;
  expect(item?.pending).toEqual({ BOOL: true });

  const r = (await retry(body)) as One;
  expect(r).toEqual({ id: at.ids![0], channel, event: 'e' });
  expect(await historyOf(channel)).toEqual([expect.objectContaining({ id: r.id, data: 'stored-then-killed' })]);
  expect(deliveredOn(channel).map((e) => e.id)).toEqual([r.id]);
});

it('SIGKILLed while AppSync takes its delivery (no hook): a batch is finished under the dead process ids, one copy each', async () => {
  const channel = '/default/kill-delivering';
  const body = { messages: Array.from({ length: 7 }, (_x, n) => ({ channel, event: 'e', data: n, store: 3600, deduplicationId: `kill-delivering-${n}` })) };
  let child!: Child;
  // The first chunk reaches AppSync and its subscribers; the publisher dies before it hears back.
  let first = true;
  rig.endpoint.respond = (_n, got) => {
    if (!first) return undefined;
    first = false;
    rig.endpoint.received.push({ channel: got.channel, events: got.events.map((e) => JSON.parse(e)), raw: got.events });
    child.proc.kill('SIGKILL');
    return { status: 200, body: { successful: got.events.map((_e, index) => ({ identifier: `x-${index}`, index })), failed: [] } };
  };
  child = startChild(body);
  children.push(child);
  expect(await child.exited).toBe('SIGKILL');
  rig.endpoint.respond = undefined;
  const firstChunk = distinct(deliveredOn(channel));
  expect(firstChunk).toHaveLength(5);
  // Delivered live, not yet in history (never confirmed).
  expect(await historyOf(channel)).toEqual([]);

  const r = (await retry(body)) as { results: One[] };
  expect(r.results.map((x) => x.error)).toEqual(Array(7).fill(undefined));
  const ids = r.results.map((x) => x.id);
  expect(ids).toEqual(expect.arrayContaining(firstChunk));
  expect(new Set(ids).size).toBe(7);
  const h = await historyOf(channel);
  expect(h.map((e) => e.id)).toEqual([...ids].sort());
  expect(h.map((e) => e.data)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  // Subscribers: every message under one id; the first chunk's ids came again (dropped by id).
  expect(distinct(deliveredOn(channel)).sort()).toEqual([...ids].sort());
});

it('SIGKILLed while AppSync takes its delivery, without a deduplicationId: the copy never shows in history', async () => {
  const channel = '/default/kill-nodedup';
  const body = { channel, event: 'e', data: 'live-only', store: -1 };
  let child!: Child;
  rig.endpoint.respond = (_n, got) => {
    rig.endpoint.received.push({ channel: got.channel, events: got.events.map((e) => JSON.parse(e)), raw: got.events });
    child.proc.kill('SIGKILL');
    return { status: 200, body: { successful: got.events.map((_e, index) => ({ identifier: `x-${index}`, index })), failed: [] } };
  };
  child = startChild(body);
  children.push(child);
  expect(await child.exited).toBe('SIGKILL');
  const [live] = distinct(deliveredOn(channel));
  expect(live).toEqual(expect.any(String));
  expect(await historyOf(channel)).toEqual([]);
  // Hidden and bound to expire although stored "forever".
  const item = (await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.messages, Key: { channel: { S: channel }, id: { S: live } }, ConsistentRead: true }))).Item;
  expect(item?.pending).toEqual({ BOOL: true });
  expect(Number(item?.expiresAt?.N)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 7 + 300 + 1);
});
