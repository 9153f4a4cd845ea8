/**
 * Reconnects and presence: a client whose network drops for less than the heartbeat
 * timeout comes back as the same member, with no member_removed / member_added at the
 * other members; one that stays away longer is swept (member_removed) and joins again
 * when it is back (member_added); what a member missed while away reaches its own
 * onMember listeners from the list it re-reads. Real clients over real WebSockets to the emulator
 * with the real handlers on dynalite; the network is cut with test/support/flaky-network.
 * Heartbeats every 5 s, so the timeout is 12 s (2 x 5 + 2); sweeps every 200 ms.
 */
import { connect, type EventsockClient } from '../../client/node';
import type { MemberChange } from '../../client/presence';
import { signToken } from '../../client/token';
import { startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';
import { flakyNetwork } from '../support/flaky-network';
import { waitFor } from '../client/support/wait';

const TIMEOUT_MS = 12_000;
let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: EventsockClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ namespaces: { default: {}, room: { presence: true } }, presence: { heartbeatSeconds: 5 } }, { presenceSweepMs: 200 });
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.close();
});

const token = (uid: string) => signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid, umd: { name: uid }, channels: { '/room/*': { subscribe: true } } } as Parameters<typeof signToken>[0]);
const uids = (ms: Array<{ uid: string }>) => ms.map((m) => m.uid);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpMembers(channel: string): Promise<string[]> {
  const res = await fetch(`${server.url}/presence?channel=${encodeURIComponent(channel)}`, { headers: { authorization: `Bearer ${await token('reader')}` } });
  return uids(((await res.json()) as { members: Array<{ uid: string }> }).members);
}

/** A watcher that records every member change it sees on `channel`, and a flaky-network member. */
async function watcherAndMember(channel: string, uid: string) {
  const w = await connect({ endpoint: server.url, auth: { type: 'token', token: await token(`watch-${uid}`) }, publishApi: { url: server.url }, history: { url: server.url } });
  clients.push(w);
  const watch = await w.subscribe(channel, () => undefined, { presence: true });
  const seen: MemberChange[] = [];
  watch.onMember((c) => seen.push(c));

  const net = flakyNetwork();
  const m = await connect({
    endpoint: server.url,
    auth: { type: 'token', token: await token(uid) },
    publishApi: { url: server.url },
    history: { url: server.url },
    WebSocket: net.WebSocket,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  clients.push(m);
  const states: string[] = [];
  m.on('state', (s) => states.push(s));
  const sub = await m.subscribe(channel, () => undefined, { presence: true });
  const own: MemberChange[] = [];
  sub.onMember((c) => own.push(c));
  await waitFor(() => uids(watch.members()).includes(uid), `${uid} in the watcher's members()`, 5000);
  expect(seen).toEqual([{ type: 'added', uid, umd: { name: uid } }]);
  return { watch, seen, net, m, sub, own, states };
}

it('a reconnect shorter than the timeout shows no member_removed / member_added at the other member', async () => {
  const { watch, seen, net, m, sub, own, states } = await watcherAndMember('/room/short', 'gus');

  net.online = false;
  net.current!.terminate();
  await waitFor(() => m.state === 'reconnecting', 'the member is reconnecting', 5000);
  // Away for 4 s: most of a heartbeat interval (5 s), a third of the timeout (12 s);
  // the sweep runs 20 times meanwhile.
  // Meanwhile ivy joins: gus misses her member_added on the socket.
  const ivy = await connect({ endpoint: server.url, auth: { type: 'token', token: await token('ivy') }, publishApi: { url: server.url }, history: { url: server.url } });
  clients.push(ivy);
  await ivy.subscribe('/room/short', () => undefined, { presence: true });
  await sleep(4000);
  expect(await httpMembers('/room/short')).toEqual(['gus', 'ivy', 'watch-gus']);
  expect(uids(sub.members())).toEqual(['gus', 'watch-gus']);
  net.online = true;
  await waitFor(() => m.state === 'connected', 'the member is connected again', 10_000);
  expect(states).toEqual(expect.arrayContaining(['reconnecting', 'connected']));

  // Past the next heartbeat and many sweeps: still one member, never removed.
  await sleep(6000);
  expect(seen).toEqual([
    { type: 'added', uid: 'gus', umd: { name: 'gus' } },
    { type: 'added', uid: 'ivy', umd: { name: 'ivy' } },
  ]);
  expect(uids(watch.members())).toEqual(['gus', 'ivy', 'watch-gus']);
  expect(await httpMembers('/room/short')).toEqual(['gus', 'ivy', 'watch-gus']);
  // The member's own list, re-read after the reconnect, has ivy; its listeners heard of
  // her (missed on the socket, found in the list) and of nothing else.
  expect(uids(sub.members())).toEqual(['gus', 'ivy', 'watch-gus']);
  expect(own).toEqual([{ type: 'added', uid: 'ivy', umd: { name: 'ivy' } }]);

  // And it still works: a clean close now is a leave the watcher sees at once.
  await m.close();
  await waitFor(() => !uids(watch.members()).includes('gus'), 'gus left', 5000);
  expect(seen[2]).toEqual({ type: 'removed', uid: 'gus', umd: { name: 'gus' } });
}, 40_000);

it('a gap longer than the timeout is a leave (swept) and, when the member is back, a join', async () => {
  const { watch, seen, net, m, sub, own } = await watcherAndMember('/room/long', 'hal');

  const cutAt = Date.now();
  net.online = false;
  net.current!.terminate();
  await waitFor(() => !uids(watch.members()).includes('hal'), 'hal swept', TIMEOUT_MS + 5000);
  const took = Date.now() - cutAt;
  // The last heartbeat may be up to one interval (5 s) older than the cut.
  expect(took).toBeGreaterThan(TIMEOUT_MS - 5000);
  expect(took).toBeLessThan(TIMEOUT_MS + 200 + 2000);
  expect(seen[1]).toEqual({ type: 'removed', uid: 'hal', umd: { name: 'hal' } });
  expect(await httpMembers('/room/long')).toEqual(['watch-hal']);

  net.online = true;
  await waitFor(() => m.state === 'connected', 'hal connected again', 10_000);
  await waitFor(() => uids(watch.members()).includes('hal'), 'hal joined again', 5000);
  expect(seen.slice(2)).toEqual([{ type: 'added', uid: 'hal', umd: { name: 'hal' } }]);
  expect(await httpMembers('/room/long')).toEqual(['hal', 'watch-hal']);
  await waitFor(() => uids(sub.members()).length === 2, "hal's own list re-read", 5000);
  expect(uids(sub.members())).toEqual(['hal', 'watch-hal']);
  // hal's own view: the same two members before and after, so the re-read announces
  // nothing; it may hear its own re-join live (if its subscription was back first), never a removal.
  expect(own.filter((c) => c.type === 'removed' || c.uid !== 'hal')).toEqual([]);
}, 45_000);
