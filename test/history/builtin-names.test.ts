/**
 * Issue #13 "Lookups keyed by user input", the history API: namespaces, channel
 * segments and kids spelled like Object.prototype properties, over the Function URL
 * (exact channels and `/*` patterns) and direct invoke. An unconfigured namespace is
 * 400 UNKNOWN_NAMESPACE (never 200 with no items), a segment is an ordinary segment.
 */
import fc from 'fast-check';
import { signToken } from '../../client/token';
import { isValidSegment } from '../../functions/core/channels';
import { createHistoryHandler } from '../../functions/history/handler';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { asControl, builtinName, controlFor } from '../support/builtin-names';
import { httpEvent, rigPublishHandler, startRig, type Rig } from '../publish/support';

const SECRET = 'history-builtin-secret-0123456789abcdef';
let rig: Rig;
let history: ReturnType<typeof createHistoryHandler>;

beforeAll(async () => {
  rig = await startRig({ name: 'es-hist-builtin', namespaces: { default: {}, chat: { defaultStoreSeconds: 600 } } });
  const secrets = staticSecretSource({ [rig.settings.tokens.hs256Keys[0].parameterName]: SECRET });
  history = createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets, logger: memoryLogger() });
  // One stored message on a channel segment named like each built-in that is a valid segment.
  const publish = rigPublishHandler(rig, new Map());
  for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString']) {
    await publish({ channel: `/chat/${name}`, event: name, data: { name }, store: 600 });
  }
});
afterAll(() => rig.close());

type Answer = { status: number; body: any };
const sign = (channels: Record<string, object>, kid = 'k1') => signToken({ secret: SECRET, kid, channels } as Parameters<typeof signToken>[0]);
const grant = (ns: string): Record<string, object> => (isValidSegment(ns) ? { [`/${ns}/*`]: { history: true } } : { '/chat/*': { history: true } });

async function get(channel: string, bearer: string): Promise<Answer> {
  const r = (await history(httpEvent({ method: 'GET', path: '/history', query: { channel }, headers: { authorization: `Bearer ${bearer}` } }))) as { statusCode: number; body: string };
  return { status: r.statusCode, body: JSON.parse(r.body) };
}
async function invoke(channel: string): Promise<Answer> {
  const r = (await history({ channel })) as any;
  return { status: 'error' in r ? 400 : 200, body: r };
}

function expectLikeControl(got: Answer, want: Answer, name: string): void {
  expect(got.status).toBeLessThan(500);
  expect({ status: got.status, body: JSON.parse(asControl(JSON.stringify(got.body), name)) }).toEqual(want);
}

test('a namespace named like a built-in property is refused as unknown (exact, pattern, invoke), as its control is', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, fc.constantFrom('/room', '/*', '/a/*'), async (name, rest) => {
      const control = controlFor(name);
      const got = await get(`/${name}${rest}`, await sign(grant(name)));
      expectLikeControl(got, await get(`/${control}${rest}`, await sign(grant(control))), name);
      expect(got.status).toBe(400);
      if (isValidSegment(name)) expect(got.body.error.code).toBe('UNKNOWN_NAMESPACE');
      const invoked = await invoke(`/${name}${rest}`);
      expectLikeControl(invoked, await invoke(`/${control}${rest}`), name);
      expect(invoked.status).toBe(400);
    }),
    { numRuns: 36 },
  );
});

test('a channel segment named like a built-in property reads its stored messages', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName.filter(isValidSegment), async (name) => {
      const got = await get(`/chat/${name}`, await sign({ '/chat/*': { history: true } }));
      expect(got.status).toBe(200);
      expect(got.body.items.map((m: any) => [m.channel, m.event])).toEqual([[`/chat/${name}`, name]]);
      expect((await invoke(`/chat/${name}`)).body.items).toHaveLength(1);
    }),
    { numRuns: 14 },
  );
});

test('a kid named like a built-in property is refused as KID_UNKNOWN, as its control is', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, async (kid) => {
      const got = await get('/chat/room', await sign({ '/chat/*': { history: true } }, kid));
      expectLikeControl(got, await get('/chat/room', await sign({ '/chat/*': { history: true } }, controlFor(kid))), kid);
      expect(got.status).toBe(401);
      expect(JSON.stringify(got.body)).toContain('KID_UNKNOWN');
    }),
    { numRuns: 12 },
  );
});
