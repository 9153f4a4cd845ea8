/**
 * Issue #13 "Lookups keyed by user input", the emulator end to end (startDevServer:
 * the Event API over a real WebSocket, the real authorizer and namespace handlers,
 * the publish and history functions behind the Function URL adapter, SigV4 on
 * POST /event): namespaces, channel segments, event names, header and query names
 * spelled like Object.prototype properties get what unknown names get, or work as
 * ordinary names. Never a 5xx, a dropped socket, or a 200 with nothing.
 */
import fc from 'fast-check';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import WebSocket from 'ws';
import { signToken } from '../../client/token';
import { isValidSegment } from '../../functions/core/channels';
import { resolveConfig } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { startDevServer, type DevServer } from '../../local/dev-server';
import { serveFunctionUrl, type FunctionUrlEvent } from '../../local/function-url';
import { asControl, builtinName, builtinSegment, controlFor, BUILTIN_NAMES } from '../support/builtin-names';
import { Client } from './helpers';

const SECRET = 'event-api-builtin-secret-0123456789abcdef';
let server: DevServer;
let ws: Client;
let token: string;
let n = 0;

beforeAll(async () => {
  server = await startDevServer({ config: resolveConfig({ namespaces: { default: {}, chat: { clientPublish: true } } }), port: 0, devTokenSecret: SECRET, logger: memoryLogger() });
  // One token granting the built-in and control names as namespaces (the valid segments) and all of /chat.
  const channels: Record<string, object> = { '/chat/*': { subscribe: true, publish: true, history: true } };
  for (const name of [...BUILTIN_NAMES, 'zzunknown']) if (isValidSegment(name)) channels[`/${name}/*`] = { subscribe: true, publish: true, history: true };
  token = await signToken({ secret: SECRET, kid: server.settings.tokens.hs256Keys[0].kid, channels, scope: ['connect', 'subscribe'] });
  const header = Buffer.from(JSON.stringify({ host: server.httpHost, Authorization: token })).toString('base64url');
  ws = await Client.open(server.wsUrl, ['aws-appsync-event-ws', `header-${header}`]);
  ws.send({ type: 'connection_init' });
  await ws.type('connection_ack');
});
afterAll(async () => {
  ws?.close();
  await server?.close();
});

const auth = () => ({ host: server.httpHost, Authorization: token });
async function subscribe(channel: string) {
  const id = `s${n++}`;
  ws.send({ type: 'subscribe', id, channel, authorization: auth() });
  const f = await ws.next((x) => x.id === id && x.type !== 'data');
  return { id, frame: { ...f, id: 'ID' } as Record<string, any> };
}
async function publish(channel: string, events: unknown[]) {
  const id = `p${n++}`;
  ws.send({ type: 'publish', id, channel, events: events.map((e) => JSON.stringify(e)), authorization: auth() });
  const f = await ws.next((x) => x.id === id);
  return { ...f, id: 'ID' } as Record<string, any>;
}
function expectLikeControl(got: unknown, want: unknown, name: string): void {
  expect(JSON.parse(asControl(JSON.stringify(got), name))).toEqual(want);
}

test('WebSocket subscribe and publish on a namespace named like a built-in property are refused as for an unknown one', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, fc.constantFrom('/room', '/*'), async (name, rest) => {
      const control = controlFor(name);
      const sub = await subscribe(`/${name}${rest}`);
      expectLikeControl(sub.frame, (await subscribe(`/${control}${rest}`)).frame, name);
      expect(sub.frame.type).toBe('subscribe_error');
      if (rest === '/room') {
        const pub = await publish(`/${name}/room`, [{ event: 'm' }]);
        expectLikeControl(pub, await publish(`/${control}/room`, [{ event: 'm' }]), name);
        expect(pub.type).toBe('publish_error');
      }
      expect(ws.closed).toBeUndefined();
    }),
    { numRuns: 24 },
  );
});

test('channel segments and event names like built-in properties are delivered as ordinary names', async () => {
  await fc.assert(
    fc.asyncProperty(builtinSegment, builtinName, async (segment, event) => {
      const sub = await subscribe(`/chat/${segment}`);
      expect(sub.frame.type).toBe('subscribe_success');
      const pub = await publish(`/chat/${segment}`, [{ event, data: { segment } }]);
      expect(pub).toMatchObject({ type: 'publish_success', failed: [] });
      const data = await ws.next((f) => f.type === 'data' && f.id === sub.id);
      expect(JSON.parse(data.event)).toMatchObject({ channel: `/chat/${segment}`, event, data: { segment } });
      ws.send({ type: 'unsubscribe', id: sub.id });
      await ws.next((f) => f.type === 'unsubscribe_success' && f.id === sub.id);
    }),
    { numRuns: 14 },
  );
});

async function http(path: string, init: RequestInit) {
  const res = await fetch(`${server.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

test('the publish and history functions behind the emulator refuse built-in namespaces as unknown (400), headers and query names are ordinary', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, async (name) => {
      const post = (ns: string, headers: Record<string, string> = {}) =>
        http('/publish', { method: 'POST', headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ channel: `/${ns}/room`, event: 'm' }) });
      const got = await post(name);
      expectLikeControl(got, await post(controlFor(name)), name);
      expect(got.status).toBe(400);
      const history = (ns: string) => http(`/history?channel=${encodeURIComponent(`/${ns}/room`)}`, { headers: { authorization: `Bearer ${token}` } });
      const h = await history(name);
      expectLikeControl(h, await history(controlFor(name)), name);
      expect(h.status).toBe(400);
      // A header or a query parameter named like a built-in is just a name.
      const withHeader = await post('chat', { [name]: 'x' });
      expect(withHeader.status).toBe(202);
      const q = await http(`/history?channel=%2Fchat%2Froom&${encodeURIComponent(name)}=1`, { headers: { authorization: `Bearer ${token}` } });
      expect(q).toEqual({ status: 400, body: { error: expect.objectContaining({ code: 'UNKNOWN_FIELD', field: name }) } });
    }),
    { numRuns: 12 },
  );
});

test('POST /event signed over a query parameter named like a built-in property verifies (SigV4 recomputed from the received query)', async () => {
  const creds = server.iamCredentials[0];
  const [hostname, port] = server.httpHost.split(':');
  const signer = new SignatureV4({ service: 'appsync', region: server.settings.region, credentials: creds, sha256: Sha256 });
  await fc.assert(
    fc.asyncProperty(builtinName, async (name) => {
      const body = JSON.stringify({ channel: '/default/q', events: [JSON.stringify({ id: '01J00000000000000000000000', event: 'm' })] });
      const send = async (key: string) => {
        const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname, port: Number(port), path: '/event', query: { [key]: '1' }, headers: { host: server.httpHost, 'content-type': 'application/json' }, body } as unknown as HttpRequest);
        const { host: _h, ...headers } = signed.headers as Record<string, string>;
        return (await fetch(`${server.url}/event?${encodeURIComponent(key)}=1`, { method: 'POST', headers, body })).status;
      };
      expect(await send(name)).toBe(await send(controlFor(name)));
      expect(await send(name)).toBe(200);
    }),
    { numRuns: 12 },
  );
});

test('the Function URL adapter keeps headers and query parameters named like built-in properties as given', async () => {
  const events: FunctionUrlEvent[] = [];
  const srv = createServer((req, res) => void serveFunctionUrl(req, res, async (e) => (events.push(e), { statusCode: 204 }), { domainName: 'fn.local' }));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as AddressInfo).port;
    for (const name of BUILTIN_NAMES) {
      events.length = 0;
      // node:http, not fetch: undici drops a header called __proto__.
      const status = await new Promise<number>((resolve, reject) => {
        const path = `/publish?${encodeURIComponent(name)}=1&${encodeURIComponent(name)}=2`;
        const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: ['host', `127.0.0.1:${port}`, name, 'x', 'x-other', 'y'] as unknown as Record<string, string> }, (res) => (res.resume(), resolve(res.statusCode!)));
        req.on('error', reject);
        req.end('{}');
      });
      expect(status).toBe(204);
      const [e] = events;
      expect(Object.getOwnPropertyDescriptor(e.headers, name.toLowerCase())?.value).toBe('x');
      expect(Object.getOwnPropertyDescriptor(e.queryStringParameters, name)?.value).toBe('1,2');
      expect(e.headers['x-other']).toBe('y');
    }
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
});
