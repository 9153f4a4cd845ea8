/**
 * The DynamoDB cost of presence, as the README's cost notes state it, counted at the
 * emulator's dynalite (DevServer.dynamoRequests): a heartbeat of a present member is one
 * write and the revocation read; a join and a last leave add the count, the member item
 * and the announcement's head write. bench/presence.bench.ts measures the same at 10,000
 * members. The sweep timer is the default 60 s, so no sweep runs during these requests.
 */
import { signToken } from '../../client/token';
import { startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';

let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  server = await startTestServer({ namespaces: { default: {}, room: { presence: true } } });
}, 30_000);
afterAll(async () => server?.close());

async function requestsOf(f: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = server.dynamoRequests();
  await f();
  const after = server.dynamoRequests();
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
}

async function presence(uid: string, action: string, connectionId: string): Promise<unknown> {
  const token = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid, channels: { '/room/*': { subscribe: true } } });
  const res = await fetch(`${server.url}/presence`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ action, channels: ['/room/cost'], connectionId }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { channels: Array<{ status: string }> }).channels[0].status;
}

it('counts requests by operation at dynalite', async () => {
  expect(server.dynamoRequests()).toEqual(expect.objectContaining({ CreateTable: expect.any(Number) }));
  const r = await requestsOf(() => fetch(`${server.url}/presence?channel=/room/cost&count=only`, { headers: { authorization: `Bearer ${server.devToken}` } }));
  // The count item, and the token's revocation check (the dev token has a uid).
  expect(r).toEqual({ GetItem: 2 });
});

it('a heartbeat is one write (and the revocation read); a join and a last leave are the README figures', async () => {
  let status: unknown;
  // Join: the heartbeat's UpdateItem fails its condition, then the count ADD and the member Put, and the announcement's head write.
  expect(await requestsOf(async () => (status = await presence('ana', 'join', 'conn-ana-1')))).toEqual({ GetItem: 1, UpdateItem: 2, PutItem: 2 });
  expect(status).toBe('joined');
  expect(await requestsOf(async () => (status = await presence('ana', 'heartbeat', 'conn-ana-1')))).toEqual({ GetItem: 1, UpdateItem: 1 });
  expect(status).toBe('present');
  // A second connection of the same uid is a heartbeat too.
  expect(await requestsOf(async () => (status = await presence('ana', 'join', 'conn-ana-2')))).toEqual({ GetItem: 1, UpdateItem: 1 });
  expect(status).toBe('present');
  // Leave of one of two connections: one write.
  expect(await requestsOf(async () => (status = await presence('ana', 'leave', 'conn-ana-2')))).toEqual({ GetItem: 1, UpdateItem: 1 });
  expect(status).toBe('present');
  // The last leave: REMOVE the connection, delete the member, the count, and the announcement's head write.
  expect(await requestsOf(async () => (status = await presence('ana', 'leave', 'conn-ana-1')))).toEqual({ GetItem: 1, UpdateItem: 2, DeleteItem: 1, PutItem: 1 });
  expect(status).toBe('left');
});
