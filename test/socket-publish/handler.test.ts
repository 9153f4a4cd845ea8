/**
 * The socket-publish function (the namespaces' Lambda data source) on dynalite with
 * the real tables, called with the payload AppSync Events sends a direct Lambda
 * integration (the shape of Powertools' tests/events/onPublish.json) and an identity
 * built by the real authorizer's buildHandlerContext.
 */
import { buildHandlerContext } from '../../functions/authorizer/handler-context';
import { parseClaims } from '../../functions/core/claims';
import { isMessageId } from '../../functions/core/message';
import { memoryLogger } from '../../functions/shared/log';
import { queryMessages } from '../../functions/shared/messages-table';
import { createSocketPublishHandler, type DataSourceAnswer } from '../../functions/socket-publish/handler';
import { rigPublishHandler, startRig, type Rig } from '../publish/support';

let rig: Rig;
const CONFIG = {
  name: 'es-sock',
  namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 }, quiet: { clientPublish: true } },
  publish: { maxDataBytes: 1000 },
};
beforeAll(async () => {
  rig = await startRig(CONFIG);
}, 30_000);
afterAll(async () => rig?.close());

function identity(claims: Record<string, unknown>) {
  const parsed = parseClaims({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims });
  if (!parsed.ok) throw new Error(parsed.detail);
  return { handlerContext: buildHandlerContext(parsed.claims) };
}
const alice = identity({ uid: 'alice', umd: { name: 'Alice' }, channels: { '/chat/*': { publish: ['message', 'typing'], subscribe: true }, '/quiet/*': { publish: true } } });
const bob = identity({ uid: 'bob', channels: { '/chat/*': { publish: true } } });

let n = 0;
function publishEvent(path: string, payloads: unknown[], who: unknown = alice) {
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

const handler = (logs = memoryLogger()) => createSocketPublishHandler({ settings: rig.settings, dynamo: rig.dynamo, logger: logs, dedupPollMs: 5 });

it('numbers, stores and answers client events with meta from the verified identity, ignoring a forged id and meta', async () => {
  const logs = memoryLogger();
  const ev = publishEvent('/chat/room-a', [
    { event: 'message', data: { text: 'hi' }, id: '00000000000000000000000000', meta: { uid: 'mallory', umd: { admin: true } } },
    { event: 'typing', nonce: 'n0nce_1' },
  ]);
  const out = (await handler(logs)(ev)) as DataSourceAnswer;
  expect(out.events.map((e) => e.id)).toEqual(ev.events.map((e) => e.id));
  const [a, b] = out.events as Array<{ id: string; payload: Record<string, unknown> }>;
  expect(a.payload).toEqual({ id: expect.any(String), event: 'message', channel: '/chat/room-a', data: { text: 'hi' }, meta: { uid: 'alice', umd: { name: 'Alice' } } });
  expect(isMessageId(a.payload.id)).toBe(true);
  expect(a.payload.id).not.toBe('00000000000000000000000000');
  expect(b.payload).toEqual({ id: expect.any(String), event: 'typing', channel: '/chat/room-a', data: null, meta: { uid: 'alice', umd: { name: 'Alice' } }, nonce: 'n0nce_1' });
  expect((b.payload.id as string) > (a.payload.id as string)).toBe(true);
  // Stored (namespace defaultStoreSeconds) before the answer, without the nonce.
  const page = await queryMessages(rig.dynamo, rig.settings.tables.messages, { channel: '/chat/room-a', limit: 10, nowMs: Date.now() });
  expect(page.messages.map((m) => JSON.parse(m.envelope))).toEqual([a.payload, { ...b.payload, nonce: undefined }].map((p) => JSON.parse(JSON.stringify(p))));
  expect(logs.entries.find((e) => e.msg === 'socket publish')).toMatchObject({ events: 2, published: 2, failed: 0, uid: 'alice' });
});

it('refuses each bad event alone with its code and publishes the rest', async () => {
  const big = 'x'.repeat(1001);
  const out = (await handler()(
    publishEvent('/chat/room-b', [
      { event: 'kick' },
      { event: 'eventsock.system' },
      { event: 'message', data: big },
      'not an object',
      { event: 'message', nonce: 'has space' },
      { event: 'message', store: 0 },
      { event: 'message', data: 'ok' },
    ]),
  )) as DataSourceAnswer;
  const errors = out.events.map((e) => ('error' in e ? e.error.split(':')[0] : 'ok'));
  expect(errors).toEqual(['EVENT_NOT_ALLOWED', 'RESERVED_EVENT', 'DATA_TOO_LARGE', 'INVALID_PAYLOAD', 'INVALID_NONCE', 'FIELD_NOT_ALLOWED', 'ok']);
  expect((out.events[2] as { error: string }).error).toContain('at most 1000');
  const page = await queryMessages(rig.dynamo, rig.settings.tables.messages, { channel: '/chat/room-b', limit: 10, nowMs: Date.now() });
  expect(page.messages.map((m) => JSON.parse(m.envelope).data)).toEqual(['ok']);
});

it('answers a repeated deduplicationId as a duplicate naming the first id, per user', async () => {
  const h = handler();
  const first = (await h(publishEvent('/chat/dedup', [{ event: 'message', data: 1, deduplicationId: 'd-1' }]))) as DataSourceAnswer;
  const id = (first.events[0] as { payload: { id: string } }).payload.id;
  const again = (await h(publishEvent('/chat/dedup', [{ event: 'message', data: 2, deduplicationId: 'd-1' }]))) as DataSourceAnswer;
  expect(again.events).toEqual([{ id: expect.any(String), error: `DUPLICATE: this deduplicationId was already published as ${id}; not delivered again` }]);
  // Another user's same deduplicationId is their own message.
  const bobs = (await h(publishEvent('/chat/dedup', [{ event: 'message', data: 3, deduplicationId: 'd-1' }], bob))) as DataSourceAnswer;
  expect('payload' in bobs.events[0]).toBe(true);
  const page = await queryMessages(rig.dynamo, rig.settings.tables.messages, { channel: '/chat/dedup', limit: 10, nowMs: Date.now() });
  expect(page.messages.map((m) => JSON.parse(m.envelope).data)).toEqual([1, 3]);
});

it('shares the channel head with the publish API: ids strictly increase across both', async () => {
  const h = handler();
  const api = rigPublishHandler(rig, new Map([[rig.settings.publish.apiKeyParameterNames[0], 'k'.repeat(48)]]));
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const s = (await h(publishEvent('/chat/mixed', [{ event: 'message', data: `s${i}` }]))) as DataSourceAnswer;
    ids.push((s.events[0] as { payload: { id: string } }).payload.id);
    const p = (await api({ channel: '/chat/mixed', event: 'backend', data: `p${i}` })) as { id: string };
    ids.push(p.id);
  }
  expect([...ids].sort()).toEqual(ids);
  expect(new Set(ids).size).toBe(8);
});

it('passes IAM publishes (the publish API\'s deliveries) through unchanged', async () => {
  const envelope = { id: '01J00000000000000000000000', event: 'backend', channel: '/chat/iam', data: 1, meta: { uid: null, umd: null } };
  const iam = { accountId: '123456789012', userArn: 'arn:aws:sts::123456789012:assumed-role/es-sock-publish/x', username: 'AROA:x', sourceIp: [] };
  const ev = publishEvent('/chat/iam', [envelope], iam);
  expect(await handler()(ev)).toEqual({ events: [{ id: ev.events[0].id, payload: envelope }] });
  const page = await queryMessages(rig.dynamo, rig.settings.tables.messages, { channel: '/chat/iam', limit: 10, nowMs: Date.now() });
  expect(page.messages).toEqual([]);
});

it('refuses the whole publish with UnauthorizedException without an Eventsock identity, grant or clientPublish', async () => {
  const h = handler();
  const refusal = { name: 'UnauthorizedException' };
  await expect(h(publishEvent('/chat/x', [{ event: 'message' }], null))).rejects.toMatchObject(refusal);
  await expect(h(publishEvent('/chat/x', [{ event: 'message' }], { sub: 'oidc-user', issuer: 'https://idp', claims: {} }))).rejects.toMatchObject(refusal);
  await expect(h(publishEvent('/default/x', [{ event: 'message' }], identity({ uid: 'u', channels: { '/default/*': { publish: true } } })))).rejects.toMatchObject(refusal);
  await expect(h(publishEvent('/quiet/x', [{ event: 'message' }], bob))).rejects.toMatchObject(refusal);
  // resolverContext (the GraphQL name) is read too.
  const out = (await h(publishEvent('/quiet/x', [{ event: 'm' }], { resolverContext: alice.handlerContext }))) as DataSourceAnswer;
  expect('payload' in out.events[0]).toBe(true);
});

it('fails an invocation that is not an AppSync Events publish, naming the shape', async () => {
  await expect(handler()({ channel: '/chat/x', event: 'm' })).rejects.toMatchObject({ name: 'InvalidDataSourceEvent', message: expect.stringContaining('info.channel') });
});

it('a socket publish that died after storing and confirming (its answer never reached AppSync) is answered by the retry under the same id, stored once', async () => {
  let dead = false;
  let crashed!: () => void;
  const died = new Promise<void>((r) => (crashed = r));
  const dying = createSocketPublishHandler({
    settings: rig.settings,
    dynamo: rig.dynamo,
    logger: memoryLogger(),
    dedupPollMs: 5,
    dedupLeaseMs: 1000,
    fault: (step) => {
      if (step === 'confirmed') dead = true;
      if (!dead) return;
      crashed();
      return new Promise<void>(() => undefined);
    },
  });
  const ev = (data: number) => publishEvent('/chat/crash', [{ event: 'message', data, deduplicationId: 'crash-1' }]);
  void dying(ev(1));
  await died;
  const later = createSocketPublishHandler({ settings: rig.settings, dynamo: rig.dynamo, logger: memoryLogger(), dedupPollMs: 5, dedupLeaseMs: 1000, now: () => Date.now() + 5000 });
  const out = (await later(ev(2))) as DataSourceAnswer;
  const page = await queryMessages(rig.dynamo, rig.settings.tables.messages, { channel: '/chat/crash', limit: 10, nowMs: Date.now() });
  expect(page.messages).toHaveLength(1);
  // The stored message (data 1) is what the retry's answer broadcasts, under its id.
  expect(out.events).toEqual([{ id: expect.any(String), payload: JSON.parse(page.messages[0].envelope) }]);
  expect((out.events[0] as { payload: { data: number } }).payload.data).toBe(1);
  const again = (await later(ev(3))) as DataSourceAnswer;
  expect(again.events).toEqual([{ id: expect.any(String), error: expect.stringContaining(`already published as ${page.messages[0].id}`) }]);
});
