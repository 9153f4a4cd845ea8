/**
 * The client's presence option end to end: real clients over real WebSockets to the
 * emulator with the real publish and history handlers on dynalite. Heartbeats every 5 s
 * (timeout 12 s), sweeps every 200 ms.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connect, type EventsockClient } from '../../client/node';
import type { MemberChange } from '../../client/presence';
import { main } from '../../client/cli';
import { signToken } from '../../client/token';
import { startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';
import { waitFor } from '../client/support/wait';

let server: Awaited<ReturnType<typeof startTestServer>>;
const clients: EventsockClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ namespaces: { default: {}, room: { presence: true }, plain: {} }, presence: { heartbeatSeconds: 5 } }, { presenceSweepMs: 200 });
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.close();
});

const token = (uid: string) =>
  signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid, umd: { name: uid.toUpperCase() }, channels: { '/room/*': { subscribe: true }, '/plain/*': { subscribe: true } } } as Parameters<typeof signToken>[0]);

async function client(uid: string, opts: { presenceApis?: boolean } = {}): Promise<EventsockClient> {
  const t = await token(uid);
  const c = await connect({ endpoint: server.url, auth: { type: 'token', token: t }, ...(opts.presenceApis === false ? {} : { publishApi: { url: server.url }, history: { url: server.url } }) });
  clients.push(c);
  return c;
}

const uids = (ms: Array<{ uid: string }>) => ms.map((m) => m.uid);

async function httpMembers(channel: string): Promise<string[]> {
  const res = await fetch(`${server.url}/presence?channel=${encodeURIComponent(channel)}`, { headers: { authorization: `Bearer ${await token('reader')}` } });
  return uids(((await res.json()) as { members: Array<{ uid: string }> }).members);
}

it('two clients see each other in members() and the HTTP list; a clean close is seen by the other at once', async () => {
  const a = await client('ann');
  const b = await client('bob');
  const subA = await a.subscribe('/room/one', () => undefined, { presence: true });
  const changes: MemberChange[] = [];
  subA.onMember((c) => changes.push(c));
  const subB = await b.subscribe('/room/one', () => undefined, { presence: true });
  expect(uids(subB.members())).toEqual(['ann', 'bob']);
  expect(subB.members()[0]).toMatchObject({ uid: 'ann', umd: { name: 'ANN' } });
  await waitFor(() => uids(subA.members()).length === 2, 'uids(subA.members()).length === 2', 5000);
  expect(uids(subA.members())).toEqual(['ann', 'bob']);
  expect(changes).toEqual([{ type: 'added', uid: 'bob', umd: { name: 'BOB' } }]);
  expect(await httpMembers('/room/one')).toEqual(['ann', 'bob']);

  const started = Date.now();
  await b.close();
  await waitFor(() => uids(subA.members()).length === 1, 'uids(subA.members()).length === 1', 5000);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(changes[1]).toEqual({ type: 'removed', uid: 'bob', umd: { name: 'BOB' } });
  expect(await httpMembers('/room/one')).toEqual(['ann']);
  await subA.unsubscribe();
  expect(await httpMembers('/room/one')).toEqual([]);
}, 20_000);

it('one uid on two connections is one member; it stays until the last connection leaves', async () => {
  const w = await client('watch');
  const watch = await w.subscribe('/room/two', () => undefined, { presence: true });
  const c1 = await client('cat');
  const c2 = await client('cat');
  await c1.subscribe('/room/two', () => undefined, { presence: true });
  const s2 = await c2.subscribe('/room/two', () => undefined, { presence: true });
  await waitFor(() => uids(watch.members()).includes('cat'), "uids(watch.members()).includes('cat')", 5000);
  expect(await httpMembers('/room/two')).toEqual(['cat', 'watch']);
  await c1.close();
  await new Promise((r) => setTimeout(r, 500));
  expect(uids(watch.members())).toEqual(['cat', 'watch']);
  await s2.unsubscribe();
  await waitFor(() => !uids(watch.members()).includes('cat'), "!uids(watch.members()).includes('cat')", 5000);
  expect(await httpMembers('/room/two')).toEqual(['watch']);
}, 20_000);

it('a killed process (SIGKILL, no leave) is removed within the heartbeat timeout plus a sweep', async () => {
  const w = await client('eye');
  const watch = await w.subscribe('/room/kill', () => undefined, { presence: true });
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'client-child.ts'), server.url, await token('doomed'), '/room/kill'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  child.stderr.on('data', (d) => (out += String(d)));
  await waitFor(() => out.includes('joined') || out.includes('failed'), "out.includes('joined') || out.includes('failed')", 20_000);
  expect(out).toContain('joined');
  await waitFor(() => uids(watch.members()).includes('doomed'), "uids(watch.members()).includes('doomed')", 5000);
  const killedAt = Date.now();
  child.kill('SIGKILL');
  // timeout 12 s (2 x 5 + 2) plus one 200 ms sweep; the last heartbeat may be up to 5 s old.
  await waitFor(() => !uids(watch.members()).includes('doomed'), "!uids(watch.members()).includes('doomed')", 20_000);
  const took = Date.now() - killedAt;
  expect(took).toBeGreaterThan(5_000); // not a clean leave: it waited for the timeout
  expect(took).toBeLessThan(12_000 + 200 + 2_000);
  expect(await httpMembers('/room/kill')).toEqual(['eye']);
}, 45_000);

it('refuses presence with a code: namespace without presence, wildcard, no publishApi/history', async () => {
  const c = await client('dan');
  const off = await c.subscribe('/plain/x', () => undefined, { presence: true }).then(() => undefined, (e) => e);
  expect(off).toMatchObject({ code: 'PRESENCE_FAILED', errors: [{ errorType: 'PRESENCE_DISABLED' }] });
  const wild = await c.subscribe('/room/*', () => undefined, { presence: true }).then(() => undefined, (e) => e);
  expect(wild).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'presence' });
  const bare = await client('eve', { presenceApis: false });
  const none = await bare.subscribe('/room/x', () => undefined, { presence: true }).then(() => undefined, (e) => e);
  expect(none).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('publishApi and history') });
  expect(await httpMembers('/room/x')).toEqual([]);
}, 20_000);

it('eventsock presence <channel> lists the members as JSON lines, with the count on stderr', async () => {
  const c = await client('fay');
  await c.subscribe('/room/cli', () => undefined, { presence: true });
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l), env: {} };
  expect(await main(['presence', '/room/cli', '--endpoint', server.url, '--token', await token('reader')], io)).toBe(0);
  expect(out.map((l) => JSON.parse(l))).toEqual([{ uid: 'fay', umd: { name: 'FAY' }, since: expect.any(String) }]);
  expect(err).toEqual(['eventsock: 1 member']);
  expect(await main(['presence', '/plain/x', '--endpoint', server.url, '--token', await token('reader')], io)).toBe(1);
  expect(err[1]).toContain('PRESENCE_DISABLED');
  expect(err.join('\n')).not.toContain(await token('reader'));
});
