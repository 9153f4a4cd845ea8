/**
 * Test rig for the publish and history handlers: dynalite with the real tables, and
 * a local Event API endpoint that verifies SigV4 on every POST /event as AppSync
 * does (recomputed from the received request) before recording the events.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { resolveConfig, runtimeSettings, type EventsockConfig, type RuntimeSettings } from '../../functions/core/config';
import { createTables, startDynalite, type LocalDynamo } from '../../local/dynamo';
import { verifySigV4 } from '../../local/sigv4-verify';
import { createPublishHandler, type PublishHandlerDeps } from '../../functions/publish/handler';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';

export const REGION = 'us-east-1';
export const CREDENTIALS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' };

export interface Received {
  channel: string;
  events: Array<Record<string, unknown>>;
  raw: string[];
}

export interface EventEndpoint {
  host: string;
  url: string;
  received: Received[];
  /** Refused requests with the verifier's reason. */
  refused: string[];
  /** Overrides the answer to the n-th request (0-based), after the signature check. */
  respond?: (n: number, body: { channel: string; events: string[] }) => { status: number; body?: unknown; headers?: Record<string, string> } | undefined;
  requests: number;
  close(): Promise<void>;
}

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startEventEndpoint(opts: { region?: string } = {}): Promise<EventEndpoint> {
  let server: Server;
  const ep: EventEndpoint = {
    host: '',
    url: '',
    received: [],
    refused: [],
    requests: 0,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
  server = createServer(async (req, res) => {
    const body = await read(req);
    const [path, qs] = (req.url ?? '/').split('?');
    const verdict = await verifySigV4(
      { method: req.method ?? 'GET', path, query: qs ? Object.fromEntries(new URLSearchParams(qs)) : undefined, headers: req.headers, body },
      { region: opts.region ?? REGION, service: 'appsync', credentials: (id) => (id === CREDENTIALS.accessKeyId ? { secretAccessKey: CREDENTIALS.secretAccessKey } : undefined) },
    );
    if (!verdict.ok) {
      ep.refused.push(verdict.reason);
      res.writeHead(401, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'UnauthorizedException' });
      res.end(JSON.stringify({ errors: [{ errorType: 'UnauthorizedException', message: verdict.reason }] }));
      return;
    }
    const parsed = JSON.parse(body) as { channel: string; events: string[] };
    const n = ep.requests++;
    const override = ep.respond?.(n, parsed);
    if (override) {
      res.writeHead(override.status, { 'content-type': 'application/json', ...override.headers });
      res.end(JSON.stringify(override.body ?? {}));
      return;
    }
    ep.received.push({ channel: parsed.channel, events: parsed.events.map((e) => JSON.parse(e)), raw: parsed.events });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ successful: parsed.events.map((_e, index) => ({ identifier: `id-${n}-${index}`, index })), failed: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  ep.host = `127.0.0.1:${port}`;
  ep.url = `http://127.0.0.1:${port}/event`;
  return ep;
}

export interface Rig {
  settings: RuntimeSettings;
  dynamo: DynamoDBClient;
  db: LocalDynamo;
  endpoint: EventEndpoint;
  close(): Promise<void>;
}

export const TEST_CONFIG: EventsockConfig = {
  name: 'es-test',
  namespaces: {
    default: {},
    chat: { defaultStoreSeconds: 60 },
    fast: { ordering: 'none' },
  },
};

export async function startRig(config: EventsockConfig = TEST_CONFIG): Promise<Rig> {
  const db = await startDynalite();
  const dynamo = new DynamoDBClient({ endpoint: db.endpoint, region: REGION, credentials: CREDENTIALS });
  const endpoint = await startEventEndpoint();
  const settings = runtimeSettings(resolveConfig(config), { eventApiHttpHost: endpoint.host, region: REGION });
  await createTables(dynamo, settings.tables);
  return {
    settings,
    dynamo,
    db,
    endpoint,
    async close() {
      dynamo.destroy();
      await endpoint.close();
      await db.close();
    },
  };
}

/** A Function URL event (payload 2.0) for the handlers. */
export function httpEvent(opts: { method?: string; path: string; body?: string; headers?: Record<string, string>; query?: Record<string, string> }) {
  const qs = opts.query ? new URLSearchParams(opts.query).toString() : '';
  return {
    version: '2.0' as const,
    routeKey: '$default',
    rawPath: opts.path,
    rawQueryString: qs,
    headers: { 'content-type': 'application/json', ...opts.headers },
    queryStringParameters: opts.query,
    body: opts.body,
    isBase64Encoded: false,
    requestContext: { http: { method: opts.method ?? 'POST', path: opts.path, sourceIp: '127.0.0.1' }, requestId: 'req-1' },
  };
}

/** The publish handler on the rig: its tables and endpoint, the given secrets, quick retries. */
export function rigPublishHandler(rig: Rig, secrets: Map<string, string>, over: Partial<PublishHandlerDeps> = {}) {
  return createPublishHandler({
    settings: rig.settings,
    dynamo: rig.dynamo,
    secrets: staticSecretSource(secrets),
    eventApiUrl: rig.endpoint.url,
    credentials: CREDENTIALS,
    logger: memoryLogger(),
    delivery: { budgetMs: 2000, baseDelayMs: 5, maxDelayMs: 20 },
    dedupPollMs: 5,
    ...over,
  });
}
