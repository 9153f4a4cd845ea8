/**
 * Issue #13 "Lookups keyed by user input", the publish API: namespaces, channel
 * segments, event names and kids spelled like Object.prototype properties, over the
 * Function URL (API key and client token) and direct invoke. An unconfigured one gets
 * the answer an unknown name gets (400 UNKNOWN_NAMESPACE / INVALID_CHANNEL, 401 for a
 * kid), with nothing stored or delivered; in a segment or an event name it is an
 * ordinary name. Never a 5xx (DELIVERY_REFUSED / STORE_FAILED feed the alarm).
 */
import fc from 'fast-check';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { signToken } from '../../client/token';
import { isValidSegment } from '../../functions/core/channels';
import { asControl, builtinName, controlFor } from '../support/builtin-names';
import { httpEvent, rigPublishHandler, startRig, type Rig } from './support';

const API_KEY = 'pk_builtin_names_0123456789';
const SECRET = 'builtin-names-token-secret-0123456789abcdef';

let rig: Rig;
let handler: ReturnType<typeof rigPublishHandler>;

beforeAll(async () => {
  rig = await startRig({ name: 'es-builtin', namespaces: { default: {}, chat: { defaultStoreSeconds: 600, clientPublish: true } } });
  const secrets = new Map([
    [rig.settings.publish.apiKeyParameterNames[0], API_KEY],
    [rig.settings.tokens.hs256Keys[0].parameterName, SECRET],
  ]);
  handler = rigPublishHandler(rig, secrets);
});
afterAll(() => rig.close());
beforeEach(() => {
  rig.endpoint.received.length = 0;
});

type Answer = { status: number; body: any };

async function post(body: unknown, bearer = API_KEY): Promise<Answer> {
  const r = (await handler(httpEvent({ path: '/publish', body: JSON.stringify(body), headers: { authorization: `Bearer ${bearer}` } }))) as { statusCode: number; body: string };
  return { status: r.statusCode, body: JSON.parse(r.body) };
}
async function invoke(body: unknown): Promise<Answer> {
  const r = (await handler(body as never)) as any;
  return { status: r && 'error' in r ? 400 : 202, body: r };
}
const via = fc.constantFrom(post, invoke);

async function storedOn(channel: string): Promise<number> {
  const out = await rig.dynamo.send(new QueryCommand({ TableName: rig.settings.tables.messages, KeyConditionExpression: 'channel = :c', ExpressionAttributeValues: { ':c': { S: channel } }, ConsistentRead: true }));
  return out.Count ?? 0;
}

/** The answer for `name`, with the name put back as its control, must equal the control's answer. */
function expectLikeControl(got: Answer, want: Answer, name: string): void {
  expect(got.status).toBeLessThan(500);
  expect({ status: got.status, body: JSON.parse(asControl(JSON.stringify(got.body), name)) }).toEqual(want);
}

test('a namespace named like a built-in property is refused as unknown, nothing stored or delivered', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, via, fc.boolean(), async (name, send, batch) => {
      const message = (ns: string) => ({ channel: `/${ns}/room`, event: 'm', data: { n: 1 }, store: 60 });
      const body = (ns: string) => (batch ? { messages: [message('chat'), message(ns)] } : message(ns));
      const got = await send(body(name));
      const want = await send(body(controlFor(name)));
      expectLikeControl(got, want, name);
      expect(got.body.error.code).toBe(isValidSegment(name) ? 'UNKNOWN_NAMESPACE' : 'INVALID_CHANNEL');
      expect(rig.endpoint.received).toEqual([]);
      if (isValidSegment(name)) expect(await storedOn(`/${name}/room`)).toBe(0);
    }),
    { numRuns: 40 },
  );
});

test('a channel segment or event name like a built-in property is an ordinary name: stored and delivered', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, via, async (name, send) => {
      rig.endpoint.received.length = 0;
      const channel = isValidSegment(name) ? `/chat/${name}` : '/chat/room';
      const got = await send({ channel, event: name, data: { n: 1 }, store: 60 });
      expect(got.status).toBe(202);
      expect(got.body).toMatchObject({ channel, event: name });
      expect(rig.endpoint.received.map((r) => [r.channel, r.events[0].event])).toEqual([[channel, name]]);
    }),
    { numRuns: 24 },
  );
});

test('a client token: built-in names as namespace, allowed event name and kid get the coded refusals of their controls', async () => {
  const sign = (channels: Record<string, object>, kid = rig.settings.tokens.hs256Keys[0].kid) => signToken({ secret: SECRET, kid, uid: 'u1', channels } as Parameters<typeof signToken>[0]);
  await fc.assert(
    fc.asyncProperty(builtinName, async (name) => {
      const grant = (ns: string): Record<string, object> => (isValidSegment(ns) ? { [`/${ns}/*`]: { publish: true } } : { '/chat/*': { publish: true } });
      // Namespace.
      expectLikeControl(await post({ channel: `/${name}/room`, event: 'm' }, await sign(grant(name))), await post({ channel: `/${controlFor(name)}/room`, event: 'm' }, await sign(grant(controlFor(name)))), name);
      // An event the token lists is allowed; one it does not list is EVENT_NOT_ALLOWED, whatever it is called.
      const listed = await sign({ '/chat/*': { publish: [name] } });
      expect((await post({ channel: '/chat/room', event: name }, listed)).status).toBe(202);
      const other = await sign({ '/chat/*': { publish: ['m'] } });
      const refused = await post({ channel: '/chat/room', event: name }, other);
      expectLikeControl(refused, await post({ channel: '/chat/room', event: controlFor(name) }, other), name);
      expect(refused.body.error.code).toBe('EVENT_NOT_ALLOWED');
      // Kid.
      const byKid = await post({ channel: '/chat/room', event: 'm' }, await sign({ '/chat/*': { publish: true } }, name));
      expectLikeControl(byKid, await post({ channel: '/chat/room', event: 'm' }, await sign({ '/chat/*': { publish: true } }, controlFor(name))), name);
      expect(byKid).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: expect.stringContaining('KID_UNKNOWN') } } });
    }),
    { numRuns: 24 },
  );
});

test('a bearer value spelled like a built-in property is a wrong API key (401), not a slot', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, async (name) => {
      expectLikeControl(await post({ channel: '/chat/room', event: 'm' }, name), await post({ channel: '/chat/room', event: 'm' }, controlFor(name)), name);
      expect((await post({ channel: '/chat/room', event: 'm' }, name)).status).toBe(401);
    }),
    { numRuns: 12 },
  );
});
