/**
 * Client-initiated messages end to end, in the emulator (local/dev-server): real
 * WebSockets on loopback, tokens signed with client/token.ts, the real authorizer,
 * the real namespace handlers (namespaceHandlerCode for this config) and the real
 * publish function on dynalite for the backend path.
 */
import { WebSocket } from 'ws';
import { signToken } from '../../client/token';
import { resolveConfig, type EventsockConfig } from '../../functions/core/config';
import type { ChannelPermissions } from '../../functions/core/claims';
import { memoryLogger } from '../../functions/shared/log';
import { startDevServer, type DevServer } from '../../local/dev-server';

const SECRET = 'namespace-e2e-token-secret-0123456789abcdef';
const CONFIG: EventsockConfig = { namespaces: { default: {}, chat: { clientPublish: true } } };
const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

type Frame = { type: string; id?: string; [k: string]: unknown };

/** A WebSocket speaking the AppSync Events protocol by hand, keeping every frame. */
class Socket {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as Frame);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(server: DevServer, token: string): Promise<Socket> {
    const header = Buffer.from(JSON.stringify({ host: server.httpHost, Authorization: token })).toString('base64url');
    const ws = new WebSocket(server.wsUrl, ['aws-appsync-event-ws', `header-${header}`]);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const s = new Socket(ws);
    s.send({ type: 'connection_init' });
    await s.next((f) => f.type === 'connection_ack');
    return s;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame; got ${JSON.stringify(this.frames.map((f) => f.type))}`)), timeoutMs);
      const check = () => {
        const f = this.frames.find(pred);
        if (f) {
          clearTimeout(timer);
          resolve(f);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  async subscribe(id: string, channel: string, token: string, host: string): Promise<Frame> {
    this.send({ type: 'subscribe', id, channel, authorization: { host, Authorization: token } });
    return this.next((f) => (f.type === 'subscribe_success' || f.type === 'subscribe_error') && f.id === id);
  }

  async publish(id: string, channel: string, events: unknown[], token: string, host: string): Promise<Frame> {
    this.send({ type: 'publish', id, channel, events: events.map((e) => JSON.stringify(e)), authorization: { host, Authorization: token } });
    return this.next((f) => (f.type === 'publish_success' || f.type === 'publish_error') && f.id === id);
  }

  events(subscriptionId: string): Array<Record<string, any>> {
    return this.frames.filter((f) => f.type === 'data' && f.id === subscriptionId).map((f) => JSON.parse(f.event as string));
  }

  async waitEvents(subscriptionId: string, n: number): Promise<Array<Record<string, any>>> {
    await this.next(() => this.events(subscriptionId).length >= n);
    return this.events(subscriptionId);
  }

  close(): void {
    this.ws.close();
  }
}

let server: DevServer;
const sockets: Socket[] = [];

async function token(channels: Record<string, ChannelPermissions>, extra: { uid?: string; umd?: Record<string, string> } = {}): Promise<string> {
  return signToken({ secret: SECRET, kid: server.settings.tokens.hs256Keys[0].kid, channels, scope: ['connect', 'subscribe'], ...extra });
}

async function open(t: string): Promise<Socket> {
  const s = await Socket.open(server, t);
  sockets.push(s);
  return s;
}

/** A subscriber on the channel that receives everything published there. */
async function listener(channel: string, subId: string): Promise<Socket> {
  const t = await token({ [channel]: { subscribe: true } });
  const s = await open(t);
  expect((await s.subscribe(subId, channel, t, server.httpHost)).type).toBe('subscribe_success');
  return s;
}

beforeAll(async () => {
  server = await startDevServer({ config: resolveConfig(CONFIG), port: 0, devTokenSecret: SECRET, logger: memoryLogger() });
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
});

test('a client with publish ["chat.message"] can send chat.message and not chat.delete', async () => {
  const sub = await listener('/chat/room-1', 's1');
  const t = await token({ '/chat/room-1': { subscribe: true, publish: ['chat.message'] } }, { uid: 'alice', umd: { name: 'Alice' } });
  const client = await open(t);

  const ok = await client.publish('p1', '/chat/room-1', [{ event: 'chat.message', data: { text: 'hi' } }], t, server.httpHost);
  expect(ok).toMatchObject({ type: 'publish_success', successful: [{ index: 0 }], failed: [] });

  const denied = await client.publish('p2', '/chat/room-1', [{ event: 'chat.delete', data: { id: 1 } }], t, server.httpHost);
  expect(denied).toMatchObject({ type: 'publish_success', successful: [] });
  expect(denied.failed).toEqual([expect.objectContaining({ index: 0, message: expect.stringMatching(/^EVENT_NOT_ALLOWED: .*'chat\.delete'/) })]);

  // A later allowed message marks the end: the denied one, published before it, never arrived.
  await client.publish('p3', '/chat/room-1', [{ event: 'chat.message', data: { text: 'bye' } }], t, server.httpHost);
  const got = await sub.waitEvents('s1', 2);
  expect(got.map((e) => [e.event, e.data.text])).toEqual([
    ['chat.message', 'hi'],
    ['chat.message', 'bye'],
  ]);
  expect(got[0]).toEqual({ id: expect.stringMatching(ULID_RE), event: 'chat.message', channel: '/chat/room-1', data: { text: 'hi' }, meta: { uid: 'alice', umd: { name: 'Alice' } } });
  expect(got[1].id > got[0].id).toBe(true);
});

test('messages arrive with the publisher\'s verified uid/umd even when it forges id and meta', async () => {
  const sub = await listener('/chat/room-2', 's2');
  const t = await token({ '/chat/*': { publish: true } }, { uid: 'mallory', umd: { tier: 'free' } });
  const client = await open(t);
  const forged = { event: 'chat.message', data: 'x', id: '01ZZZZZZZZZZZZZZZZZZZZZZZZ', channel: '/chat/admin', meta: { uid: 'admin', umd: { tier: 'staff' } } };
  expect((await client.publish('p1', '/chat/room-2', [forged], t, server.httpHost)).type).toBe('publish_success');
  const [e] = await sub.waitEvents('s2', 1);
  expect(e.meta).toEqual({ uid: 'mallory', umd: { tier: 'free' } });
  expect(e.id).not.toBe(forged.id);
  expect(e.id).toMatch(ULID_RE);
  expect(e.channel).toBe('/chat/room-2');
});

test('a client without publish rights is refused, and so is one publishing where clientPublish is off', async () => {
  const sub = await listener('/chat/room-3', 's3');
  const t = await token({ '/chat/room-3': { subscribe: true }, '/default/*': { subscribe: true, publish: true } });
  const client = await open(t);
  const refused = await client.publish('p1', '/chat/room-3', [{ event: 'chat.message' }], t, server.httpHost);
  expect(refused).toMatchObject({ type: 'publish_error', errors: [expect.objectContaining({ errorType: 'UnauthorizedException' })] });
  const offNamespace = await client.publish('p2', '/default/news', [{ event: 'news' }], t, server.httpHost);
  expect(offNamespace).toMatchObject({ type: 'publish_error', errors: [expect.objectContaining({ errorType: 'UnauthorizedException' })] });

  // Nothing reached the subscriber: a backend message published afterwards is the first it gets.
  const res = await fetch(`${server.url}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: '/chat/room-3', event: 'marker' }),
  });
  expect(res.status).toBe(202);
  const got = await sub.waitEvents('s3', 1);
  expect(got.map((e) => e.event)).toEqual(['marker']);
});

test("a backend's message published through the publish API arrives unchanged", async () => {
  const sub = await listener('/default/news', 's4');
  const res = await fetch(`${server.url}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: '/default/news', event: 'headline', data: { title: 'Hello', tags: ['a', 'b'], n: 1.5 } }),
  });
  expect(res.status).toBe(202);
  const answer = (await res.json()) as { id: string };
  const [e] = await sub.waitEvents('s4', 1);
  expect(e).toEqual({ id: answer.id, event: 'headline', channel: '/default/news', data: { title: 'Hello', tags: ['a', 'b'], n: 1.5 }, meta: { uid: null, umd: null } });
});

test('a mixed batch delivers the allowed events and reports each dropped one', async () => {
  const sub = await listener('/chat/room-4', 's5');
  const t = await token({ '/chat/room-4': { publish: ['chat.message', 'chat.typing'] } }, { uid: 'bob' });
  const client = await open(t);
  const batch = [{ event: 'chat.message', data: 1 }, { event: 'chat.delete' }, { event: 'eventsock.presence' }, ['not', 'an', 'object'], { event: 'chat.typing', data: 2 }];
  const res = await client.publish('p1', '/chat/room-4', batch, t, server.httpHost);
  expect(res.type).toBe('publish_success');
  expect((res.successful as Array<{ index: number }>).map((s) => s.index)).toEqual([0, 4]);
  const failed = res.failed as Array<{ index: number; message: string }>;
  expect(failed.map((f) => [f.index, f.message.split(':')[0]])).toEqual([
    [1, 'EVENT_NOT_ALLOWED'],
    [2, 'RESERVED_EVENT'],
    [3, 'INVALID_PAYLOAD'],
  ]);
  const got = await sub.waitEvents('s5', 2);
  expect(got.map((e) => [e.event, e.data, e.meta.uid])).toEqual([
    ['chat.message', 1, 'bob'],
    ['chat.typing', 2, 'bob'],
  ]);
});

test('the same checks apply to a client publishing over HTTP POST /event', async () => {
  const sub = await listener('/chat/room-5', 's6');
  const t = await token({ '/chat/room-5': { publish: ['chat.message'] } }, { uid: 'carol' });
  const res = await fetch(`${server.url}/event`, {
    method: 'POST',
    headers: { authorization: t, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: '/chat/room-5', events: [JSON.stringify({ event: 'chat.message', data: 'via http' }), JSON.stringify({ event: 'chat.delete' })] }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { successful: Array<{ index: number }>; failed: Array<{ index: number; message: string }> };
  expect(body.successful.map((s) => s.index)).toEqual([0]);
  expect(body.failed).toEqual([expect.objectContaining({ index: 1, message: expect.stringMatching(/^EVENT_NOT_ALLOWED/) })]);
  const [e] = await sub.waitEvents('s6', 1);
  expect(e).toMatchObject({ event: 'chat.message', data: 'via http', meta: { uid: 'carol', umd: null } });
});
