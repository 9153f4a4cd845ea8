import { connect, type EventsockClient, type Subscription } from '../../client/node';
import type { Envelope } from '../../functions/core/envelope';
import { EventsockClientError } from '../../client/errors';
import { EchoFilter, REMEMBER_MS } from '../../client/echo';
import { monotonicUlid } from '../../client/ids';
import { isMessageId } from '../../functions/core/message';
import { verifyEventAuthorization } from '../../local/sigv4-verify';
import { startScriptedServer, type ScriptedServer } from './support/scripted-server';
import { waitFor } from './support/wait';

let server: ScriptedServer;
const clients: EventsockClient[] = [];
const fast = { reconnect: { initialDelayMs: 20, maxDelayMs: 50 } };

beforeEach(async () => {
  server = await startScriptedServer();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server.close();
});

async function open(extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<EventsockClient> {
  const c = await connect({ endpoint: server.url, auth: { type: 'token', token: 'tok' }, ...fast, ...extra });
  clients.push(c);
  return c;
}

const decodeHeader = (p: string) => JSON.parse(Buffer.from(p.slice('header-'.length), 'base64url').toString('utf8'));

describe('connect and subscribe', () => {
  it('offers the AppSync subprotocol and the header- authorization, then delivers envelopes', async () => {
    const c = await open();
    const got: Envelope[] = [];
    await c.subscribe('default/room', (m) => got.push(m));
    expect(server.protocols[0][0]).toBe('aws-appsync-event-ws');
    expect(decodeHeader(server.protocols[0][1])).toEqual({ host: `127.0.0.1:${server.port}`, Authorization: 'tok' });
    const sent = server.frames.find((f) => f.type === 'subscribe')!;
    expect(sent).toMatchObject({ channel: '/default/room', authorization: { host: `127.0.0.1:${server.port}`, Authorization: 'tok' } });
    const env = server.publish('/default/room', 'chat.message', { text: 'hi' });
    await waitFor(() => got.length === 1);
    expect(got[0]).toEqual(env);
    expect(c.state).toBe('connected');
  });

  it('an async-iterator subscription yields messages in order and ends on unsubscribe', async () => {
    const c = await open();
    const sub = await c.subscribe<{ n: number }>('/default/it');
    server.publish('/default/it', 'e', { n: 1 });
    server.publish('/default/it', 'e', { n: 2 });
    const seen: number[] = [];
    for await (const m of sub) {
      seen.push(m.data!.n);
      if (seen.length === 2) break; // return() unsubscribes
    }
    expect(seen).toEqual([1, 2]);
    await waitFor(() => server.frames.some((f) => f.type === 'unsubscribe' && f.id === sub.id), 'unsubscribe frame');
  });

  it('unsubscribe stops delivery to that handler only', async () => {
    const c = await open();
    const a: Envelope[] = [];
    const b: Envelope[] = [];
    const subA = await c.subscribe('/default/x', (m) => a.push(m));
    await c.subscribe('/default/x', (m) => b.push(m));
    await subA.unsubscribe();
    server.publish('/default/x', 'e', 1);
    await waitFor(() => b.length === 1);
    expect(a).toHaveLength(0);
  });

  it('one refused subscription rejects alone; the others keep receiving', async () => {
    const c = await open();
    server.refuseChannels.add('/default/secret');
    const ok: Envelope[] = [];
    await c.subscribe('/default/open', (m) => ok.push(m));
    const refused = await c.subscribe('/default/secret', () => undefined).catch((e) => e);
    expect(refused).toBeInstanceOf(EventsockClientError);
    expect(refused).toMatchObject({ name: 'SubscribeError', code: 'SUBSCRIBE_REFUSED', errorType: 'UnauthorizedException', channel: '/default/secret' });
    expect(refused.message).not.toContain('tok');
    server.publish('/default/open', 'e', 'still here');
    await waitFor(() => ok.length === 1);
    expect(c.state).toBe('connected');
  });

  it('bad arguments are refused before anything is sent, naming the field and limit', async () => {
    const c = await open();
    await expect(c.subscribe('/default/a/*/b', () => undefined)).rejects.toMatchObject({ code: 'INVALID_CHANNEL', field: 'channel' });
    await expect(c.publish('/default/a', Array.from({ length: 6 }, () => ({ event: 'e' })))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'events', limit: 5 });
    await expect(c.publish('/default/a', { event: 'eventsock.x' })).rejects.toMatchObject({ code: 'RESERVED_EVENT', field: 'events[0].event' });
    await expect(c.publish('/default/a', [{ event: 'e' }, { event: 'Eventsock.system' }])).rejects.toMatchObject({ code: 'RESERVED_EVENT', field: 'events[1].event' });
    await expect(c.publish('/default/*', { event: 'e' })).rejects.toMatchObject({ code: 'INVALID_CHANNEL' });
    await expect(c.publish('/default/a', { event: 'e', data: 'x'.repeat(250 * 1024) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'events[0]', limit: 240 * 1024 });
    expect(server.frames.filter((f) => f.type === 'publish')).toHaveLength(0);
  });
});

describe('connection failures', () => {
  it('connection_error on the first connect rejects connect() with the server error type', async () => {
    server.refuseConnect = true;
    const err = await connect({ endpoint: server.url, auth: { type: 'apiKey', apiKey: 'da2-secret' }, ...fast }).catch((e) => e);
    expect(err).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_REFUSED', errorType: 'UnauthorizedException', errorCode: 401 });
    expect(err.message).not.toContain('da2-secret');
  });

  it('a port with nothing listening rejects connect() instead of retrying forever', async () => {
    const port = server.port;
    await server.close();
    await expect(connect({ endpoint: `http://127.0.0.1:${port}`, auth: { type: 'token', token: 't' }, ...fast })).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    server = await startScriptedServer();
  });
});

describe('reconnect', () => {
  it('restores subscriptions with the same ids after the server drops the connection, with no duplicate handlers', async () => {
    let n = 0;
    const c = await open({ auth: { type: 'token', token: () => `tok-${++n}` } });
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const got: Envelope[] = [];
    const sub = await c.subscribe('/default/r', (m) => got.push(m));
    server.dropAll();
    await waitFor(() => states.includes('reconnecting') && c.state === 'connected', 'reconnected');
    await waitFor(() => server.frames.filter((f) => f.type === 'subscribe').length === 2, 'resubscribe');
    const subs = server.frames.filter((f) => f.type === 'subscribe');
    expect(subs[1].id).toBe(sub.id);
    // Fresh tokens on the new connection and on the resubscribe.
    expect(decodeHeader(server.protocols[1][1]).Authorization).not.toBe(decodeHeader(server.protocols[0][1]).Authorization);
    expect((subs[1].authorization as Record<string, string>).Authorization).not.toBe((subs[0].authorization as Record<string, string>).Authorization);
    server.publish('/default/r', 'e', 1);
    server.publish('/default/r', 'marker', 2);
    await waitFor(() => got.some((m) => m.event === 'marker'), 'marker');
    expect(got.map((m) => m.data)).toEqual([1, 2]);
    expect(errors.map((e) => e.code)).toContain('CONNECTION_LOST');
  });

  it('detects keep-alive loss from connectionTimeoutMs and reconnects', async () => {
    server.connectionTimeoutMs = 150;
    const c = await open();
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const got: Envelope[] = [];
    await c.subscribe('/default/ka', (m) => got.push(m));
    server.silent = true; // no ka, no answers: a dead link
    await waitFor(() => errors.some((e) => e.code === 'KEEPALIVE_LOST'), 'KEEPALIVE_LOST');
    server.silent = false;
    await waitFor(() => c.state === 'connected' && server.frames.filter((f) => f.type === 'subscribe').length >= 2, 'resubscribed');
    server.publish('/default/ka', 'e', 'after');
    await waitFor(() => got.length === 1);
  });

  it('with reconnect off, a drop closes the client and ends iterators with the error', async () => {
    const c = await open({ reconnect: false });
    const sub: Subscription = await c.subscribe('/default/z');
    const it = sub[Symbol.asyncIterator]();
    const next = it.next();
    server.dropAll();
    await expect(next).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(c.state).toBe('closed');
    await expect(c.subscribe('/default/z')).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('a subscribe made while the server is unreachable rejects after requestTimeoutMs instead of hanging', async () => {
    const c = await open({ requestTimeoutMs: 200, reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
    server.refuseConnect = true;
    server.dropAll();
    await waitFor(() => c.state === 'reconnecting', 'reconnecting');
    await expect(c.subscribe('/default/later', () => undefined)).rejects.toMatchObject({ name: 'SubscribeError', code: 'TIMEOUT', channel: '/default/later' });
    await expect(c.publish('/default/later', { event: 'e' })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('unsubscribing while a resubscribe is in flight leaves nothing subscribed on the server', async () => {
    const c = await open();
    const got: Envelope[] = [];
    const sub = await c.subscribe('/default/race', (m) => got.push(m));
    server.subscribeDelayMs = 100;
    server.dropAll();
    await waitFor(() => server.frames.filter((f) => f.type === 'subscribe').length === 2, 'resubscribe sent');
    await sub.unsubscribe();
    // unsubscribe() resolves once the held subscribe was answered and the unsubscribe after it too.
    expect(server.frames.filter((f) => f.type === 'unsubscribe' && f.id === sub.id)).toHaveLength(1);
    expect(server.subscriptions()).toBe(0);
    server.subscribeDelayMs = 0;
    const witness: Envelope[] = [];
    await c.subscribe('/default/race', (m) => witness.push(m));
    server.publish('/default/race', 'e', 'late');
    await waitFor(() => witness.length === 1, 'the witness subscription');
    expect(got).toHaveLength(0);
  });

  it('a subscribe answered too late rejects with TIMEOUT and is removed from the server when the answer comes', async () => {
    const c = await open({ requestTimeoutMs: 100 });
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    server.subscribeDelayMs = 250;
    await expect(c.subscribe('/default/slow', () => undefined)).rejects.toMatchObject({ name: 'SubscribeError', code: 'TIMEOUT', channel: '/default/slow' });
    await waitFor(() => server.frames.filter((f) => f.type === 'unsubscribe').length === 2, 'unsubscribe at timeout and after the late answer');
    await waitFor(() => server.subscriptions() === 0, 'nothing left on the server');
    expect(errors).toEqual([]);
    expect(c.state).toBe('connected');
  });

  it('a resubscribe whose token callback fails for a moment is retried, not ended', async () => {
    const c = await open();
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    let failures = 0;
    const token = () => {
      if (failures > 0) {
        failures--;
        throw new Error('token service unavailable');
      }
      return 'sub-token';
    };
    const got: Envelope[] = [];
    await c.subscribe('/default/flaky', (m) => got.push(m), { auth: { type: 'token', token } });
    failures = 2;
    server.dropAll();
    await waitFor(() => server.frames.filter((f) => f.type === 'subscribe').length === 2, 'resubscribed after the retries');
    await waitFor(() => server.subscriptions() === 1, 'subscription live again');
    server.publish('/default/flaky', 'e', 'after');
    await waitFor(() => got.length === 1);
    const retries = errors.filter((e) => e.name === 'SubscribeError');
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatchObject({ code: 'INVALID_AUTH', channel: '/default/flaky' });
    expect(retries[0].message).toMatch(/token service unavailable.*retrying in \d+ ms/);
    expect(retries[0].message).not.toContain('sub-token');
  });

  it('a subscription refused on resubscribe ends alone and is reported', async () => {
    const c = await open();
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const kept: Envelope[] = [];
    await c.subscribe('/default/keep', (m) => kept.push(m));
    await c.subscribe('/default/revoked', () => undefined);
    server.refuseChannels.add('/default/revoked');
    server.dropAll();
    await waitFor(() => errors.some((e) => e.code === 'SUBSCRIBE_REFUSED' && e.channel === '/default/revoked'), 'refusal reported');
    server.publish('/default/keep', 'e', 1);
    await waitFor(() => kept.length === 1);
  });
});

describe('history catch-up', () => {
  it('delivers what a reconnect missed, in id order, before live messages, without duplicates', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token' } });
    const got: string[] = [];
    await c.subscribe('/default/h', (m) => got.push(String(m.data)));
    const first = server.publish('/default/h', 'e', 'm1', { store: true });
    await waitFor(() => got.length === 1);
    server.dropAll();
    await waitFor(() => c.state !== 'connected', 'disconnected');
    server.publish('/default/h', 'e', 'm2', { store: true, deliver: false });
    server.publish('/default/h', 'e', 'm3', { store: true, deliver: false });
    await waitFor(() => c.state === 'connected' && server.frames.filter((f) => f.type === 'subscribe').length === 2, 'resubscribed');
    // Stored and live at once: must arrive once.
    server.publish('/default/h', 'e', 'm4', { store: true });
    await waitFor(() => got.length >= 4, 'four messages');
    server.publish('/default/h', 'e', 'marker', { store: true });
    await waitFor(() => got.includes('marker'), 'marker');
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4', 'marker']);
    expect(server.historyRequests[0]).toContain(`after=${first.id}`);
    expect(server.historyRequests[0]).toContain('channel=%2Fdefault%2Fh');
  });

  it('catches up a channel that had delivered nothing yet, from the old connection\'s last sign of life', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token', clockSkewMs: 0 } });
    const got: string[] = [];
    // Stored before the subscription existed: not "missed", so not delivered.
    server.publish('/default/quiet', 'e', 'before-subscribe', { store: true, deliver: false });
    await new Promise((r) => setTimeout(r, 20));
    await c.subscribe('/default/quiet', (m) => got.push(String(m.data)));
    server.dropAll();
    await waitFor(() => c.state !== 'connected', 'disconnected');
    server.publish('/default/quiet', 'e', 'missed', { store: true, deliver: false });
    await waitFor(() => got.length === 1, 'missed message');
    server.publish('/default/quiet', 'e', 'marker', { store: true });
    await waitFor(() => got.includes('marker'), 'marker');
    expect(got).toEqual(['missed', 'marker']);
    const after = new URLSearchParams(server.historyRequests[0]).get('after')!;
    expect(after).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}0{16}$/);
  });

  it('since: a new subscription first delivers what was stored after a known id, then live messages', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token' } });
    const seen = server.publish('/default/s', 'e', 'seen before reload', { store: true, deliver: false });
    server.publish('/default/s', 'e', 'missed 1', { store: true, deliver: false });
    server.publish('/default/s', 'e', 'missed 2', { store: true, deliver: false });
    const got: string[] = [];
    await c.subscribe('/default/s', (m) => got.push(String(m.data)), { since: seen.id });
    server.publish('/default/s', 'e', 'live', { store: true });
    await waitFor(() => got.length === 3, 'three messages');
    server.publish('/default/s', 'e', 'marker', { store: true });
    await waitFor(() => got.includes('marker'), 'marker');
    expect(got).toEqual(['missed 1', 'missed 2', 'live', 'marker']);
    await expect(c.subscribe('/default/*', () => undefined, { since: seen.id })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'since' });
    await expect(c.subscribe('/default/s', () => undefined, { since: 'yesterday' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'since' });
  });

  it('a live message in the same chunk as the resubscribe answer waits for the catch-up: nothing missed, id order', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token' } });
    const got: string[] = [];
    await c.subscribe('/default/race', (m) => got.push(String(m.data)));
    server.publish('/default/race', 'e', 'm1', { store: true });
    await waitFor(() => got.length === 1);
    server.dropAll();
    await waitFor(() => c.state !== 'connected', 'disconnected');
    server.publish('/default/race', 'e', 'missed', { store: true, deliver: false });
    // `ws` emits both frames in one tick, before the subscribe promise continues.
    server.liveWithSubscribeSuccess.set('/default/race', [{ event: 'e', data: 'live' }]);
    await waitFor(() => got.length >= 3, 'three messages');
    server.publish('/default/race', 'e', 'marker', { store: true });
    await waitFor(() => got.includes('marker'), 'marker');
    expect(got).toEqual(['m1', 'missed', 'live', 'marker']);
  });

  it('a live message that is not stored takes its place by id among the caught-up stored ones', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token' } });
    const got: string[] = [];
    await c.subscribe('/default/mixed', (m) => got.push(String(m.data)));
    server.publish('/default/mixed', 'e', 'm1', { store: true });
    await waitFor(() => got.length === 1);
    server.dropAll();
    await waitFor(() => c.state !== 'connected', 'disconnected');
    server.publish('/default/mixed', 'e', 'missed', { store: true, deliver: false });
    server.liveWithSubscribeSuccess.set('/default/mixed', [
      { event: 'e', data: 'live, not stored', store: false },
      { event: 'e', data: 'live, stored' },
    ]);
    await waitFor(() => got.length >= 4, 'four messages');
    server.publish('/default/mixed', 'e', 'marker', { store: true });
    await waitFor(() => got.includes('marker'), 'marker');
    expect(got).toEqual(['m1', 'missed', 'live, not stored', 'live, stored', 'marker']);
  });

  it('since: a live message in the same chunk as the subscribe answer comes after the stored ones', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token' } });
    const seen = server.publish('/default/since-race', 'e', 'seen', { store: true, deliver: false });
    server.publish('/default/since-race', 'e', 'missed', { store: true, deliver: false });
    server.liveWithSubscribeSuccess.set('/default/since-race', [{ event: 'e', data: 'live' }]);
    const got: string[] = [];
    await c.subscribe('/default/since-race', (m) => got.push(String(m.data)), { since: seen.id });
    await waitFor(() => got.length >= 2, 'two messages');
    server.publish('/default/since-race', 'e', 'marker', { store: true });
    await waitFor(() => got.includes('marker'), 'marker');
    expect(got).toEqual(['missed', 'live', 'marker']);
  });

  it('a history API that never answers fails the catch-up after timeoutMs and releases the held live messages', async () => {
    const c = await open({ history: { url: server.url, token: 'history-token', timeoutMs: 200 } });
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const got: string[] = [];
    await c.subscribe('/default/hang', (m) => got.push(String(m.data)));
    server.publish('/default/hang', 'e', 'before', { store: true });
    await waitFor(() => got.length === 1);
    server.historyHangs = true;
    server.dropAll();
    await waitFor(() => c.state !== 'connected', 'disconnected');
    server.liveWithSubscribeSuccess.set('/default/hang', [{ event: 'e', data: 'live' }]);
    await waitFor(() => server.historyRequests.length === 1, 'history requested');
    await waitFor(() => got.length === 2, 'the held live message');
    expect(got).toEqual(['before', 'live']);
    const h = errors.find((e) => e.code === 'HISTORY_FAILED')!;
    expect(h.message).toContain('no answer within 200 ms');
  });

  it('follows pages and reports a history failure without stopping live delivery', async () => {
    const c = await open({ history: { url: server.url, token: 'wrong', limit: 2 } });
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    const got: string[] = [];
    await c.subscribe('/default/p', (m) => got.push(String(m.data)));
    server.publish('/default/p', 'e', 'a', { store: true });
    await waitFor(() => got.length === 1);
    server.dropAll();
    await waitFor(() => errors.some((e) => e.code === 'HISTORY_FAILED'), 'history failure');
    const h = errors.find((e) => e.code === 'HISTORY_FAILED')!;
    expect(h.message).toMatch(/HTTP 401: UnauthorizedException: bad token/);
    expect(h.message).not.toContain('wrong');
    server.publish('/default/p', 'e', 'b');
    await waitFor(() => got.length === 2);
  });
});

describe('echo control', () => {
  const publishedBodies = () => server.frames.filter((f) => f.type === 'publish').flatMap((f) => (f.events as string[]).map((t) => JSON.parse(t)));

  it('drops its own messages by a per-message nonce when echo is off, and strips nonces from everything delivered', async () => {
    const me = await open({ echo: false });
    const other = await open();
    const mine: Envelope[] = [];
    const theirs: Envelope[] = [];
    await me.subscribe('/default/e', (m) => mine.push(m));
    await other.subscribe('/default/e', (m) => theirs.push(m));
    const r = await me.publish('/default/e', [
      { event: 'chat', data: 'from me 1' },
      { event: 'chat', data: 'from me 2' },
    ]);
    expect(r.successful).toHaveLength(2);
    await other.publish('/default/e', { event: 'chat', data: 'from other' });
    await waitFor(() => mine.length === 1 && theirs.length === 3);
    expect(mine.map((m) => m.data)).toEqual(['from other']);
    expect(theirs.map((m) => m.data)).toEqual(['from me 1', 'from me 2', 'from other']);
    expect([...mine, ...theirs].every((m) => !('nonce' in m))).toBe(true);
    // A fresh nonce per event, also from the echo-on client: it is subscribed, so it reads its ids off the echo (own-ids.ts).
    const published = publishedBodies();
    expect(published[0].nonce).toMatch(/^[0-9a-f]{24}$/);
    expect(published[1].nonce).toMatch(/^[0-9a-f]{24}$/);
    expect(published[1].nonce).not.toBe(published[0].nonce);
    expect(published[2].nonce).toMatch(/^[0-9a-f]{24}$/);
    // Not subscribed to the channel: nothing marked.
    const loner = await open();
    await loner.publish('/default/elsewhere', { event: 'chat', data: 'x' });
    expect(publishedBodies()[3]).not.toHaveProperty('nonce');
  });

  it('delivers a message with the same content as its own when someone else published it', async () => {
    const me = await open({ echo: false });
    const other = await open();
    const got: Envelope[] = [];
    await me.subscribe('/default/same', (m) => got.push(m));
    await me.publish('/default/same', { event: 'chat', data: { text: 'hi' } });
    await other.publish('/default/same', { event: 'chat', data: { text: 'hi' } });
    server.publish('/default/same', 'marker', 'end');
    await waitFor(() => got.some((m) => m.event === 'marker'));
    expect(got.map((m) => [m.event, m.data])).toEqual([
      ['chat', { text: 'hi' }],
      ['marker', 'end'],
    ]);
  });

  it('a copied nonce achieves nothing: once the echo was consumed, a message carrying it is delivered', async () => {
    const me = await open({ echo: false });
    const a: Envelope[] = [];
    const b: Envelope[] = [];
    // Two subscriptions that both receive the channel: each drops its own copy of the echo once.
    await me.subscribe('/default/f', (m) => a.push(m));
    await me.subscribe('/default/*', (m) => b.push(m));
    await me.publish('/default/f', { event: 'chat', data: 'mine' });
    const nonce = publishedBodies()[0].nonce as string;
    // Someone who saw the echo publishes with its nonce (same channel, same event name).
    server.publish('/default/f', 'chat', 'spoofed', { nonce });
    await waitFor(() => a.length === 1 && b.length === 1);
    expect(a.map((m) => m.data)).toEqual(['spoofed']);
    expect(b.map((m) => m.data)).toEqual(['spoofed']);
    expect(a[0]).not.toHaveProperty('nonce');
  });

  it('a nonce it never handed out does not drop anything', async () => {
    const me = await open({ echo: false });
    const got: Envelope[] = [];
    await me.subscribe('/default/*', (m) => got.push(m));
    server.publish('/default/g', 'chat', 'unknown nonce', { nonce: 'f'.repeat(24) });
    await me.publish('/default/g', { event: 'chat', data: 'mine' });
    server.publish('/default/g', 'marker', 'end');
    await waitFor(() => got.some((m) => m.event === 'marker'));
    expect(got.map((m) => m.data)).toEqual(['unknown nonce', 'end']);
  });

  it('with a handler that drops the nonce (an older deployment), its own messages are delivered rather than anybody else\'s lost', async () => {
    server.keepNonce = false;
    const me = await open({ echo: false });
    const other = await open();
    const got: Envelope[] = [];
    await me.subscribe('/default/old', (m) => got.push(m));
    await me.publish('/default/old', { event: 'chat', data: 'same' });
    await other.publish('/default/old', { event: 'chat', data: 'same' });
    await waitFor(() => got.length === 2);
    expect(got.map((m) => m.data)).toEqual(['same', 'same']);
  });
});

describe('monotonicUlid', () => {
  it('gives valid message ids that strictly increase within one millisecond, carrying across digits', () => {
    const next = monotonicUlid(() => 1_700_000_000_000);
    const ids = Array.from({ length: 2000 }, next);
    for (const id of ids) expect(isMessageId(id)).toBe(true);
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    expect(new Set(ids.map((id) => id.slice(0, 10))).size).toBe(1);
    // A clock that goes back does not make ids go back.
    let t = 1_700_000_000_005;
    const back = monotonicUlid(() => t);
    const a = back();
    t -= 3;
    expect(back() > a).toBe(true);
  });
});

describe('EchoFilter', () => {
  it('drops once per waiting subscription, only for the channel and event it marked, and forgets failed or expired nonces', () => {
    const env = (nonce: string, channel = '/default/c', event = 'chat') => ({ id: '01J0000000000000000000000A', event, channel, data: null, meta: { uid: null, umd: null }, nonce }) as Envelope;
    const f = new EchoFilter(false);
    const n = f.mark('/default/c', 'chat', ['s1', 's2'])!;
    expect(f.isOwnEcho('s1', env(n, '/default/other'))).toBe(false);
    expect(f.isOwnEcho('s1', env(n, '/default/c', 'other'))).toBe(false);
    expect(f.isOwnEcho('s1', env(n))).toBe(true);
    expect(f.isOwnEcho('s1', env(n))).toBe(false); // a second copy on the same subscription
    expect(f.size).toBe(1);
    expect(f.isOwnEcho('s2', env(n))).toBe(true);
    expect(f.size).toBe(0); // every waiting subscription had its copy
    expect(f.isOwnEcho('s2', env(n))).toBe(false);

    const failed = f.mark('/default/c', 'chat', ['s1'])!;
    f.forget([failed, undefined]);
    expect(f.isOwnEcho('s1', env(failed))).toBe(false);

    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      const old = f.mark('/default/c', 'chat', ['s1'])!;
      clock.mockReturnValue(now + REMEMBER_MS + 1);
      expect(f.isOwnEcho('s1', env(old))).toBe(false);
      expect(f.size).toBe(0);
    } finally {
      clock.mockRestore();
    }

    // Nothing of this client receives the channel: no nonce, nothing remembered.
    expect(f.mark('/default/c', 'chat', [])).toBeUndefined();
    expect(f.size).toBe(0);

    const on = new EchoFilter(true);
    expect(on.mark('/default/c', 'chat', ['s1'])).toBeUndefined();
    const foreign = env('abc');
    expect(on.isOwnEcho('s1', foreign)).toBe(false);
    expect(foreign).not.toHaveProperty('nonce');
  });
});

describe('IAM over the socket', () => {
  it('signs connect, subscribe and publish so that the emulator verification accepts them', async () => {
    const creds = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };
    const c = await open({ auth: { type: 'iam', region: 'us-east-1', credentials: creds } });
    await c.subscribe('/default/iam', () => undefined);
    await c.publish('/default/iam', { event: 'e', data: 1 });
    const verify = { credentials: (id: string) => (id === creds.accessKeyId ? { secretAccessKey: creds.secretAccessKey } : undefined), region: 'us-east-1', service: 'appsync' };
    const connectAuth = decodeHeader(server.protocols[0][1]);
    expect(await verifyEventAuthorization(connectAuth, { kind: 'connect' }, verify)).toMatchObject({ ok: true });
    const sub = server.frames.find((f) => f.type === 'subscribe')!;
    expect(await verifyEventAuthorization(sub.authorization as Record<string, string>, { kind: 'subscribe', channel: sub.channel as string }, verify)).toMatchObject({ ok: true });
    const pub = server.frames.find((f) => f.type === 'publish')!;
    const op = { kind: 'publish' as const, channel: pub.channel as string, events: pub.events as string[] };
    expect(await verifyEventAuthorization(pub.authorization as Record<string, string>, op, verify)).toMatchObject({ ok: true });
    // The signature covers the body: another channel does not verify.
    expect(await verifyEventAuthorization(sub.authorization as Record<string, string>, { kind: 'subscribe', channel: '/default/other' }, verify)).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH' });
  });

  it('rotated credentials are used for later operations', async () => {
    let version = 1;
    const provider = async () => ({ accessKeyId: `AKID${version}`, secretAccessKey: `secret${version}`, expiration: new Date(Date.now() + (version === 1 ? 1000 : 3_600_000)) });
    const c = await open({ auth: { type: 'iam', region: 'us-east-1', credentials: provider, refreshBeforeMs: 5000 } });
    version = 2;
    await c.subscribe('/default/rot', () => undefined);
    const sub = server.frames.find((f) => f.type === 'subscribe')!;
    expect((sub.authorization as Record<string, string>).Authorization).toContain('Credential=AKID2/');
    const verify = { credentials: (id: string) => (id === 'AKID2' ? { secretAccessKey: 'secret2' } : undefined), region: 'us-east-1', service: 'appsync' };
    expect(await verifyEventAuthorization(sub.authorization as Record<string, string>, { kind: 'subscribe', channel: '/default/rot' }, verify)).toMatchObject({ ok: true });
  });
});
