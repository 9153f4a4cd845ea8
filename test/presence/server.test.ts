/**
 * Presence and revocation through the emulator with the real handlers on dynalite:
 * POST /presence (publish function), GET /presence (history function), member events
 * delivered over real WebSockets, the sweep, POST /revoke and invoke { revoke }.
 */
import { signToken } from '../../client/token';
import { RawSocket, signedInvoke, startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';

let server: Awaited<ReturnType<typeof startTestServer>>;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startTestServer(
    { namespaces: { default: {}, room: { presence: true, presenceEvents: true }, plain: {} }, presence: { heartbeatSeconds: 5, maxMembersPerChannel: 3 } },
    { presenceSweepMs: 200 },
  );
}, 30_000);
afterAll(async () => {
  for (const s of sockets) await s.close();
  await server?.close();
});

const token = (uid: string | undefined, extra: Record<string, unknown> = {}) =>
  signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', ...(uid ? { uid } : {}), umd: uid ? { name: uid.toUpperCase() } : undefined, channels: { '/room/*': { subscribe: true }, '/plain/*': { subscribe: true } }, ...extra } as Parameters<typeof signToken>[0]);

async function presence(t: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/presence`, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function members(t: string, query: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/presence?${query}`, { headers: { authorization: `Bearer ${t}` } });
  return { status: res.status, body: await res.json() };
}

async function watcher(channel: string): Promise<RawSocket> {
  const t = await token('watcher');
  const auth = { host: server.httpHost, Authorization: t };
  const s = await RawSocket.connect(server.wsUrl, auth);
  sockets.push(s);
  await s.type('connection_ack');
  expect((await s.subscribe('w', channel, auth)).type).toBe('subscribe_success');
  return s;
}

const memberEvents = (s: RawSocket) => s.events('w').filter((e) => String(e.event).startsWith('eventsock.member_'));

it('joins, lists, counts, heartbeats without a second member_added, and leaves with member_removed', async () => {
  const w = await watcher('/room/a');
  const alice = await token('alice');
  const joined = await presence(alice, { action: 'join', channels: ['/room/a'], connectionId: 'conn-alice-1' });
  expect(joined).toEqual({ status: 200, body: { heartbeatSeconds: 5, timeoutSeconds: 12, channels: [{ channel: '/room/a', status: 'joined' }] } });
  const [added] = await w.waitEvents('w', 1);
  expect(added).toEqual({ id: expect.any(String), event: 'eventsock.member_added', channel: '/room/a', data: { uid: 'alice', umd: { name: 'ALICE' } }, meta: null });

  expect((await presence(alice, { action: 'heartbeat', channels: ['/room/a'], connectionId: 'conn-alice-1' })).body.channels).toEqual([{ channel: '/room/a', status: 'present' }]);
  // A second connection of the same uid is the same member.
  expect((await presence(alice, { action: 'join', channels: ['/room/a'], connectionId: 'conn-alice-2' })).body.channels).toEqual([{ channel: '/room/a', status: 'present' }]);
  const list = await members(alice, 'channel=/room/a');
  expect(list).toEqual({ status: 200, body: { channel: '/room/a', count: 1, members: [{ uid: 'alice', umd: { name: 'ALICE' }, since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }] } });
  expect((await members(alice, 'channel=/room/a&count=only')).body).toEqual({ channel: '/room/a', count: 1 });

  // The first connection leaving keeps the member; the last one removes it.
  expect((await presence(alice, { action: 'leave', channels: ['/room/a'], connectionId: 'conn-alice-1' })).body.channels).toEqual([{ channel: '/room/a', status: 'present' }]);
  expect((await presence(alice, { action: 'leave', channels: ['/room/a'], connectionId: 'conn-alice-2' })).body.channels).toEqual([{ channel: '/room/a', status: 'left' }]);
  expect((await presence(alice, { action: 'leave', channels: ['/room/a'], connectionId: 'conn-alice-2' })).body.channels).toEqual([{ channel: '/room/a', status: 'absent' }]);
  await w.waitEvents('w', 2);
  expect(memberEvents(w).map((e) => [e.event, (e.data as { uid: string }).uid])).toEqual([
    ['eventsock.member_added', 'alice'],
    ['eventsock.member_removed', 'alice'],
  ]);
  expect((await members(alice, 'channel=/room/a')).body).toEqual({ channel: '/room/a', count: 0, members: [] });
  // presenceEvents: the joins and leaves went to EventBridge too.
  const bus = server.pubSubEvents.filter((e) => e.detailType === 'eventsock.presence' && (e.detail as { channel: string }).channel === '/room/a');
  expect(bus.map((e) => (e.detail as { event: string }).event)).toEqual(['eventsock.member_added', 'eventsock.member_removed']);
});

it('removes a member whose heartbeats stopped at the next sweep after the timeout, announcing it', async () => {
  const w = await watcher('/room/sweep');
  const carol = await token('carol');
  await presence(carol, { action: 'join', channels: ['/room/sweep'], connectionId: 'conn-carol-1' });
  await w.waitEvents('w', 1);
  const joinedAt = Date.now();
  await w.waitEvents('w', 2, 20_000);
  const gone = Date.now() - joinedAt;
  expect(memberEvents(w).map((e) => e.event)).toEqual(['eventsock.member_added', 'eventsock.member_removed']);
  // timeout 12 s (2 x 5 + 2), sweeps every 200 ms here.
  expect(gone).toBeGreaterThanOrEqual(11_000);
  expect((await members(carol, 'channel=/room/sweep')).body.count).toBe(0);
}, 30_000);

it('refuses with codes: no uid, presence off, not granted, wildcard, member limit, forged uid field, API key', async () => {
  const t = await token('dave');
  expect((await presence(await token(undefined), { action: 'join', channels: ['/room/x'], connectionId: 'conn-nouid-1' })).body.error.code).toBe('PRESENCE_NO_UID');
  const off = await presence(t, { action: 'join', channels: ['/plain/x'], connectionId: 'conn-dave-1' });
  expect(off).toEqual({ status: 403, body: { error: { code: 'PRESENCE_DISABLED', message: expect.stringContaining('namespaces.plain.presence'), field: 'channels[0]' } } });
  const other = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'eve', channels: { '/room/mine': { subscribe: true } } });
  expect((await presence(other, { action: 'join', channels: ['/room/mine', '/room/yours'], connectionId: 'conn-eve-1' })).body.error).toMatchObject({ code: 'SUBSCRIBE_NOT_GRANTED', field: 'channels[1]' });
  expect((await presence(t, { action: 'join', channels: ['/room/*'], connectionId: 'conn-dave-1' })).body.error.code).toBe('PRESENCE_WILDCARD');
  expect((await presence(t, { action: 'join', channels: ['/room/x'], connectionId: 'conn-dave-1', uid: 'mallory' })).body.error).toMatchObject({ code: 'UNKNOWN_FIELD', field: 'uid' });
  expect((await presence(t, { action: 'join', channels: ['/room/x'], connectionId: 'x' })).body.error).toMatchObject({ code: 'INVALID_FIELD', field: 'connectionId' });
  expect((await presence(server.devApiKey, { action: 'join', channels: ['/room/x'], connectionId: 'conn-key-1' })).body.error.code).toBe('PRESENCE_NEEDS_TOKEN');
  expect((await members(t, 'channel=/plain/x')).body.error.code).toBe('PRESENCE_DISABLED');

  for (const uid of ['m1', 'm2', 'm3']) expect((await presence(await token(uid), { action: 'join', channels: ['/room/full'], connectionId: `conn-${uid}-1` })).status).toBe(200);
  const full = await presence(t, { action: 'join', channels: ['/room/full', '/room/free'], connectionId: 'conn-dave-1' });
  expect(full.status).toBe(207);
  expect(full.body.channels).toEqual([
    { channel: '/room/full', error: { code: 'MEMBER_LIMIT', message: expect.stringContaining('3 members'), limit: 3 } },
    { channel: '/room/free', status: 'joined' },
  ]);
  expect((await members(t, 'channel=/room/full')).body.count).toBe(3);
});

it('pages members', async () => {
  for (const uid of ['p1', 'p2', 'p3']) await presence(await token(uid), { action: 'join', channels: ['/room/paged'], connectionId: `conn-${uid}-1` });
  const t = await token('reader');
  const first = await members(t, 'channel=/room/paged&limit=2');
  expect(first.body.members.map((m: { uid: string }) => m.uid)).toEqual(['p1', 'p2']);
  expect(first.body.count).toBe(3);
  const second = await members(t, `channel=/room/paged&limit=2&after=${encodeURIComponent(first.body.next)}`);
  expect(second.body.members.map((m: { uid: string }) => m.uid)).toEqual(['p3']);
  expect(second.body.next).toBeUndefined();
});

it('a revoked user is refused on its next subscribe, heartbeat and history call, and leaves presence at once', async () => {
  const w = await watcher('/room/rev');
  const frank = await token('frank');
  await presence(frank, { action: 'join', channels: ['/room/rev'], connectionId: 'conn-frank-1' });
  await w.waitEvents('w', 1);
  const auth = { host: server.httpHost, Authorization: frank };
  const s = await RawSocket.connect(server.wsUrl, auth);
  sockets.push(s);
  await s.type('connection_ack');
  expect((await s.subscribe('before', '/room/rev', auth)).type).toBe('subscribe_success');

  // A client token may not revoke; the API key may.
  const denied = await fetch(`${server.url}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${frank}` }, body: JSON.stringify({ uid: 'frank' }) });
  expect(denied.status).toBe(403);
  const res = await fetch(`${server.url}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${server.devApiKey}` }, body: JSON.stringify({ uid: 'frank', expiresInSeconds: 600 }) });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ revoked: { uid: 'frank' }, expiresAt: expect.any(String), presenceRemoved: 1 });
  await w.waitEvents('w', 2);
  expect(memberEvents(w).map((e) => e.event)).toEqual(['eventsock.member_added', 'eventsock.member_removed']);

  expect((await s.subscribe('after', '/room/rev2', auth)).type).toBe('subscribe_error');
  const hb = await presence(frank, { action: 'heartbeat', channels: ['/room/rev'], connectionId: 'conn-frank-1' });
  expect(hb).toEqual({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'token refused (TOKEN_REVOKED)' } } });
  expect((await members(frank, 'channel=/room/rev')).body.error.message).toBe('token refused (TOKEN_REVOKED)');
  expect(server.logs.entries.some((l) => JSON.stringify(l).includes(frank))).toBe(false);
});

it('revokes one token by jti over a SigV4-signed invoke, leaving the same uid with another token alone', async () => {
  const old = await token('gina', { jti: 'gina-token-1' });
  const fresh = await token('gina', { jti: 'gina-token-2' });
  const res = await signedInvoke(`${server.url}/2015-03-31/functions/publish/invocations`, JSON.stringify({ revoke: { jti: 'gina-token-1' } }), { region: server.settings.region });
  expect(await res.json()).toEqual({ revoked: { jti: 'gina-token-1' }, expiresAt: expect.any(String), presenceRemoved: 0 });
  expect((await members(old, 'channel=/room/j')).status).toBe(401);
  expect((await members(fresh, 'channel=/room/j')).status).toBe(200);
  const bad = await signedInvoke(`${server.url}/2015-03-31/functions/publish/invocations`, JSON.stringify({ revoke: { uid: 'a', jti: 'b' } }), { region: server.settings.region });
  expect((await bad.json()).error).toMatchObject({ code: 'INVALID_FIELD' });
});

it('a forged uid in a published payload changes no membership', async () => {
  const t = await token('henry');
  const before = (await members(t, 'channel=/room/forge')).body.count;
  const res = await fetch(`${server.url}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.devApiKey}` },
    body: JSON.stringify({ channel: '/room/forge', event: 'eventsock.member_added', data: { uid: 'mallory' } }),
  });
  expect(res.status).toBe(400);
  expect((await members(t, 'channel=/room/forge')).body).toEqual({ channel: '/room/forge', count: before, members: [] });
});
