/**
 * Client WebSocket publishes through the pipeline, end to end on the dev server (the
 * emulator runs the namespace's Lambda data source, the real socket-publish function,
 * in-process with the payload AppSync sends; dynalite; the real publish and history
 * functions; real sockets): stored, numbered on the channel head with the publish API's
 * messages, deduplicated per user, delivered once, caught up after a reconnect.
 */
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import type { Envelope } from '../../functions/core/envelope';
import { waitFor } from '../client/support/wait';
import { flakyNetwork } from '../support/flaky-network';
import { publishHttp, startTestServer, TEST_TOKEN_SECRET } from './helpers';

let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: EventsockClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 }, feed: { clientPublish: true, socketPublishEvents: true } } });
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.close();
});

const token = (uid: string) => signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid, umd: { name: uid }, channels: { '/chat/*': { subscribe: true, history: true, publish: true } } });

async function client(uid: string, extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<EventsockClient> {
  const c = await connect({ endpoint: server.url, auth: { type: 'token', token: await token(uid) }, history: { url: server.url }, reconnect: { initialDelayMs: 20, maxDelayMs: 50 }, ...extra });
  clients.push(c);
  return c;
}

async function history(channel: string): Promise<Envelope[]> {
  const res = await fetch(`${server.url}/history?channel=${encodeURIComponent(channel)}&limit=100`, { headers: { authorization: `Bearer ${await token('reader')}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Envelope[] }).items;
}

const ids = (r: { successful: Array<{ id?: string }> }) => r.successful.map((s) => s.id);

it('a socket publish is stored: a subscriber that was offline gets it from history among backend messages, in id order, once', async () => {
  const net = flakyNetwork();
  const alice = await client('alice');
  await alice.subscribe('/chat/room', () => undefined);
  const bob = await client('bob', { WebSocket: net.WebSocket });
  const got: Envelope[] = [];
  await bob.subscribe('/chat/room', (m) => got.push(m));

  const m1 = await alice.publish('/chat/room', { event: 'message', data: 'm1' });
  expect(m1.failed).toEqual([]);
  expect(m1.successful[0].id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  await waitFor(() => got.length === 1, 'm1 live', 10_000);
  expect(got[0]).toEqual({ id: m1.successful[0].id, event: 'message', channel: '/chat/room', data: 'm1', meta: { uid: 'alice', umd: { name: 'alice' } } });

  net.online = false;
  net.current!.terminate();
  await waitFor(() => bob.state === 'reconnecting', 'bob offline');
  const b1 = await publishHttp(server, { channel: '/chat/room', event: 'backend', data: 'b1' });
  const m2 = await alice.publish('/chat/room', [{ event: 'message', data: 'm2' }, { event: 'message', data: 'm3' }]);
  const b2 = await publishHttp(server, { channel: '/chat/room', event: 'backend', data: 'b2' });
  expect([b1.status, b2.status]).toEqual([202, 202]);
  expect(got).toHaveLength(1);

  net.online = true;
  await waitFor(() => got.length === 5, 'b1, m2, m3, b2 from history', 15_000);
  const m4 = await alice.publish('/chat/room', { event: 'message', data: 'm4' });
  await waitFor(() => got.length === 6, 'm4 live', 10_000);
  expect(got.map((m) => m.data)).toEqual(['m1', 'b1', 'm2', 'm3', 'b2', 'm4']);
  expect(got.map((m) => m.id)).toEqual([ids(m1)[0], b1.body.id, ...ids(m2), b2.body.id, ids(m4)[0]]);
  expect([...got.map((m) => m.id)].sort()).toEqual(got.map((m) => m.id));
  expect((await history('/chat/room')).map((m) => m.data)).toEqual(['m1', 'b1', 'm2', 'm3', 'b2', 'm4']);
}, 60_000);

it('ids strictly increase on one channel with four socket publishers and two publish-API publishers at once, each delivered once', async () => {
  const channel = '/chat/busy';
  const watcher = await client('watcher');
  const live: Envelope[] = [];
  await watcher.subscribe(channel, (m) => live.push(m));
  const sockets = await Promise.all([1, 2, 3, 4].map((i) => client(`s${i}`)));
  const N = 8;
  await Promise.all([
    ...sockets.map(async (c, i) => {
      for (let k = 0; k < N; k++) expect((await c.publish(channel, { event: 'message', data: { from: `s${i + 1}`, k } })).failed).toEqual([]);
    }),
    ...[1, 2].map(async (i) => {
      for (let k = 0; k < N; k++) expect((await publishHttp(server, { channel, event: 'backend', data: { from: `p${i}`, k } })).status).toBe(202);
    }),
  ]);
  const stored = await history(channel);
  expect(stored).toHaveLength(6 * N);
  const storedIds = stored.map((m) => m.id);
  for (let i = 1; i < storedIds.length; i++) expect(storedIds[i] > storedIds[i - 1]).toBe(true);
  // Each publisher's messages got increasing ids in the order it sent them.
  for (const from of ['s1', 's2', 's3', 's4', 'p1', 'p2']) {
    expect(stored.filter((m) => (m.data as { from: string }).from === from).map((m) => (m.data as { k: number }).k)).toEqual([...Array(N).keys()]);
  }
  await waitFor(() => live.length === 6 * N, 'every message live', 15_000);
  expect(new Set(live.map((m) => m.id)).size).toBe(6 * N);
  expect([...live.map((m) => m.id)].sort()).toEqual(storedIds);
}, 60_000);

it('a repeated deduplicationId over the socket is delivered once and answered as a duplicate with the first id, per user', async () => {
  const alice = await client('alice');
  const bob = await client('bob');
  const got: Envelope[] = [];
  await bob.subscribe('/chat/dedup', (m) => got.push(m));
  await alice.subscribe('/chat/dedup', () => undefined);
  const first = await alice.publish('/chat/dedup', { event: 'message', data: 'once', deduplicationId: 'sock-1' });
  const again = await alice.publish('/chat/dedup', { event: 'message', data: 'twice', deduplicationId: 'sock-1' });
  expect(again).toEqual({ successful: [{ identifier: expect.any(String), index: 0, id: first.successful[0].id, duplicate: true }], failed: [] });
  const bobs = await bob.publish('/chat/dedup', { event: 'message', data: 'bob', deduplicationId: 'sock-1' });
  expect(bobs.successful[0].duplicate).toBeUndefined();
  await waitFor(() => got.length === 2, 'once and bob', 10_000);
  expect(got.map((m) => m.data)).toEqual(['once', 'bob']);
  expect((await history('/chat/dedup')).map((m) => m.data)).toEqual(['once', 'bob']);
}, 30_000);

it('refuses per event with the pipeline\'s codes and ignores a forged meta or id', async () => {
  const alice = await client('alice');
  const got: Envelope[] = [];
  await alice.subscribe('/chat/refuse', (m) => got.push(m));
  const r = await alice.publish('/chat/refuse', [
    { event: 'message', data: 'x'.repeat(40_000) },
    { event: 'message', data: 'ok' },
  ]);
  expect(r.failed).toEqual([{ identifier: expect.any(String), index: 0, code: 'HandlerError', message: expect.stringMatching(/^DATA_TOO_LARGE: .*at most 32768/) }]);
  expect(r.successful).toEqual([{ identifier: expect.any(String), index: 1, id: expect.any(String) }]);
  await waitFor(() => got.length === 1, 'ok', 10_000);
  expect(got[0].meta).toEqual({ uid: 'alice', umd: { name: 'alice' } });
}, 30_000);

it('with echo off drops its own socket publishes live and in a reconnect catch-up, by id, and delivers everybody else\'s', async () => {
  const net = flakyNetwork();
  const alice = await client('alice', { echo: false, WebSocket: net.WebSocket });
  const bob = await client('bob');
  const got: Envelope[] = [];
  await alice.subscribe('/chat/echo', (m) => got.push(m));
  await bob.subscribe('/chat/echo', () => undefined);
  await bob.publish('/chat/echo', { event: 'message', data: 'b0' });
  await waitFor(() => got.length === 1, 'b0', 10_000);
  const mine = await alice.publish('/chat/echo', { event: 'message', data: 'mine' });
  expect(mine.successful[0].id).toMatch(/^[0-7]/);
  net.online = false;
  net.current!.terminate();
  await waitFor(() => alice.state === 'reconnecting', 'alice offline');
  await bob.publish('/chat/echo', { event: 'message', data: 'b1' });
  net.online = true;
  await waitFor(() => got.length === 2, 'b1 from history', 15_000);
  await bob.publish('/chat/echo', { event: 'message', data: 'b2' });
  await waitFor(() => got.length === 3, 'b2 live', 10_000);
  expect(got.map((m) => m.data)).toEqual(['b0', 'b1', 'b2']);
}, 60_000);

it('sends socket publishes to EventBridge only where the namespace asks (socketPublishEvents), never on the client\'s word', async () => {
  const t = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'eve', channels: { '/feed/*': { subscribe: true, publish: true }, '/chat/*': { subscribe: true, publish: true } } });
  const c = await connect({ endpoint: server.url, auth: { type: 'token', token: t }, reconnect: false });
  clients.push(c);
  await c.subscribe('/feed/a', () => undefined);
  await c.subscribe('/chat/eb', () => undefined);
  const before = server.pubSubEvents.length;
  const fed = await c.publish('/feed/a', { event: 'post', data: { n: 1 } });
  const chatted = await c.publish('/chat/eb', { event: 'message', data: 'not to EventBridge' });
  expect(fed.failed).toEqual([]);
  expect(chatted.failed).toEqual([]);
  await waitFor(() => server.pubSubEvents.length > before, 'the EventBridge entry', 10_000);
  const sent = server.pubSubEvents.slice(before);
  expect(sent).toHaveLength(1);
  expect(sent[0].detail).toMatchObject({ id: fed.successful[0].id, channel: '/feed/a', event: 'post', data: { n: 1 }, meta: { uid: 'eve' } });
  // A client asking for it on another namespace is not obeyed (the handler refuses the field as FIELD_NOT_ALLOWED; this client does not even send it).
  await c.publish('/chat/eb', { event: 'message', data: 'x', emitPubSubEvent: true } as never);
  expect(server.pubSubEvents.slice(before)).toHaveLength(1);
});
