/**
 * Names a caller sends that are also members every JavaScript object inherits
 * (`constructor`, `toString`, ...) are unknown names like any other: each entry point
 * answers the coded refusal an unknown namespace gets, never a 5xx, a throw, or a 200
 * with silently nothing. The red-team run (#13) found the publish API answering 502/503,
 * history 200 with no items and the authorizer throwing for these.
 */
import fc from 'fast-check';
import { signToken } from '../../client/token';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import { validateMessage } from '../../functions/core/message';
import { header } from '../../functions/shared/http';
import { memoryLogger } from '../../functions/shared/log';
import type { EventOperation } from '../../functions/core/authorizer-contract';
import { event, NOW_MS, secrets, settingsFor, sign } from '../tokens/fixtures';
import { toFunctionUrlEvent } from '../../local/function-url';
import { queryOf } from '../../local/sigv4-verify';
import { publishHttp, RawSocket, signedInvoke, startTestServer, TEST_TOKEN_SECRET } from './helpers';

/** Inherited members of Object.prototype that are valid channel segments (`__proto__` is not: `_`). */
const BUILTIN = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString'];
const builtin = fc.constantFrom(...BUILTIN);
const config = { namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 } } };

describe('names of inherited object members are unknown names', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    server = await startTestServer(config);
  });
  afterAll(() => server.close());

  const everything = (ns: string) => signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'u1', channels: { [`/${ns}/*`]: { subscribe: true, publish: true, history: true }, '/chat/*': { subscribe: true, publish: true, history: true } } });

  it('publish API with the key (Function URL): 400 UNKNOWN_NAMESPACE naming channel, nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(builtin, async (ns) => {
        const res = await publishHttp(server, { channel: `/${ns}/room`, event: 'm', data: 1, store: true });
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'UNKNOWN_NAMESPACE', field: 'channel' });
      }),
      { numRuns: BUILTIN.length * 2 },
    );
  });

  it('publish API invoked with IAM: the same coded refusal in the invoke answer', async () => {
    await fc.assert(
      fc.asyncProperty(builtin, async (ns) => {
        const res = await signedInvoke(`${server.url}/invoke/publish`, JSON.stringify({ channel: `/${ns}/room`, event: 'm' }), { region: server.settings.region });
        expect(res.status).toBe(200);
        const out = await res.json();
        const body = typeof out.body === 'string' ? JSON.parse(out.body) : out;
        expect(out.statusCode ?? 400).toBe(400);
        expect(body.error).toMatchObject({ code: 'UNKNOWN_NAMESPACE' });
      }),
      { numRuns: BUILTIN.length },
    );
  });

  it('publish API with a token granting the namespace: 400 UNKNOWN_NAMESPACE, not a delivery or store failure', async () => {
    await fc.assert(
      fc.asyncProperty(builtin, async (ns) => {
        const res = await fetch(`${server.url}/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await everything(ns)}`, 'content-type': 'application/json' },
          body: JSON.stringify({ channel: `/${ns}/room`, event: 'm' }),
        });
        expect(res.status).toBe(400);
        expect((await res.json()).error).toMatchObject({ code: 'UNKNOWN_NAMESPACE' });
      }),
      { numRuns: BUILTIN.length },
    );
  });

  it('history API: 400 UNKNOWN_NAMESPACE, not 200 with no items', async () => {
    await fc.assert(
      fc.asyncProperty(builtin, fc.constantFrom('', '/*'), async (ns, tail) => {
        const res = await fetch(`${server.url}/history?channel=${encodeURIComponent(`/${ns}/room${tail}`)}`, { headers: { authorization: `Bearer ${await everything(ns)}` } });
        expect(res.status).toBe(400);
        expect((await res.json()).error).toMatchObject({ code: 'UNKNOWN_NAMESPACE', field: 'channel' });
      }),
      { numRuns: BUILTIN.length * 2 },
    );
  });

  it('WebSocket subscribe and publish: refused frames, and the connection keeps working', async () => {
    const token = await everything('constructor');
    const auth = { host: server.httpHost, Authorization: token };
    const sock = await RawSocket.connect(server.wsUrl, auth);
    try {
      await sock.type('connection_ack');
      for (const [i, ns] of BUILTIN.entries()) {
        const f = await sock.subscribe(`s${i}`, `/${ns}/room`, { host: server.httpHost, Authorization: await everything(ns) });
        expect(f.type).toBe('subscribe_error');
      }
      expect((await sock.subscribe('ok', '/chat/room', auth)).type).toBe('subscribe_success');
    } finally {
      await sock.close();
    }
  });
});

describe('the authorizer, directly', () => {
  it('denies with NAMESPACE_UNKNOWN for subscribe and publish on such namespaces', async () => {
    const logger = memoryLogger();
    const authorize = createAuthorizerHandler({ settings: settingsFor(config), secrets: secrets(), logger, now: () => NOW_MS });
    await fc.assert(
      fc.asyncProperty(builtin, fc.constantFrom<EventOperation>('EVENT_SUBSCRIBE', 'EVENT_PUBLISH'), async (ns, operation) => {
        const token = await sign({ channels: { [`/${ns}/*`]: { subscribe: true, publish: true } } });
        const result = await authorize(event(operation, token, `/${ns}/room`));
        expect(result.isAuthorized).toBe(false);
        expect(logger.entries[logger.entries.length - 1]).toMatchObject({ decision: 'deny', reason: 'NAMESPACE_UNKNOWN' });
      }),
      { numRuns: BUILTIN.length * 2 },
    );
  });
});

describe('core and local lookups keyed by caller input', () => {
  const rules = runtimeSettings(resolveConfig(config), { eventApiHttpHost: 'h', region: 'us-east-1' });

  it('validateMessage refuses such namespaces with UNKNOWN_NAMESPACE', () => {
    fc.assert(
      fc.property(builtin, (ns) => {
        expect(() => validateMessage({ channel: `/${ns}/x`, event: 'm' }, { ...rules, maxDataBytes: 1000 })).toThrow(expect.objectContaining({ code: 'UNKNOWN_NAMESPACE' }));
      }),
    );
  });

  it('header() on a Function URL event finds no inherited member', () => {
    fc.assert(
      fc.property(builtin, (name) => {
        expect(header({ headers: {} } as never, name.toLowerCase())).toBeUndefined();
      }),
    );
  });

  it('a request with headers and query parameters named after inherited members keeps them as values', () => {
    const names = [...BUILTIN.map((n) => n.toLowerCase()), '__proto__'];
    const rawHeaders = names.flatMap((n) => [n, `v-${n}`]);
    const evt = toFunctionUrlEvent({
      method: 'GET',
      url: `/history?${names.map((n) => `${n}=q-${n}`).join('&')}`,
      rawHeaders: ['host', '127.0.0.1', ...rawHeaders],
      httpVersion: '1.1',
      socket: { remoteAddress: '127.0.0.1', localPort: 1 },
    } as never, Buffer.alloc(0), { domainName: '127.0.0.1' });
    for (const n of names) {
      expect(evt.headers[n]).toBe(`v-${n}`);
      expect(evt.queryStringParameters?.[n]).toBe(`q-${n}`);
    }
    const q = queryOf(`/x?${names.map((n) => `${n}=a`).join('&')}&constructor=b`);
    expect(q.constructor).toEqual(['a', 'b']);
    expect(q.__proto__).toBe('a');
  });
});
