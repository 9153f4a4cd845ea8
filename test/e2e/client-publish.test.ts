/**
 * Stored client publishes end to end (npm start's dev server: emulator Event API,
 * authorizer, namespace handlers, the real publish and history functions on
 * dynalite, real sockets): a client publishes through POST /publish with its own
 * token, subscribers receive it with meta from the token, and one that was offline
 * gets it from history after reconnecting, in order.
 */
import { withoutTokenPrefix } from '../../functions/core/token-format';
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import type { Envelope } from '../../functions/core/envelope';
import { waitFor } from '../client/support/wait';
import { publishHttp, startTestServer, TEST_TOKEN_SECRET } from './helpers';
import { flakyNetwork } from '../support/flaky-network';

let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: EventsockClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 }, news: { defaultStoreSeconds: 3600 } } });
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.close();
});

const aliceToken = () =>
  signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'alice', umd: { name: 'Alice' }, channels: { '/chat/*': { subscribe: true, history: true, publish: ['message'] }, '/news/*': { publish: true } } });
const bobToken = () => signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'bob', channels: { '/chat/*': { subscribe: true, history: true, publish: true } } });

async function client(token: string, extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<EventsockClient> {
  const c = await connect({ endpoint: server.url, auth: { type: 'token', token }, history: { url: server.url }, publishApi: { url: server.url }, reconnect: { initialDelayMs: 20, maxDelayMs: 50 }, ...extra });
  clients.push(c);
  return c;
}

it('delivers a stored client publish live with meta from the token, and from history to a subscriber that was offline, in order', async () => {
  const net = flakyNetwork();
  const alice = await client(await aliceToken());
  const bob = await client(await bobToken(), { WebSocket: net.WebSocket });
  const got: Envelope[] = [];
  await bob.subscribe('/chat/room', (m) => got.push(m));

  const r1 = await alice.publish('/chat/room', { event: 'message', data: 'm1' }, { stored: true });
  expect(r1).toEqual({ successful: [{ identifier: expect.any(String), index: 0, id: expect.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/) }], failed: [] });
  await waitFor(() => got.length === 1, 'm1 live', 10_000);
  expect(got[0]).toEqual({ id: r1.successful[0].id, event: 'message', channel: '/chat/room', data: 'm1', meta: { uid: 'alice', umd: { name: 'Alice' } } });

  net.online = false;
  net.current!.terminate();
  await waitFor(() => bob.state === 'reconnecting', 'bob offline');
  const r2 = await alice.publish('/chat/room', [{ event: 'message', data: 'm2' }, { event: 'message', data: 'm3' }], { stored: true });
  expect(r2.failed).toEqual([]);
  expect(got).toHaveLength(1);

  net.online = true;
  await waitFor(() => got.length === 3, 'm2 and m3 from history', 15_000);
  const r4 = await alice.publish('/chat/room', { event: 'message', data: 'm4' }, { stored: true });
  await waitFor(() => got.length === 4, 'm4 live', 10_000);
  expect(got.map((m) => m.data)).toEqual(['m1', 'm2', 'm3', 'm4']);
  expect(got.map((m) => m.id)).toEqual([r1, r2, r4].flatMap((r) => r.successful.map((s) => s.id)));
  expect(got.every((m) => m.meta?.uid === 'alice')).toBe(true);
}, 60_000);

it('with echo off drops exactly its own stored messages, by id, and delivers everybody else\'s', async () => {
  const alice = await client(await aliceToken(), { echo: false });
  const bob = await client(await bobToken());
  const got: Envelope[] = [];
  await alice.subscribe('/chat/echo', (m) => got.push(m));
  const mine = await alice.publish('/chat/echo', { event: 'message', data: 'mine' }, { stored: true });
  const bobs = await bob.publish('/chat/echo', { event: 'message', data: 'bob' }, { stored: true });
  await waitFor(() => got.length >= 1, 'bob\'s message', 10_000);
  // A marker after both: anything of Alice's own would have arrived before it.
  await bob.publish('/chat/echo', { event: 'message', data: 'marker' }, { stored: true });
  await waitFor(() => got.length >= 2, 'marker', 10_000);
  expect(got.map((m) => [m.data, m.meta?.uid])).toEqual([
    ['bob', 'bob'],
    ['marker', 'bob'],
  ]);
  expect(got[0].id).toBe(bobs.successful[0].id);
  expect(mine.successful[0].id).not.toBe(bobs.successful[0].id);
}, 60_000);

it('with echo off holds live messages while a stored publish is unanswered, then drops its own by id and delivers the rest in order', async () => {
  const carol = await client(await bobToken());
  const seenByCarol: Envelope[] = [];
  await carol.subscribe('/chat/held', (m) => seenByCarol.push(m));
  const bob = await client(await bobToken());
  // Alice's answer is handed over only after her message and Bob's next one reached Carol:
  // by then both were sent to Alice's socket too, before she knew her message's id.
  let slowed = false;
  const slowFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (slowed) return res;
    slowed = true;
    const text = await res.text();
    const id = (JSON.parse(text) as { results: Array<{ id: string }> }).results[0].id;
    await waitFor(() => seenByCarol.some((m) => m.id === id), 'alice\'s message at carol', 10_000);
    await bob.publish('/chat/held', { event: 'message', data: 'bob-during' }, { stored: true });
    await waitFor(() => seenByCarol.some((m) => m.data === 'bob-during'), 'bob\'s message at carol', 10_000);
    return new Response(text, { status: res.status, headers: res.headers });
  };
  const alice = await client(await aliceToken(), { echo: false, publishApi: { url: server.url, fetch: slowFetch } });
  const got: Envelope[] = [];
  await alice.subscribe('/chat/held', (m) => got.push(m));
  const mine = await alice.publish('/chat/held', { event: 'message', data: 'mine', deduplicationId: 'held-1' }, { stored: true });
  await bob.publish('/chat/held', { event: 'message', data: 'bob-after' }, { stored: true });
  await waitFor(() => got.length >= 2, 'bob\'s two messages', 10_000);
  expect(got.map((m) => m.data)).toEqual(['bob-during', 'bob-after']);
  // The same deduplicationId from Alice again answers her first id; from Bob it is his own message.
  const again = await alice.publish('/chat/held', { event: 'message', data: 'mine again', deduplicationId: 'held-1' }, { stored: true });
  expect(again.successful[0]).toMatchObject({ id: mine.successful[0].id, duplicate: true, duplicateOf: { id: mine.successful[0].id, channel: '/chat/held' } });
  // Reused on another channel: nothing is delivered there, and the answer names the first channel.
  const elsewhere = await alice.publish('/chat/elsewhere', { event: 'message', data: 'elsewhere', deduplicationId: 'held-1' }, { stored: true });
  expect(elsewhere.successful[0]).toMatchObject({ id: mine.successful[0].id, duplicate: true, duplicateOf: { id: mine.successful[0].id, channel: '/chat/held' } });
  const bobSame = await bob.publish('/chat/held', { event: 'message', data: 'bob same id', deduplicationId: 'held-1' }, { stored: true });
  expect(bobSame.successful[0].duplicate).toBeUndefined();
  await waitFor(() => got.length >= 3, 'bob\'s message with the same deduplicationId', 10_000);
  expect(got.map((m) => m.data)).toEqual(['bob-during', 'bob-after', 'bob same id']);
}, 60_000);

it('refuses what the token does not grant, with the API\'s code, and keeps API keys working', async () => {
  const alice = await client(await aliceToken());
  await expect(alice.publish('/chat/room', { event: 'kick' }, { stored: true })).rejects.toMatchObject({ code: 'PUBLISH_REFUSED', errorType: 'EVENT_NOT_ALLOWED' });
  await expect(alice.publish('/news/today', { event: 'message' }, { stored: true })).rejects.toMatchObject({ code: 'PUBLISH_REFUSED', errorType: 'CLIENT_PUBLISH_DISABLED' });
  await expect(alice.publish('/chat/room', { event: 'message' }, { stored: false })).resolves.toMatchObject({ failed: [] });

  const raw = async (body: unknown, bearer: string) => {
    const res = await fetch(`${server.url}/publish`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string; field?: string } } };
  };
  const store = await raw({ channel: '/chat/room', event: 'message', store: 0 }, await aliceToken());
  expect([store.status, store.body.error?.code, store.body.error?.field]).toEqual([400, 'FIELD_NOT_ALLOWED', 'store']);
  const expired = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'alice', ttlSeconds: 60, now: Date.now() - 3_600_000, channels: { '/chat/*': { publish: true } } });
  const r401 = await raw({ channel: '/chat/room', event: 'message' }, expired);
  expect([r401.status, r401.body.error?.message]).toEqual([401, 'token refused (TOKEN_EXPIRED)']);
  // Another user's claims under Alice's signature.
  const [head, , sig] = withoutTokenPrefix(await aliceToken()).split('.');
  const tampered = `${head}.${Buffer.from(JSON.stringify({ exp: 4102444800, uid: 'admin', channels: { '/chat/*': { publish: true } } })).toString('base64url')}.${sig}`;
  const r401b = await raw({ channel: '/chat/room', event: 'message' }, tampered);
  expect([r401b.status, r401b.body.error?.message]).toEqual([401, 'token refused (SIGNATURE_INVALID)']);

  const backend = await publishHttp(server, { channel: '/news/today', event: 'headline', store: 0 });
  expect(backend.status).toBe(202);
}, 60_000);
