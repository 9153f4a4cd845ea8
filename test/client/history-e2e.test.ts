/**
 * No missed messages, end to end: the real publish function stores and delivers
 * through the emulator's Event API, the real history function reads dynalite, and
 * the client loses its connection (the network, not the server) while messages are
 * published. After it comes back it must deliver what it missed, in id order,
 * before live messages, each once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import type { Envelope } from '../../functions/core/envelope';
import { createHistoryHandler } from '../../functions/history/handler';
import { createPublishHandler } from '../../functions/publish/handler';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { listenEventApi, type ListeningEventApi } from '../../local/event-api';
import { createTables, startDynalite, type LocalDynamo } from '../../local/dynamo';
import { serveFunctionUrl, type FunctionUrlHandler } from '../../local/function-url';
import { waitFor } from './support/wait';
import { flakyNetwork } from '../support/flaky-network';

const SECRET = 'history-e2e-secret-0123456789abcdef';
const CREDS = { accessKeyId: 'AKIDPUBLISHFN', secretAccessKey: 'publish-fn-secret' };
const config = resolveConfig({});
const secrets = staticSecretSource({
  [config.tokens.hs256Keys[0].parameterName]: SECRET,
  [config.tokens.hs256Keys[1].parameterName]: `${SECRET}-2`,
  [config.publish.apiKeyParameterNames[0]]: 'esk_1',
  [config.publish.apiKeyParameterNames[1]]: 'esk_2',
});

let eventApi: ListeningEventApi;
let dynamo: LocalDynamo;
let historyServer: Server;
let historyUrl: string;
let publish: (channel: string, data: unknown) => Promise<{ id: string }>;
let client: EventsockClient | undefined;

beforeAll(async () => {
  const authSettings = runtimeSettings(config, { eventApiHttpHost: '', region: 'us-east-1' });
  eventApi = await listenEventApi({
    config,
    authorizer: createAuthorizerHandler({ settings: authSettings, secrets, logger: memoryLogger() }),
    iamCredentials: [CREDS],
    logger: memoryLogger(),
  });
  const settings = runtimeSettings(config, { eventApiHttpHost: eventApi.httpHost, region: 'us-east-1' });
  dynamo = await startDynalite();
  const ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
  await createTables(ddb, settings.tables);
  const publishFn = createPublishHandler({ settings, dynamo: ddb, secrets, eventApiUrl: `${eventApi.url}/event`, credentials: CREDS, logger: memoryLogger(), delivery: { budgetMs: 3000 } });
  publish = async (channel, data) => {
    const out = (await publishFn({ channel, event: 'chat.message', data: data as never, store: 3600 })) as { id?: string; error?: unknown };
    if (!out.id) throw new Error(`publish failed: ${JSON.stringify(out)}`);
    return out as { id: string };
  };
  const history = createHistoryHandler({ settings, dynamo: ddb, secrets, logger: memoryLogger() });
  historyServer = createServer((req, res) => void serveFunctionUrl(req, res, history as FunctionUrlHandler, { domainName: '127.0.0.1' }));
  await new Promise<void>((r) => historyServer.listen(0, '127.0.0.1', () => r()));
  historyUrl = `http://127.0.0.1:${(historyServer.address() as AddressInfo).port}`;
}, 30_000);

afterAll(async () => {
  await client?.close();
  await eventApi?.close();
  await new Promise<void>((r) => (historyServer ? historyServer.close(() => r()) : r()));
  await dynamo?.close();
});

it('delivers what the client missed while offline, from the history API, in id order before live messages, each once', async () => {
  const net = flakyNetwork();
  const token = await signToken({ secret: SECRET, kid: 'k1', channels: { '/default/*': { subscribe: true, history: true } } });
  client = await connect({
    endpoint: eventApi.url,
    auth: { type: 'token', token },
    WebSocket: net.WebSocket,
    history: { url: historyUrl },
    reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
  });
  const got: Envelope[] = [];
  await client.subscribe('/default/room', (m) => got.push(m));

  const m1 = await publish('/default/room', 'm1');
  await waitFor(() => got.length === 1, 'm1 live');

  net.online = false;
  net.current!.terminate();
  await waitFor(() => client!.state === 'reconnecting', 'offline');
  await waitFor(() => eventApi.api.stats().subscriptions === 0, 'server noticed');
  const m2 = await publish('/default/room', 'm2');
  const m3 = await publish('/default/room', 'm3');
  expect(got).toHaveLength(1);

  net.online = true;
  await waitFor(() => got.length === 3, 'm2 and m3 from history', 10_000);
  const m4 = await publish('/default/room', 'm4');
  await waitFor(() => got.length === 4, 'm4 live');
  const m5 = await publish('/default/room', 'marker');
  await waitFor(() => got.length >= 5, 'marker live');
  expect(got.map((m) => m.data)).toEqual(['m1', 'm2', 'm3', 'm4', 'marker']);
  expect(got.map((m) => m.id)).toEqual([m1.id, m2.id, m3.id, m4.id, m5.id]);
  expect([...got.map((m) => m.id)].sort()).toEqual(got.map((m) => m.id));
});

it('reads the real history API: pages, and a token without history is refused with its code', async () => {
  const { readHistoryPage, readHistorySince } = await import('../../client/history');
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await publish('/default/paged', `p${i}`)).id);
  const token = await signToken({ secret: SECRET, kid: 'k1', channels: { '/default/*': { subscribe: true, history: true } } });
  const page = await readHistoryPage({ url: historyUrl, token }, '/default/paged', undefined, 2);
  expect(page.items.map((m) => m.id)).toEqual(ids.slice(0, 2));
  expect(page.next).toBe(ids[1]);
  const all = await readHistorySince({ url: historyUrl, token, limit: 2 }, '/default/paged', ids[0]);
  expect(all.items.map((m) => m.data)).toEqual(['p1', 'p2', 'p3', 'p4']);
  const noHistory = await signToken({ secret: SECRET, kid: 'k1', channels: { '/default/*': { subscribe: true } } });
  await expect(readHistoryPage({ url: historyUrl, token: noHistory }, '/default/paged', undefined, 2)).rejects.toMatchObject({
    code: 'HISTORY_FAILED',
    errorType: 'FORBIDDEN',
    channel: '/default/paged',
  });
});

it('reads a wildcard pattern through the real history API, following next across pages the API ended early (even empty)', async () => {
  const { readHistorySince } = await import('../../client/history');
  const settings = runtimeSettings(config, { eventApiHttpHost: eventApi.httpHost, region: 'us-east-1' });
  const ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
  // A history function that reads at most 3 index items per request.
  const bounded = createHistoryHandler({ settings, dynamo: ddb, secrets, logger: memoryLogger(), patternMaxExamined: 3 });
  const server = createServer((req, res) => void serveFunctionUrl(req, res, bounded as FunctionUrlHandler, { domainName: '127.0.0.1' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const start = (await publish('/default/pat-start', 'start')).id;
    const want: string[] = [];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) await publish(`/default/noise-${j}`, 'noise');
      want.push((await publish(`/default/pat/r${i % 2}`, `p${i}`)).id);
    }
    const token = await signToken({ secret: SECRET, kid: 'k1', channels: { '/default/*': { history: true } } });
    const pages: number[] = [];
    const countingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const body = await res.clone().json();
      pages.push(body.items.length);
      return res;
    };
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const all = await readHistorySince({ url, token, fetch: countingFetch }, '/default/pat/*', start);
    expect(all.items.map((m) => m.id)).toEqual(want);
    expect(all.items.map((m) => m.channel)).toEqual(['/default/pat/r0', '/default/pat/r1', '/default/pat/r0', '/default/pat/r1']);
    expect(pages).toContain(0);
    expect(pages.length).toBeGreaterThanOrEqual(20 / 3);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
