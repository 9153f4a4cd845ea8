/**
 * Amplify JS (aws-amplify, pinned in package.json) against the local emulator, as a
 * developer runs it: the dev server over TLS with its generated certificate (Amplify
 * only ever opens wss://), and Amplify in its own Node process trusting that
 * certificate through NODE_EXTRA_CA_CERTS, configured with
 * `API.Events { endpoint: 'https://localhost:<port>/event' }`.
 *
 * Covered: Lambda tokens (subscribe; events from the publish API, events.post and
 * channel.publish; a refused subscribe), API_KEY and AWS_IAM through Amplify's own
 * credentials provider. The child reports every frame Amplify sends (secrets
 * replaced by field names), so the wire facts Amplify relies on are asserted too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signToken } from '../../client/token';
import { resolveConfig } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { startDevServer, trustingFetch, type DevServer } from '../../local/dev-server';
import { JsonChild, type Line } from './support';

jest.setTimeout(60_000);

const TOKEN_SECRET = 'compat-dev-token-secret-0123456789abcdef';
const IAM = { accessKeyId: 'AKIDCOMPATEXAMPLE', secretAccessKey: 'compat/secret+access/key0123456789EXAMPLE' };
const REGION = 'eu-west-1';
const CLIENT = join(__dirname, 'amplify-client.mjs');
const AMPLIFY_VERSION: string = require('aws-amplify/package.json').version;

let dir: string;
let server: DevServer;
let logs: ReturnType<typeof memoryLogger>;
let fetchTls: typeof fetch;
const children: JsonChild[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eventsock-compat-amplify-'));
  logs = memoryLogger();
  server = await startDevServer({
    config: resolveConfig({
      auth: { apiKey: {} },
      namespaces: {
        default: { subscribeAuthModes: ['AWS_LAMBDA', 'AWS_IAM', 'API_KEY'] },
        // Pipeline (the default with clientPublish) and stored: socket publishes reach history.
        chat: { clientPublish: true, defaultStoreSeconds: 3600 },
      },
    }),
    port: 0,
    region: REGION,
    // `tls: true` with the certificate in a folder of this test's own, not ./.eventsock.
    tls: { dir: join(dir, 'tls') },
    devTokenSecret: TOKEN_SECRET,
    iamCredentials: [IAM],
    keepAliveIntervalMs: 1000,
    verbose: true,
    logger: logs,
  });
  fetchTls = trustingFetch(server.tls!.cert);
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function endpoint(): string {
  return `https://localhost:${server.port}/event`;
}

async function startAmplify(settings: Record<string, unknown>): Promise<JsonChild> {
  const child = new JsonChild(process.execPath, [CLIENT], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, NODE_EXTRA_CA_CERTS: server.tls!.certFile, AMPLIFY_COMPAT: JSON.stringify({ endpoint: endpoint(), region: REGION, ...settings }) },
  });
  children.push(child);
  // Loading aws-amplify takes a while when the whole suite shares two cores.
  await child.waitJson((m) => m.ev === 'ready', 'ready', 45_000);
  return child;
}

/** POST /publish with the dev API key, as a backend does. */
async function publishApi(body: Record<string, unknown>): Promise<void> {
  const res = await fetchTls(`${server.url}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect({ status: res.status, body: await res.json() }).toMatchObject({ status: 202 });
}

type Envelope = { id: string; event: string; channel: string; data: unknown; meta: { uid: string | null; umd: unknown } };

/** The envelope of the next `next` callback for `sub` whose envelope matches. */
async function received(child: JsonChild, sub: string, event: string): Promise<Envelope> {
  const m = await child.waitJson((l) => l.ev === 'next' && l.sub === sub && (l.data as { event?: { event?: string } })?.event?.event === event, `event ${event} on ${sub}`);
  return (m.data as { event: Envelope }).event;
}

function sent(child: JsonChild, type: string): Line[] {
  return child.messages.filter((m) => m.ev === 'ws-out' && (m.frame as { type?: string }).type === type).map((m) => m.frame as Line);
}

/** The frame the emulator answered operation `id` with, as Amplify received it. */
function answer(child: JsonChild, id: string): Line | undefined {
  return child.messages.find((m) => m.ev === 'ws-in' && (m.frame as Line).id === id && /_(success|error)$/.test((m.frame as Line).type as string))?.frame as Line | undefined;
}

describe(`aws-amplify ${AMPLIFY_VERSION} events, Lambda tokens`, () => {
  let amplify: JsonChild;
  const lambda = () => ({ authMode: 'lambda', authToken: server.devToken });

  beforeAll(async () => {
    amplify = await startAmplify({ defaultAuthMode: 'lambda' });
  });

  it('subscribes with the dev token and receives events from the publish API and from events.post', async () => {
    await amplify.ok('connect', { channel: '/chat/lobby', options: lambda() });
    await amplify.ok('subscribe', { channel: '/chat/lobby', sub: 'lobby' });

    await publishApi({ channel: '/chat/lobby', event: 'from-api', data: { n: 1 } });
    const fromApi = await received(amplify, 'lobby', 'from-api');
    expect(fromApi).toMatchObject({ channel: '/chat/lobby', data: { n: 1 }, meta: { uid: null } });
    expect(fromApi.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);

    // events.post: HTTP POST /event with the token; the chat namespace lets clients publish.
    const post = await amplify.ok('post', { channel: '/chat/lobby', event: { event: 'from-post', data: { n: 2 } }, options: lambda() });
    expect(post.result).toBeNull(); // Amplify returns the failed list only when something failed
    const fromPost = await received(amplify, 'lobby', 'from-post');
    expect(fromPost).toMatchObject({ channel: '/chat/lobby', data: { n: 2 }, meta: { uid: 'dev', umd: { name: 'local developer' } } });

    // What Amplify sent: the wire facts the emulator relies on.
    const open = amplify.messages.find((m) => m.ev === 'ws-open')!;
    expect(open).toMatchObject({ url: `wss://localhost:${server.port}/event/realtime`, queryKeys: [] });
    expect(open.protocols).toEqual(['aws-appsync-event-ws', { header: { host: `localhost:${server.port}`, Authorization: '[redacted]' }, padded: false, base64urlAlphabet: true }]);
    const out = amplify.messages.filter((m) => m.ev === 'ws-out').map((m) => m.frame as Line);
    expect(out[0]).toEqual({ type: 'connection_init' });
    const [subscribe] = sent(amplify, 'subscribe');
    expect(subscribe).toMatchObject({ channel: '/chat/lobby', authorization: { host: `localhost:${server.port}`, Authorization: '[redacted]' } });
    expect(subscribe.payload).toMatchObject({ channel: '/chat/lobby', extensions: { authorization: { Authorization: '[redacted]' } } });
    const connected = logs.entries.find((e) => e.msg === 'connected');
    expect(connected).toMatchObject({ mode: 'AWS_LAMBDA', carrier: 'subprotocol' });
  });

  it('publishes over the socket with a token allowed to publish, and the event arrives carrying the publisher uid', async () => {
    const alice = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'alice', umd: { team: 'blue' }, channels: { '/chat/*': { subscribe: true, publish: true } } });
    const reader = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'reader', channels: { '/chat/*': { subscribe: true } } });

    // channel.publish resolves with nothing on publish_success (Amplify does not hand back successful/failed).
    const ok = await amplify.ok('publish', { channel: '/chat/lobby', event: { event: 'from-socket', data: { text: 'hi' } }, options: { authMode: 'lambda', authToken: alice } });
    expect(ok.result).toBeUndefined();
    const got = await received(amplify, 'lobby', 'from-socket');
    expect(got).toMatchObject({ channel: '/chat/lobby', data: { text: 'hi' }, meta: { uid: 'alice', umd: { team: 'blue' } } });

    const [publish] = sent(amplify, 'publish');
    // Events go out as JSON strings, the channel as given, the token in `authorization`.
    expect(publish).toMatchObject({ channel: '/chat/lobby', events: [JSON.stringify({ event: 'from-socket', data: { text: 'hi' } })], authorization: { Authorization: '[redacted]' } });
    expect(answer(amplify, publish.id as string)).toMatchObject({ type: 'publish_success', successful: [{ index: 0, identifier: expect.any(String) }], failed: [] });

    // A token without publish rights: the authorizer refuses, publish_error reaches Amplify as a rejection, nothing is delivered.
    const refused = await amplify.call('publish', { channel: '/chat/lobby', event: { event: 'not-allowed' }, options: { authMode: 'lambda', authToken: reader } });
    expect(refused).toMatchObject({ ev: 'failed', error: { message: 'Publish errors: UnauthorizedException' } });
    expect(answer(amplify, sent(amplify, 'publish')[1].id as string)).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'UnauthorizedException' }] });
    await publishApi({ channel: '/chat/lobby', event: 'after-refusal' });
    await received(amplify, 'lobby', 'after-refusal');
    expect(amplify.messages.some((m) => m.ev === 'next' && JSON.stringify(m.data).includes('not-allowed'))).toBe(false);
  });

  it('stores what channel.publish sends (the namespace\'s Lambda data source): history has it once, in id order among backend messages', async () => {
    const alice = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'alice', channels: { '/chat/*': { subscribe: true, publish: true } } });
    await amplify.ok('connect', { channel: '/chat/stored', options: lambda() });
    await amplify.ok('subscribe', { channel: '/chat/stored', sub: 'stored' });
    await publishApi({ channel: '/chat/stored', event: 'b1' });
    await received(amplify, 'stored', 'b1');
    await amplify.ok('publish', { channel: '/chat/stored', event: { event: 'from-amplify', data: { n: 1 } }, options: { authMode: 'lambda', authToken: alice } });
    const live = await received(amplify, 'stored', 'from-amplify');
    await publishApi({ channel: '/chat/stored', event: 'b2' });
    await received(amplify, 'stored', 'b2');
    const reader = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'reader', channels: { '/chat/*': { history: true } } });
    const res = await fetchTls(`${server.url}/history?channel=${encodeURIComponent('/chat/stored')}`, { headers: { authorization: `Bearer ${reader}` } });
    const items = ((await res.json()) as { items: Envelope[] }).items;
    expect(items.map((m) => m.event)).toEqual(['b1', 'from-amplify', 'b2']);
    expect(items[1]).toEqual(live);
    expect(items[1].meta).toEqual({ uid: 'alice', umd: null });
    expect([...items.map((m) => m.id)].sort()).toEqual(items.map((m) => m.id));
  });

  it('surfaces a refused subscribe as UnauthorizedException in the error callback, and the socket keeps serving', async () => {
    const narrow = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'narrow', channels: { '/chat/open': { subscribe: true } } });
    await amplify.ok('connect', { channel: '/chat/secret', options: { authMode: 'lambda', authToken: narrow } });
    const res = await amplify.call('subscribe', { channel: '/chat/secret', sub: 'secret' });
    expect(res.ev).toBe('failed');
    expect(JSON.stringify(res.error)).toContain('UnauthorizedException');
    const err = await amplify.waitJson((m) => m.ev === 'sub-error' && m.sub === 'secret', 'the error callback');
    expect(JSON.stringify(err.error)).toContain('UnauthorizedException');
    expect(amplify.messages.find((m) => m.ev === 'ws-in' && (m.frame as Line).type === 'subscribe_error')?.frame).toMatchObject({
      errors: [{ errorType: 'UnauthorizedException' }],
    });

    // The first subscription still receives on the same socket.
    await publishApi({ channel: '/chat/lobby', event: 'after-denial' });
    await received(amplify, 'lobby', 'after-denial');
    expect(amplify.messages.filter((m) => m.ev === 'ws-open')).toHaveLength(1);
  });
  it('takes a channel without the leading slash as the user wrote it, and normalises it everywhere', async () => {
    const alice = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'alice', channels: { '/chat/*': { subscribe: true, publish: true } } });
    await amplify.ok('connect', { channel: 'chat/bare', options: lambda() });
    await amplify.ok('subscribe', { channel: 'chat/bare', sub: 'bare' });
    // Amplify sends the channel exactly as given to events.connect (no slash added over the socket).
    expect(sent(amplify, 'subscribe').at(-1)).toMatchObject({ channel: 'chat/bare', payload: { channel: 'chat/bare' } });
    await publishApi({ channel: '/chat/bare', event: 'to-bare' });
    expect(await received(amplify, 'bare', 'to-bare')).toMatchObject({ channel: '/chat/bare' });
    await amplify.ok('publish', { channel: 'chat/bare', event: { event: 'bare-socket' }, options: { authMode: 'lambda', authToken: alice } });
    expect(sent(amplify, 'publish').at(-1)).toMatchObject({ channel: 'chat/bare' });
    expect(await received(amplify, 'bare', 'bare-socket')).toMatchObject({ channel: '/chat/bare', meta: { uid: 'alice' } });
    // events.post adds the slash itself.
    await amplify.ok('post', { channel: 'chat/bare', event: { event: 'bare-post' }, options: lambda() });
    expect(await received(amplify, 'bare', 'bare-post')).toMatchObject({ channel: '/chat/bare', meta: { uid: 'dev' } });
  });

  it('rejects events.post refused by the authorizer with the service error type and text', async () => {
    const reader = await signToken({ secret: TOKEN_SECRET, kid: 'k1', uid: 'reader', channels: { '/chat/*': { subscribe: true } } });
    const res = await amplify.call('post', { channel: '/chat/lobby', event: { event: 'http-not-allowed' }, options: { authMode: 'lambda', authToken: reader } });
    expect(res).toMatchObject({ ev: 'failed', error: { name: 'UnauthorizedException' } });
    expect((res.error as { message: string }).message).not.toMatch(/unknown error/i);
  });

  it('unsubscribes: the emulator acknowledges the id Amplify subscribed with, and delivery stops', async () => {
    await amplify.ok('unsubscribe', { sub: 'bare' });
    const subscribeId = sent(amplify, 'subscribe').find((f) => f.channel === 'chat/bare')!.id;
    await amplify.waitJson((m) => m.ev === 'ws-in' && (m.frame as Line).type === 'unsubscribe_success' && (m.frame as Line).id === subscribeId, 'unsubscribe_success');
    expect(sent(amplify, 'unsubscribe')).toEqual([{ type: 'unsubscribe', id: subscribeId }]);
    await publishApi({ channel: '/chat/bare', event: 'after-unsubscribe' });
    // The lobby subscription on the same socket is the barrier: once it has its event, the other was not sent.
    await publishApi({ channel: '/chat/lobby', event: 'barrier' });
    await received(amplify, 'lobby', 'barrier');
    expect(amplify.messages.some((m) => m.ev === 'ws-in' && JSON.stringify(m.frame).includes('after-unsubscribe'))).toBe(false);
  });
});

describe(`aws-amplify ${AMPLIFY_VERSION} events, API key`, () => {
  it('subscribes with the AppSync API key and receives what the publish API sends', async () => {
    const amplify = await startAmplify({ defaultAuthMode: 'apiKey', apiKey: server.appSyncApiKey });
    await amplify.ok('connect', { channel: '/default/public', options: { authMode: 'apiKey' } });
    await amplify.ok('subscribe', { channel: '/default/public', sub: 'public' });
    await publishApi({ channel: '/default/public', event: 'for-everyone', data: 'hello' });
    expect(await received(amplify, 'public', 'for-everyone')).toMatchObject({ channel: '/default/public', data: 'hello' });

    const open = amplify.messages.find((m) => m.ev === 'ws-open')!;
    expect(open.protocols).toEqual(['aws-appsync-event-ws', { header: { host: `localhost:${server.port}`, 'x-amz-date': '[redacted]', 'x-api-key': '[redacted]' }, padded: false, base64urlAlphabet: true }]);
    expect(sent(amplify, 'subscribe')[0]).toMatchObject({ authorization: { 'x-api-key': '[redacted]' } });
    expect(logs.entries.some((e) => e.msg === 'connected' && e.mode === 'API_KEY')).toBe(true);
  });
});

describe(`aws-amplify ${AMPLIFY_VERSION} events, IAM`, () => {
  it('connects, subscribes and publishes (socket and HTTP) with SigV4 from the credentials provider', async () => {
    const amplify = await startAmplify({ defaultAuthMode: 'iam', iam: IAM });
    await amplify.ok('connect', { channel: '/default/iam-room', options: { authMode: 'iam' } });
    await amplify.ok('subscribe', { channel: '/default/iam-room', sub: 'iam' });

    await publishApi({ channel: '/default/iam-room', event: 'from-api' });
    await received(amplify, 'iam', 'from-api');

    // IAM publishers are trusted backends: their envelopes pass through unchanged.
    const envelope = (event: string) => ({ id: '01JCOMPAT0000000000000000' + event.length.toString().padStart(2, '0'), event, channel: '/default/iam-room', data: { via: event }, meta: { uid: null, umd: null } });
    await amplify.ok('publish', { channel: '/default/iam-room', event: envelope('iam-socket'), options: { authMode: 'iam' } });
    expect(answer(amplify, sent(amplify, 'publish')[0].id as string)).toMatchObject({ type: 'publish_success', successful: [{ index: 0 }], failed: [] });
    expect(await received(amplify, 'iam', 'iam-socket')).toEqual(envelope('iam-socket'));

    const post = await amplify.ok('post', { channel: '/default/iam-room', event: envelope('iam-http-post'), options: { authMode: 'iam' } });
    expect(post.result).toBeNull();
    expect(await received(amplify, 'iam', 'iam-http-post')).toEqual(envelope('iam-http-post'));

    const open = amplify.messages.find((m) => m.ev === 'ws-open')!;
    const header = (open.protocols as Array<{ header: Record<string, string> }>)[1].header;
    expect(Object.keys(header).map((k) => k.toLowerCase()).sort()).toEqual(expect.arrayContaining(['authorization', 'host', 'x-amz-date']));
    expect(logs.entries.some((e) => e.msg === 'connected' && e.mode === 'AWS_IAM')).toBe(true);
    expect(logs.entries.some((e) => e.msg === 'iam auth refused')).toBe(false);
  });
});
