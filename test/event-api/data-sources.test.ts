/**
 * Namespace data source integrations in the emulator (local/event-api/data-sources.ts):
 * onPublish DIRECT and CODE with a Lambda data source, REQUEST_RESPONSE and EVENT, over a
 * real WebSocket. The data sources here are small functions that record what they were
 * invoked with; test/e2e/socket-publish.test.ts runs the real socket-publish function.
 */
import type { NamespaceHandlerConfigs } from '../../functions/namespace/code';
import type { ListeningEventApi } from '../../local/event-api';
import { apiKeyClient, publishWs, startApi, subscribe, type Client } from './helpers';

const CONFIG = {
  auth: { apiKey: {} },
  defaultNamespace: 'direct',
  namespaces: {
    direct: { publishAuthModes: ['AWS_IAM', 'API_KEY'], subscribeAuthModes: ['API_KEY'] },
    async: { publishAuthModes: ['AWS_IAM', 'API_KEY'], subscribeAuthModes: ['API_KEY'] },
    code: { publishAuthModes: ['AWS_IAM', 'API_KEY'], subscribeAuthModes: ['API_KEY'] },
  },
} as const;

const CODE = `
import { util, runtime } from '@aws-appsync/utils';
export const onPublish = {
  request(ctx) {
    if (ctx.events[0].payload.skip === true) runtime.earlyReturn(ctx.events.map((e) => ({ id: e.id, payload: { early: true } })));
    const invocationType = ctx.events[0].payload.async === true ? 'Event' : 'RequestResponse';
    return { operation: 'Invoke', invocationType, payload: { channel: ctx.info.channel.path, events: ctx.events } };
  },
  response(ctx) {
    if (ctx.error) util.error(ctx.error.message, 'DataSourceFailed');
    if (ctx.result === null) return ctx.events;
    return ctx.result.events;
  },
};
export function onSubscribe(ctx) {}
`;

type Invocation = { ds: string; payload: any };
let srv: ListeningEventApi;
let client: Client;
const invoked: Invocation[] = [];
let directAnswer: (payload: any) => unknown = (p) => ({ events: p.events });

beforeAll(async () => {
  const cfg = (dataSourceName: string, invokeType?: 'REQUEST_RESPONSE' | 'EVENT', behavior: 'DIRECT' | 'CODE' = 'DIRECT'): NamespaceHandlerConfigs => ({
    onPublish: { behavior, integration: { dataSourceName, ...(invokeType ? { lambdaConfig: { invokeType } } : {}) } },
  });
  srv = await startApi({
    config: CONFIG as never,
    namespaceHandlerCode: CODE,
    dataSources: {
      fn: { type: 'AWS_LAMBDA', invoke: async (payload) => (invoked.push({ ds: 'fn', payload }), directAnswer(payload)) },
      coded: {
        type: 'AWS_LAMBDA',
        invoke: async (payload: any) => {
          invoked.push({ ds: 'coded', payload });
          return { events: payload.events.map((e: any) => ({ id: e.id, payload: { ...e.payload, via: 'lambda', channel: payload.channel } })) };
        },
      },
    },
    handlerConfigs: { direct: cfg('fn', 'REQUEST_RESPONSE'), async: cfg('fn', 'EVENT'), code: cfg('coded', undefined, 'CODE') },
  });
  client = await apiKeyClient(srv);
}, 30_000);
afterAll(async () => {
  client?.close();
  await srv?.close();
});

let seq = 0;
const id = () => `op-${++seq}`;
const data = (c: Client, sub: string) => c.frames.filter((f) => f.type === 'data' && f.id === sub).map((f) => JSON.parse(f.event));

it('DIRECT REQUEST_RESPONSE invokes with the payload AppSync sends and broadcasts the answer, per-event errors failing alone', async () => {
  const sub = id();
  await subscribe(client, srv, sub, '/direct/room');
  invoked.length = 0;
  directAnswer = (p) => ({ events: [{ id: p.events[0].id, payload: { ...p.events[0].payload, seen: true } }, { id: p.events[1].id, error: 'NOPE: not this one' }] });
  const ack = await publishWs(client, srv, id(), '/direct/room', [JSON.stringify({ n: 1 }), JSON.stringify({ n: 2 })]);
  expect(ack.type).toBe('publish_success');
  expect(ack.successful).toEqual([{ identifier: expect.any(String), index: 0 }]);
  expect(ack.failed).toEqual([{ identifier: expect.any(String), index: 1, code: 'HandlerError', message: 'NOPE: not this one' }]);
  // Powertools' AppSyncEventsPublishEvent: identity (null for an API key), request, info, events [{ id, payload }].
  expect(invoked).toEqual([
    {
      ds: 'fn',
      payload: {
        identity: null,
        result: null,
        request: { headers: expect.any(Object), domainName: null },
        info: { channel: { path: '/direct/room', segments: ['direct', 'room'] }, channelNamespace: { name: 'direct' }, operation: 'PUBLISH' },
        error: null,
        prev: null,
        stash: {},
        outErrors: [],
        events: [{ id: ack.successful[0].identifier, payload: { n: 1 } }, { id: ack.failed[0].identifier, payload: { n: 2 } }],
      },
    },
  ]);
  await client.next((f) => f.type === 'data' && f.id === sub);
  expect(data(client, sub)).toEqual([{ n: 1, seen: true }]);
});

it('DIRECT: a top-level error fails the publish, UnauthorizedException refuses it, any other throw is a HandlerError naming only the error type', async () => {
  directAnswer = () => ({ error: 'whole publish refused' });
  let ack = await publishWs(client, srv, id(), '/direct/x', [JSON.stringify({ n: 1 })]);
  expect(ack).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'HandlerError', message: 'whole publish refused' }] });
  directAnswer = () => {
    throw Object.assign(new Error('no'), { name: 'UnauthorizedException' });
  };
  ack = await publishWs(client, srv, id(), '/direct/x', [JSON.stringify({ n: 1 })]);
  expect(ack).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'UnauthorizedException' }] });
  directAnswer = () => {
    throw new TypeError('secret detail');
  };
  ack = await publishWs(client, srv, id(), '/direct/x', [JSON.stringify({ n: 1 })]);
  expect(ack).toMatchObject({ type: 'publish_error', errors: [{ errorType: 'HandlerError', message: 'the Lambda data source fn failed (TypeError)' }] });
  // An answer that lists no events broadcasts nothing; the events are reported as taken.
  directAnswer = () => ({ events: [] });
  ack = await publishWs(client, srv, id(), '/direct/x', [JSON.stringify({ n: 1 })]);
  expect(ack).toMatchObject({ type: 'publish_success', successful: [{ index: 0 }], failed: [] });
});

it('DIRECT EVENT invokes without waiting and broadcasts the events as published', async () => {
  const sub = id();
  await subscribe(client, srv, sub, '/async/room');
  invoked.length = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  directAnswer = async () => {
    await gate;
    return { events: [] };
  };
  const ack = await publishWs(client, srv, id(), '/async/room', [JSON.stringify({ n: 7 })]);
  expect(ack).toMatchObject({ type: 'publish_success', successful: [{ index: 0 }] });
  await client.next((f) => f.type === 'data' && f.id === sub);
  expect(data(client, sub)).toEqual([{ n: 7 }]);
  expect(invoked.map((i) => i.payload.events[0].payload)).toEqual([{ n: 7 }]);
  release();
});

it('CODE runs onPublish.request, invokes the data source with its payload and broadcasts what onPublish.response returns', async () => {
  const sub = id();
  await subscribe(client, srv, sub, '/code/room');
  invoked.length = 0;
  const ack = await publishWs(client, srv, id(), '/code/room', [JSON.stringify({ n: 1 })]);
  expect(ack).toMatchObject({ type: 'publish_success', successful: [{ index: 0 }] });
  expect(invoked).toEqual([{ ds: 'coded', payload: { channel: '/code/room', events: [{ id: ack.successful[0].identifier, payload: { n: 1 } }] } }]);
  await client.next((f) => f.type === 'data' && f.id === sub);
  expect(data(client, sub)).toEqual([{ n: 1, via: 'lambda', channel: '/code/room' }]);
});

it('CODE: runtime.earlyReturn skips the data source and response; invocationType Event does not wait (result null)', async () => {
  const sub = id();
  await subscribe(client, srv, sub, '/code/early');
  invoked.length = 0;
  await publishWs(client, srv, id(), '/code/early', [JSON.stringify({ skip: true })]);
  await client.next((f) => f.type === 'data' && f.id === sub);
  expect(invoked).toEqual([]);
  await publishWs(client, srv, id(), '/code/early', [JSON.stringify({ async: true, n: 2 })]);
  await client.next((f) => f.type === 'data' && f.id === sub && JSON.parse(f.event).n === 2);
  expect(data(client, sub)).toEqual([{ early: true }, { async: true, n: 2 }]);
  expect(invoked).toHaveLength(1);
});
