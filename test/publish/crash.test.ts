/**
 * The crash matrix (issue #13 "Publishing that survives a crash"): a publish killed at
 * each named step of the pipeline, then a retry in a new container after the dead
 * claim's lease, then what history (the history handler, per channel and by pattern)
 * and subscribers (what the loopback Event API received, as the client sees it: by id)
 * hold. A crash is a fault hook that never returns at that step: nothing after it
 * runs, as in a killed process. Real parts: dynalite, the SigV4-checking endpoint.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createHistoryHandler } from '../../functions/history/handler';
import type { PublishHandlerDeps } from '../../functions/publish/handler';
import type { FaultHook, PublishStep } from '../../functions/publish/publish';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { rigPublishHandler, startRig, type Rig } from './support';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(() => rig.close());
beforeEach(() => {
  rig.endpoint.received.length = 0;
  rig.endpoint.respond = undefined;
});

/** The rig's lease: delivery budget 2000 ms + 5 s. A retry this much later finds the dead claim lapsed. */
const AFTER_LEASE_MS = 10_000;

const handler = (over: Partial<PublishHandlerDeps> = {}) => rigPublishHandler(rig, new Map([[rig.settings.publish.apiKeyParameterNames[0], 'k']]), over);
/** A new container, later: the dead claim's lease is over. */
const retryHandler = () => handler({ now: () => Date.now() + AFTER_LEASE_MS });

type Detail = { channel?: string; ids?: string[] };
/** A hook that kills the publish at the `nth` call of `step`: that call and every later one never return. */
function crashAt(step: PublishStep, nth = 1): { hook: FaultHook; crashed: Promise<Detail> } {
  let calls = 0;
  let dead = false;
  let signal!: (d: Detail) => void;
  const crashed = new Promise<Detail>((r) => (signal = r));
  const hook: FaultHook = (s, detail) => {
    if (!dead && s === step && ++calls === nth) {
      dead = true;
      signal(detail);
    }
    if (dead) return new Promise<void>(() => undefined);
  };
  return { hook, crashed };
}

/** The history API (direct invoke), as every catch-up reads it. */
const history = (q: { channel: string; limit: number }) =>
  createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets: staticSecretSource(new Map()), logger: memoryLogger() })(q);
type Item = { id: string; data: unknown; channel: string };
async function historyOf(channel: string): Promise<Item[]> {
  const r = (await history({ channel, limit: 100 })) as { items?: Item[]; error?: unknown };
  if (!r.items) throw new Error(`history failed: ${JSON.stringify(r)}`);
  return r.items;
}
/** Every live delivery of the channel, in order (a subscriber that has seen an id drops it again). */
const deliveredOn = (channel: string) => rig.endpoint.received.filter((x) => x.channel === channel).flatMap((x) => x.events as unknown as Item[]);
const distinct = (items: Item[]) => [...new Set(items.map((e) => e.id))];

type One = { id: string; channel: string; event: string; duplicate?: true; error?: unknown };

const STEPS: PublishStep[] = ['claimed', 'allocated', 'reserved', 'stored', 'delivered', 'confirmed'];
/** Steps after which the dead attempt had stored its copy: the retry answers that first id. */
const STORED_BY: PublishStep[] = ['stored', 'delivered', 'confirmed'];

describe('a single message with a deduplicationId, killed at each step, then retried', () => {
  it.each(STEPS)('killed after %s: the retry answers one id, history and subscribers hold exactly one copy', async (step) => {
    const channel = `/default/crash-one-${step}`;
    const body = { channel, event: 'e', data: { step }, store: 3600, deduplicationId: `one-${step}` };
    const c = crashAt(step);
    void handler({ fault: c.hook })(body);
    const detail = await c.crashed;

    // Right after the crash: history shows nothing that no subscriber got.
    const before = await historyOf(channel);
    expect(before.map((e) => e.id)).toEqual(step === 'confirmed' ? distinct(deliveredOn(channel)) : []);

    const r = (await retryHandler()(body)) as One;
    expect(r).toEqual({ id: expect.any(String), channel, event: 'e' });
    if (STORED_BY.includes(step)) expect(r.id).toBe(detail.ids![0]);

    const after = await historyOf(channel);
    expect(after).toEqual([expect.objectContaining({ id: r.id, channel, data: { step } })]);
    expect(distinct(deliveredOn(channel))).toEqual([r.id]);
    // Killed after AppSync took it: the retry sends the same id again (dropped by id), never a second id.
    const live = step === 'delivered' || step === 'confirmed' ? 2 : 1;
    expect(deliveredOn(channel)).toHaveLength(live);

    // And a further retry is a plain duplicate of it.
    const again = (await retryHandler()(body)) as One;
    expect(again).toMatchObject({ id: r.id, duplicate: true, duplicateOf: { id: r.id, channel } });
    expect(deliveredOn(channel)).toHaveLength(live);
  });

  it('killed while AppSync never answers (no fault hook: the delivery hangs), the retry finishes the stored copy under its id', async () => {
    const channel = '/default/crash-hang';
    const body = { channel, event: 'e', data: 'hang', store: 3600, deduplicationId: 'hang-1' };
    let sent!: () => void;
    const reached = new Promise<void>((r) => (sent = r));
    const hanging: typeof fetch = () => {
      sent();
      return new Promise<Response>(() => undefined);
    };
    void handler({ fetch: hanging })(body);
    await reached;
    expect(await historyOf(channel)).toEqual([]);
    const r = (await retryHandler()(body)) as One;
    expect(await historyOf(channel)).toEqual([expect.objectContaining({ id: r.id, data: 'hang' })]);
    expect(distinct(deliveredOn(channel))).toEqual([r.id]);
  });

  it('a retry naming another channel or other data still finishes the message that was stored', async () => {
    const channel = '/default/crash-moved';
    const c = crashAt('stored');
    void handler({ fault: c.hook })({ channel, event: 'e', data: 'first', store: 3600, deduplicationId: 'moved-1' });
    const { ids } = await c.crashed;
    const r = (await retryHandler()({ channel: '/default/crash-elsewhere', event: 'other', data: 'second', store: 3600, deduplicationId: 'moved-1' })) as One;
    expect(r).toEqual({ id: ids![0], channel, event: 'e' });
    expect(await historyOf(channel)).toEqual([expect.objectContaining({ id: ids![0], data: 'first' })]);
    expect(await historyOf('/default/crash-elsewhere')).toEqual([]);
    expect(rig.endpoint.received.map((x) => x.channel)).toEqual([channel]);
  });

  it('store: 0, killed after delivery: the retry delivers under the same id', async () => {
    const channel = '/default/crash-unstored';
    const body = { channel, event: 'e', data: 0, store: 0, deduplicationId: 'unstored-1' };
    const c = crashAt('delivered');
    void handler({ fault: c.hook })(body);
    const { ids } = await c.crashed;
    const r = (await retryHandler()(body)) as One;
    expect(r.id).toBe(ids![0]);
    expect(deliveredOn(channel).map((e) => e.id)).toEqual([r.id, r.id]);
    expect(await historyOf(channel)).toEqual([]);
  });
});

describe('a batch with deduplicationIds, killed at each step, then retried', () => {
  const A = '/default/crash-batch-a';
  const B = '/default/crash-batch-b';
  // 7 on A (two deliveries of 5 and 2), 2 on B, interleaved.
  const batch = (step: string) => ({
    messages: Array.from({ length: 9 }, (_x, n) => ({ channel: n % 4 === 3 ? `${B}-${step}` : `${A}-${step}`, event: 'e', data: n, store: 3600, deduplicationId: `b-${step}-${n}` })),
  });

  it.each([...STEPS.map((s) => [s, 1] as const), ['delivered', 2] as const])('killed at %s (call %i): every message once, under one id, in history and live', async (step, nth) => {
    const a = `${A}-${step}-${nth}`;
    const b = `${B}-${step}-${nth}`;
    const body = batch(`${step}-${nth}`);
    const c = crashAt(step, nth);
    void handler({ fault: c.hook })(body);
    const detail = await c.crashed;
    // Whatever history shows at the crash was delivered.
    for (const ch of [a, b]) {
      const seen = new Set(distinct(deliveredOn(ch)));
      for (const e of await historyOf(ch)) expect(seen.has(e.id)).toBe(true);
    }

    const r = (await retryHandler()(body)) as { results: One[] };
    expect(r.results.map((x) => x.error)).toEqual(Array(9).fill(undefined));
    expect(r.results.map((x) => x.channel)).toEqual(body.messages.map((m) => m.channel));
    // The ids the dead attempt had stored are the ones answered now.
    if (STORED_BY.includes(step)) expect(r.results.map((x) => x.id)).toEqual(expect.arrayContaining(detail.ids!));
    for (const ch of [a, b]) {
      const ids = r.results.filter((x) => x.channel === ch).map((x) => x.id);
      const h = await historyOf(ch);
      expect(h.map((e) => e.id)).toEqual([...ids].sort());
      expect(h.map((e) => e.data)).toEqual(body.messages.map((m, n) => (m.channel === ch ? n : undefined)).filter((n) => n !== undefined));
      expect(distinct(deliveredOn(ch)).sort()).toEqual([...ids].sort());
    }
    // By pattern too (the namespace index the wildcard catch-up reads).
    const all = (await history({ channel: '/default/*', limit: 100 })) as { items: Item[] };
    const mine = all.items.filter((e) => e.channel === a || e.channel === b);
    expect(mine).toHaveLength(9);
    expect(new Set(mine.map((e) => e.id)).size).toBe(9);
  });
});

describe('without a deduplicationId', () => {
  it.each(STEPS.filter((s) => s !== 'claimed' && s !== 'reserved'))('killed after %s: the copy is visible only if it was delivered', async (step) => {
    const channel = `/default/crash-nodedup-${step}`;
    const body = { channel, event: 'e', data: 'x', store: -1 };
    const c = crashAt(step);
    void handler({ fault: c.hook })(body);
    const { ids } = await c.crashed;
    const seen = distinct(deliveredOn(channel));
    const visible = (await historyOf(channel)).map((e) => e.id);
    expect(visible).toEqual(step === 'confirmed' ? seen : []);
    if (step === 'stored' || step === 'delivered') {
      // The dead copy is there but hidden, and expires by itself although stored "forever".
      const item = (await rig.dynamo.send(new GetItemCommand({ TableName: rig.settings.tables.messages, Key: { channel: { S: channel }, id: { S: ids![0] } }, ConsistentRead: true }))).Item;
      expect(item?.pending).toEqual({ BOOL: true });
      expect(Number(item?.expiresAt?.N)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 7 + 300 + 1);
    }
    // The publisher got no answer; a retry without a deduplicationId is a new message.
    const r = (await retryHandler()(body)) as One;
    const h = (await historyOf(channel)).map((e) => e.id);
    expect(h).toEqual(step === 'confirmed' ? [...visible, r.id] : [r.id]);
    for (const id of h) expect(distinct(deliveredOn(channel))).toContain(id);
  });
});

describe('the steps are reached in order', () => {
  it('a publish passes claimed, allocated, reserved, stored, delivered, confirmed', async () => {
    const steps: string[] = [];
    const r = (await handler({ fault: (s) => void steps.push(s) })({ channel: '/default/crash-order', event: 'e', store: 60, deduplicationId: 'order-1' })) as One;
    expect(steps).toEqual(['claimed', 'allocated', 'reserved', 'stored', 'delivered', 'confirmed']);
    expect(await historyOf('/default/crash-order')).toEqual([expect.objectContaining({ id: r.id })]);
  });
});
