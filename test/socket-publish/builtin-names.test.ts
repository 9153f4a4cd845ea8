/**
 * Issue #13 "Lookups keyed by user input", the socket-publish function (the
 * namespaces' Lambda data source): a namespace, channel segment or event name spelled
 * like an Object.prototype property gets what an unknown name gets, or is an
 * ordinary name, on dynalite with the real tables.
 */
import fc from 'fast-check';
import { buildHandlerContext } from '../../functions/authorizer/handler-context';
import { parseClaims } from '../../functions/core/claims';
import { memoryLogger } from '../../functions/shared/log';
import { createSocketPublishHandler, type DataSourceAnswer } from '../../functions/socket-publish/handler';
import { asControl, builtinName, builtinSegment, controlFor } from '../support/builtin-names';
import { startRig, type Rig } from '../publish/support';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ name: 'es-sock-builtin', namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 60 } } });
}, 30_000);
afterAll(async () => rig?.close());

function identity(channels: Record<string, object>) {
  const parsed = parseClaims({ exp: Math.floor(Date.now() / 1000) + 3600, uid: 'u1', channels });
  if (!parsed.ok) throw new Error(parsed.detail);
  return { handlerContext: buildHandlerContext(parsed.claims) };
}
let n = 0;
function publishEvent(path: string, payloads: unknown[], who: unknown) {
  const segments = path.split('/').slice(1);
  return {
    identity: who,
    result: null,
    request: { headers: { host: 'example' }, domainName: null },
    info: { channel: { path, segments }, channelNamespace: { name: segments[0] }, operation: 'PUBLISH' },
    error: null,
    prev: null,
    stash: {},
    outErrors: [],
    events: payloads.map((payload) => ({ id: `evt-${++n}`, payload })),
  };
}
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { answer: await run() };
  } catch (e) {
    return { thrown: (e as Error).name, message: (e as Error).message };
  }
}
const strip = (v: unknown) => JSON.parse(JSON.stringify(v).replace(/"evt-\d+"/g, '"evt"').replace(/"[0-9A-HJKMNP-TV-Z]{26}"/g, '"ULID"'));

test('a namespace named like a built-in property is answered as an unknown one', async () => {
  const h = createSocketPublishHandler({ settings: rig.settings, dynamo: rig.dynamo, logger: memoryLogger(), dedupPollMs: 5 });
  await fc.assert(
    fc.asyncProperty(builtinSegment, async (name) => {
      const run = (ns: string) => outcome(() => h(publishEvent(`/${ns}/room`, [{ event: 'm' }], identity({ [`/${ns}/*`]: { publish: true } }))));
      const got = strip(await run(name));
      expect(JSON.parse(asControl(JSON.stringify(got), name))).toEqual(strip(await run(controlFor(name))));
      expect(JSON.stringify(got)).not.toContain('"payload"');
    }),
    { numRuns: 14 },
  );
});

test('channel segments and event names like built-in properties are published as ordinary names', async () => {
  const h = createSocketPublishHandler({ settings: rig.settings, dynamo: rig.dynamo, logger: memoryLogger(), dedupPollMs: 5 });
  await fc.assert(
    fc.asyncProperty(builtinSegment, builtinName, async (segment, event) => {
      const listed = (await h(publishEvent(`/chat/${segment}`, [{ event }], identity({ '/chat/*': { publish: [event] } })))) as DataSourceAnswer;
      expect(listed.events[0]).toMatchObject({ payload: { channel: `/chat/${segment}`, event } });
      const other = strip(await h(publishEvent('/chat/room', [{ event }], identity({ '/chat/*': { publish: ['m'] } }))));
      const control = strip(await h(publishEvent('/chat/room', [{ event: controlFor(event) }], identity({ '/chat/*': { publish: ['m'] } }))));
      expect(JSON.stringify(other)).toContain('EVENT_NOT_ALLOWED');
      expect(JSON.parse(asControl(JSON.stringify(other), event))).toEqual(control);
    }),
    { numRuns: 14 },
  );
});
