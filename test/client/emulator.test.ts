/**
 * The client against the emulator's AppSync Events server (local/event-api) with
 * the real Lambda authorizer, real SigV4 verification, API keys and the real
 * namespace handlers: every auth mode, server-side drops, keep-alive loss, token
 * refresh, credentials rotation and a refused subscription among good ones.
 */
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import type { EventsockClientError } from '../../client/errors';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import type { Envelope } from '../../functions/core/envelope';
import { isMessageId } from '../../functions/core/message';
import { namespaceHandlerCode } from '../../functions/namespace/code';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { listenEventApi, type EventApiOptions, type ListeningEventApi } from '../../local/event-api';
import { heldUplink } from './support/held-uplink';
import { waitFor } from './support/wait';

const SECRET = 'client-test-hs256-secret-0123456789abcdef';
const API_KEY = 'da2-client-test-key';
const CREDS_1 = { accessKeyId: 'AKIDCLIENT1', secretAccessKey: 'client-secret-1' };
const CREDS_2 = { accessKeyId: 'AKIDCLIENT2', secretAccessKey: 'client-secret-2' };

const config = resolveConfig({
  auth: { apiKey: {} },
  namespaces: {
    default: { clientPublish: true, subscribeAuthModes: ['AWS_LAMBDA', 'AWS_IAM', 'API_KEY'], publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA'] },
  },
});
const settings = runtimeSettings(config, { eventApiHttpHost: '', region: 'us-east-1' });
const secrets = staticSecretSource({ [config.tokens.hs256Keys[0].parameterName]: SECRET, [config.tokens.hs256Keys[1].parameterName]: `${SECRET}-next` });

let srv: ListeningEventApi;
const clients: EventsockClient[] = [];
const fast = { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } };

async function start(extra: Partial<EventApiOptions> & { port?: number } = {}): Promise<void> {
  srv = await listenEventApi({
    config,
    authorizer: createAuthorizerHandler({ settings, secrets, logger: memoryLogger() }),
    apiKeys: [API_KEY],
    iamCredentials: [CREDS_1, CREDS_2],
    namespaceHandlerCode: namespaceHandlerCode(config),
    logger: memoryLogger(),
    ...extra,
  });
}

async function open(opts: Partial<Parameters<typeof connect>[0]>): Promise<EventsockClient> {
  const c = await connect({ endpoint: srv.url, auth: { type: 'apiKey', apiKey: API_KEY }, ...fast, ...opts });
  clients.push(c);
  return c;
}

const token = (channels: Parameters<typeof signToken>[0]['channels'], extra: Partial<Parameters<typeof signToken>[0]> = {}) =>
  signToken({ secret: SECRET, kid: 'k1', channels, ...extra } as Parameters<typeof signToken>[0]);

function envelope(channel: string, data: unknown, id = `01J${Date.now().toString(36).toUpperCase().padStart(23, '0')}`): Envelope {
  return { id, event: 'server.event', channel, data: data as Envelope['data'], meta: { uid: null, umd: null } };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await srv?.close();
});

describe('auth modes', () => {
  beforeEach(() => start());

  it('Lambda: a signed token connects, subscribes and receives; client publishes come back as envelopes with the token uid', async () => {
    const c = await open({ auth: { type: 'token', token: await token({ '/default/*': { subscribe: true, publish: true } }, { uid: 'alice' }) } });
    const got: Envelope[] = [];
    await c.subscribe('/default/room', (m) => got.push(m));
    const sent = envelope('/default/room', { from: 'backend' });
    await srv.api.publish('/default/room', [JSON.stringify(sent)]);
    await waitFor(() => got.length === 1, 'backend message');
    expect(got[0]).toEqual(sent);
    const r = await c.publish('/default/room', { event: 'chat.message', data: { text: 'hi' } });
    expect(r.failed).toEqual([]);
    await waitFor(() => got.length === 2, 'own message');
    expect(got[1]).toMatchObject({ event: 'chat.message', channel: '/default/room', data: { text: 'hi' }, meta: { uid: 'alice' } });
    expect(got[1].id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('IAM: SigV4-signed connect and subscribe are accepted by the emulator', async () => {
    const c = await open({ auth: { type: 'iam', region: 'us-east-1', credentials: CREDS_1 } });
    const got: Envelope[] = [];
    await c.subscribe('/default/iam', (m) => got.push(m));
    await srv.api.publish('/default/iam', [JSON.stringify(envelope('/default/iam', 1))]);
    await waitFor(() => got.length === 1);
  });

  it('IAM: publishes over the socket arrive as envelopes (meta as for backends); echo off drops its own', async () => {
    const iam = await open({ auth: { type: 'iam', region: 'us-east-1', credentials: CREDS_1 }, echo: false });
    const viewer = await open({ auth: { type: 'token', token: await token({ '/default/*': { subscribe: true } }) } });
    const errors: EventsockClientError[] = [];
    viewer.on('error', (e) => errors.push(e));
    const mine: Envelope[] = [];
    const seen: Envelope[] = [];
    await iam.subscribe('/default/iam-pub', (m) => mine.push(m));
    await viewer.subscribe('/default/iam-pub', (m) => seen.push(m));
    const r = await iam.publish('/default/iam-pub', [
      { event: 'service.update', data: { n: 1 } },
      { event: 'service.update', data: { n: 2 } },
    ]);
    expect(r.successful).toHaveLength(2);
    await waitFor(() => seen.length === 2 || errors.length > 0, 'two envelopes');
    expect(errors).toEqual([]);
    expect(seen.map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }]);
    for (const m of seen) {
      expect(Object.keys(m).sort()).toEqual(['channel', 'data', 'event', 'id', 'meta']);
      expect(m).toMatchObject({ event: 'service.update', channel: '/default/iam-pub', meta: { uid: null, umd: null } });
      expect(isMessageId(m.id)).toBe(true);
    }
    expect(seen[1].id > seen[0].id).toBe(true);
    await srv.api.publish('/default/iam-pub', [JSON.stringify(envelope('/default/iam-pub', 'marker'))]);
    await waitFor(() => mine.length === 1 && seen.length === 3, 'the marker');
    expect(mine.map((m) => m.data)).toEqual(['marker']);
  });

  it('API key: connects, subscribes and receives', async () => {
    const c = await open({ auth: { type: 'apiKey', apiKey: API_KEY } });
    const got: Envelope[] = [];
    await c.subscribe('default/key', (m) => got.push(m));
    await srv.api.publish('/default/key', [JSON.stringify(envelope('/default/key', 'k'))]);
    await waitFor(() => got.length === 1);
  });

  it('wrong credentials, key or token: connect() rejects with UnauthorizedException and no secret in the message', async () => {
    for (const auth of [
      { type: 'iam' as const, region: 'us-east-1', credentials: { accessKeyId: CREDS_1.accessKeyId, secretAccessKey: 'wrong-secret' } },
      { type: 'apiKey' as const, apiKey: 'da2-wrong-key' },
      { type: 'token' as const, token: await signToken({ secret: 'not-the-secret', kid: 'k1', channels: { '/default/*': { subscribe: true } } }) },
    ]) {
      const err = (await connect({ endpoint: srv.url, auth, ...fast }).then(
        () => undefined,
        (e: unknown) => e,
      )) as EventsockClientError;
      expect(err).toMatchObject({ code: 'CONNECTION_REFUSED', errorType: 'UnauthorizedException' });
      expect(err.message).not.toContain('wrong-secret');
      expect(err.message).not.toContain('da2-wrong-key');
    }
  });

  it('a refused subscription rejects alone: the token does not cover it, the other subscription keeps receiving', async () => {
    const c = await open({ auth: { type: 'token', token: await token({ '/default/open': { subscribe: true } }) } });
    const got: Envelope[] = [];
    await c.subscribe('/default/open', (m) => got.push(m));
    await expect(c.subscribe('/default/closed', () => undefined)).rejects.toMatchObject({ name: 'SubscribeError', code: 'SUBSCRIBE_REFUSED', errorType: 'UnauthorizedException', channel: '/default/closed' });
    await srv.api.publish('/default/open', [JSON.stringify(envelope('/default/open', 'still'))]);
    await waitFor(() => got.length === 1);
    expect(c.state).toBe('connected');
  });

  it('publish: events the token does not allow come back in failed, a channel it cannot publish to is a PublishError', async () => {
    const c = await open({ auth: { type: 'token', token: await token({ '/default/chat': { subscribe: true, publish: ['chat.message'] }, '/default/ro': { subscribe: true } }) } });
    const got: Envelope[] = [];
    await c.subscribe('/default/chat', (m) => got.push(m));
    const r = await c.publish('/default/chat', [{ event: 'chat.message', data: 1 }, { event: 'chat.delete', data: 2 }]);
    expect(r.successful.map((x) => x.index)).toEqual([0]);
    expect(r.failed).toHaveLength(1);
    expect(r.failed[0]).toMatchObject({ index: 1 });
    await waitFor(() => got.length === 1);
    expect(got[0].event).toBe('chat.message');
    await expect(c.publish('/default/ro', { event: 'chat.message' })).rejects.toMatchObject({ name: 'PublishError', code: 'PUBLISH_REFUSED', errorType: 'UnauthorizedException', channel: '/default/ro' });
    expect(c.state).toBe('connected');
  });

  it('echo off, same token and uid: drops exactly its own message and delivers the identical one the other client published first; echo on gets its own', async () => {
    const t = await token({ '/default/*': { subscribe: true, publish: true } }, { uid: 'same-user' });
    const uplink = heldUplink();
    const me = await open({ auth: { type: 'token', token: t }, echo: false, WebSocket: uplink.WebSocket });
    const other = await open({ auth: { type: 'token', token: t } });
    const mine: Envelope[] = [];
    const theirs: Envelope[] = [];
    await me.subscribe('/default/echo', (m) => mine.push(m));
    await other.subscribe('/default/echo', (m) => theirs.push(m));
    const same = { event: 'chat', data: { text: 'ok' } };
    // My publish leaves first but its uplink is slow: the other client's identical
    // message reaches the server, and me, before mine does. Matching by content would
    // drop theirs (it looks like mine) and then deliver my own echo.
    uplink.hold();
    const myPublish = me.publish('/default/echo', same);
    await waitFor(() => uplink.held() === 1, 'my publish held');
    await other.publish('/default/echo', same);
    await waitFor(() => theirs.length === 1 && mine.length === 1, 'their message at both clients');
    uplink.release();
    const r = await myPublish;
    expect(r.successful).toHaveLength(1);
    await waitFor(() => theirs.length === 2, 'my message at the other client');
    await other.publish('/default/echo', { event: 'chat', data: 'marker' });
    await waitFor(() => mine.length === 2 && theirs.length === 3, 'the marker');
    const [theirsFirst, mineAtOther] = theirs;
    // The same user published both: only the id tells them apart.
    expect(mineAtOther.data).toEqual(theirsFirst.data);
    expect(mineAtOther.meta).toEqual(theirsFirst.meta);
    expect(theirsFirst.meta?.uid).toBe('same-user');
    expect(mine.map((m) => m.id)).toEqual([theirsFirst.id, theirs[2].id]);
    // Echo on (the other client) got its own messages; nobody sees the nonce.
    expect(theirs.map((m) => m.data)).toEqual([{ text: 'ok' }, { text: 'ok' }, 'marker']);
    expect([...mine, ...theirs].some((m) => 'nonce' in m)).toBe(false);
  });
});

describe('resilience against the emulator', () => {
  it('reconnects after the server closes the connection (lifetime reached) and resubscribes', async () => {
    await start({ connectionLifetimeMs: 300 });
    const c = await open({ auth: { type: 'token', token: () => token({ '/default/*': { subscribe: true } }) } });
    const states: string[] = [];
    c.on('state', (s) => states.push(s));
    const got: Envelope[] = [];
    await c.subscribe('/default/life', (m) => got.push(m));
    await waitFor(() => states.includes('reconnecting') && c.state === 'connected' && srv.api.stats().subscriptions === 1, 'a reconnect and resubscribe', 5000);
    await srv.api.publish('/default/life', [JSON.stringify(envelope('/default/life', 'after'))]);
    await waitFor(() => got.length === 1);
  });

  it('reconnects to a restarted server with fresh tokens, restoring subscriptions without duplicate handlers', async () => {
    await start();
    const port = Number(new URL(srv.url).port);
    let n = 0;
    const c = await open({ auth: { type: 'token', token: () => token({ '/default/*': { subscribe: true, publish: true } }, { uid: `user-${++n}` }) } });
    const got: Envelope[] = [];
    await c.subscribe('/default/restart', (m) => got.push(m));
    await srv.close();
    await waitFor(() => c.state === 'reconnecting', 'reconnecting');
    await start({ port });
    await waitFor(() => c.state === 'connected' && srv.api.stats().subscriptions === 1, 'resubscribed', 5000);
    await srv.api.publish('/default/restart', [JSON.stringify(envelope('/default/restart', 'after'))]);
    await waitFor(() => got.length === 1);
    // The publish is authorized with a token fetched now, not the one from connect time.
    await c.publish('/default/restart', { event: 'who', data: null });
    await waitFor(() => got.length === 2);
    expect(got[1].meta?.uid).toBe(`user-${n}`);
    expect(n).toBeGreaterThan(2);
    await srv.api.publish('/default/restart', [JSON.stringify(envelope('/default/restart', 'marker', 'marker-restart'))]);
    await waitFor(() => got.length >= 3, 'marker');
    expect(got.map((m) => m.data)).toEqual(['after', null, 'marker']);
  });

  it('detects keep-alive loss when ka stops arriving within connectionTimeoutMs', async () => {
    await start({ keepAliveIntervalMs: 60_000, connectionTimeoutMs: 200 });
    const c = await open({});
    const errors: EventsockClientError[] = [];
    c.on('error', (e) => errors.push(e));
    await c.subscribe('/default/ka', () => undefined);
    await waitFor(() => errors.some((e) => e.code === 'KEEPALIVE_LOST'), 'KEEPALIVE_LOST');
    await waitFor(() => c.state === 'connected', 'reconnected');
  });

  it('rotated IAM credentials sign later subscriptions; unknown ones refuse only that subscription', async () => {
    await start();
    let current: { accessKeyId: string; secretAccessKey: string } = CREDS_1;
    const c = await open({ auth: { type: 'iam', region: 'us-east-1', credentials: async () => ({ ...current, expiration: new Date(Date.now() + 60_000) }), refreshBeforeMs: 120_000 } });
    const got: Envelope[] = [];
    await c.subscribe('/default/rot-1', (m) => got.push(m));
    current = CREDS_2;
    await c.subscribe('/default/rot-2', (m) => got.push(m));
    current = { accessKeyId: 'AKIDREVOKED', secretAccessKey: 'gone' };
    await expect(c.subscribe('/default/rot-3', () => undefined)).rejects.toMatchObject({ code: 'SUBSCRIBE_REFUSED', errorType: 'UnauthorizedException' });
    await srv.api.publish('/default/rot-1', [JSON.stringify(envelope('/default/rot-1', 1))]);
    await srv.api.publish('/default/rot-2', [JSON.stringify(envelope('/default/rot-2', 2))]);
    await waitFor(() => got.length === 2);
  });
});
