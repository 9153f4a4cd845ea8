/**
 * Catch-up of a wildcard subscription end to end (the dev server: emulator Event API,
 * authorizer, the real publish and history functions on dynalite with the messages
 * table's namespace index, real sockets): a client subscribed to `/chat/*` loses its
 * network while messages are stored on a channel it has seen and on one it has never
 * received anything on; after it comes back it delivers both, in id order, each once,
 * before live messages.
 */
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import type { EventsockClientError } from '../../client/errors';
import type { Envelope } from '../../functions/core/envelope';
import { waitFor } from '../client/support/wait';
import { publishHttp, startTestServer, TEST_TOKEN_SECRET } from './helpers';
import { flakyNetwork } from '../support/flaky-network';

let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: EventsockClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ namespaces: { default: {}, chat: { defaultStoreSeconds: 3600 } } });
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.close();
});

async function store(channel: string, data: string): Promise<string> {
  const r = await publishHttp(server, { channel, event: 'message', data });
  expect([r.status, typeof r.body.id]).toEqual([202, 'string']);
  return r.body.id as string;
}

/** A client whose network can be cut: while offline, connections go to a closed port. */
async function flakyClient(channels: Record<string, { subscribe?: boolean; history?: boolean }>) {
  const net = flakyNetwork();
  const token = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', channels });
  const c = await connect({
    endpoint: server.url,
    auth: { type: 'token', token },
    WebSocket: net.WebSocket,
    history: { url: server.url },
    reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
  });
  clients.push(c);
  const errors: EventsockClientError[] = [];
  // Connection errors are expected here (the network is cut); history errors are not.
  c.on('error', (e: EventsockClientError) => e.code === 'HISTORY_FAILED' && errors.push(e));
  const offline = async () => {
    net.online = false;
    net.current!.terminate();
    await waitFor(() => c.state === 'reconnecting', 'offline');
  };
  return { c, net, errors, offline };
}

it('a /chat/* subscription catches up on a channel it never saw and on a seen one, in id order, once, before live messages', async () => {
  const { c, net, errors, offline } = await flakyClient({ '/chat/*': { subscribe: true, history: true } });
  const got: Envelope[] = [];
  await c.subscribe('/chat/*', (m) => got.push(m));

  const m1 = await store('/chat/room-1', 'm1');
  await waitFor(() => got.length === 1, 'm1 live', 10_000);

  await offline();
  const m2 = await store('/chat/new-room', 'm2');
  const m3 = await store('/chat/room-1', 'm3');
  const m4 = await store('/chat/new-room/deeper', 'm4');
  await store('/default/elsewhere', 'not chat');
  expect(got).toHaveLength(1);

  net.online = true;
  await waitFor(() => got.length >= 4, 'm2, m3 and m4 from history', 15_000);
  const m5 = await store('/chat/room-2', 'm5');
  await waitFor(() => got.length >= 5, 'm5 live', 10_000);
  // A marker after everything: a duplicate would have arrived before it.
  const m6 = await store('/chat/room-1', 'marker');
  await waitFor(() => got.some((m) => m.id === m6), 'marker live', 10_000);
  expect(got.map((m) => m.data)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'marker']);
  expect(got.map((m) => m.id)).toEqual([m1, m2, m3, m4, m5, m6]);
  expect(got.map((m) => m.channel)).toEqual(['/chat/room-1', '/chat/new-room', '/chat/room-1', '/chat/new-room/deeper', '/chat/room-2', '/chat/room-1']);
  expect(errors).toEqual([]);
}, 60_000);

it('falls back to the channels it saw when the token grants history on some channels only', async () => {
  const { c, net, errors, offline } = await flakyClient({ '/chat/*': { subscribe: true }, '/chat/fb-seen': { history: true } });
  const got: Envelope[] = [];
  await c.subscribe('/chat/*', (m) => got.push(m));
  const m1 = await store('/chat/fb-seen', 'm1');
  await waitFor(() => got.length === 1, 'm1 live', 10_000);

  await offline();
  const m2 = await store('/chat/fb-seen', 'm2');
  net.online = true;
  await waitFor(() => got.length >= 2, 'm2 from history of the seen channel', 15_000);
  const m3 = await store('/chat/fb-seen', 'marker');
  await waitFor(() => got.some((m) => m.id === m3), 'marker live', 10_000);
  expect(got.map((m) => m.id)).toEqual([m1, m2, m3]);
  // The pattern was asked first and refused (the grant does not cover /chat/*), then the seen channel was read.
  expect(server.logs.entries.filter((e) => e.msg === 'history refused' && e.channel === '/chat/*').map((e) => e.reason)).toEqual(['NOT_GRANTED']);
  // The refused pattern read is not an error the application sees: the fallback answered.
  expect(errors).toEqual([]);
}, 60_000);
