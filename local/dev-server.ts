/**
 * The whole Eventsock system on one port: the AppSync Events emulator
 * (`/event`, `/event/realtime`), the publish and history functions at the paths
 * their Function URLs use, the publish function's invoke entry point, and the web
 * console at `/`, over an embedded DynamoDB. The handlers are the real ones, built
 * with their factories from the same RuntimeSettings the stack hands them; the
 * publish function delivers through this server's own `POST /event` with a real
 * SigV4 signature that the Event API verifies for real.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { signToken } from '../client/token';
import { API_KEY_LIFETIME_DAYS, runtimeSettings, type ResolvedConfig, type RuntimeSettings } from '../functions/core/config';
import { EventsockError } from '../functions/core/errors';
import { own } from '../functions/core/own';
import { createAuthorizerHandler } from '../functions/authorizer/handler';
import { createHistoryHandler } from '../functions/history/handler';
import { namespaceHandlerCode, namespaceHandlerConfigs, SOCKET_PUBLISH_DATA_SOURCE, type NamespaceHandlerConfigs } from '../functions/namespace/code';
import { createPublishHandler } from '../functions/publish/handler';
import { createSocketPublishHandler } from '../functions/socket-publish/handler';
import { createLogger, type Logger } from '../functions/shared/log';
import { staticSecretSource } from '../functions/shared/secrets';
import { createRevocationCheck } from '../functions/shared/revocations';
import { createTables, startDynalite, type LocalDynamo } from './dynamo';
import { createEventApi } from './event-api';
import { cognitoIssuer, publicJwks } from './event-api/token-modes';
import { readBody, serveFunctionUrl, type FunctionUrlHandler } from './function-url';
import { applyIdleTimeout, ByteBudget, resolveTimeouts, serverTimeoutOptions, hostAllowed, malformedPath, originAllowed, originOf, type ServerTimeouts } from './guard';
import { verifySigV4 } from './sigv4-verify';
import { loadTls, type TlsMaterial } from './tls';

export interface IamCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface DevServerOptions {
  config: ResolvedConfig;
  /** 0 picks a free port. Default 4000. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** `true` (generated certificate) or your own PEM files. Default: plain HTTP. */
  tls?: { certFile?: string; keyFile?: string; dir?: string } | true;
  /** Keep DynamoDB data on disk here. Default: in memory. */
  dataDir?: string;
  /** Default us-east-1. */
  region?: string;
  /** HS256 secret of the first token key. Default: random. */
  devTokenSecret?: string;
  /** The first publish API key. Default: random. */
  devApiKey?: string;
  /** Credentials the Event API and the invoke endpoint accept; the first also signs the publish function's deliveries. Default: one random pair. */
  iamCredentials?: IamCredentials[];
  /** The AppSync API key (API_KEY auth, when config.auth.apiKey is set). Default: random `da2-…`. */
  appSyncApiKey?: string;
  /** When the AppSync API key lapses (epoch ms). Default: `auth.apiKey.lifetimeDays` (365) days after start, as a fresh apply gives. */
  appSyncApiKeyExpiresAt?: number;
  /**
   * OPENID_CONNECT: a file with the issuer's public JWKS (`{ "keys": [...] }`), so tokens
   * verify offline. Without it the keys are fetched from the issuer (OIDC discovery) on first use.
   */
  oidcJwksFile?: string;
  /** AMAZON_COGNITO_USER_POOLS: a file with the user pool's public JWKS (its `/.well-known/jwks.json`). Without it they are fetched. */
  cognitoJwksFile?: string;
  /** fetch for OIDC discovery and JWKS downloads. Default: global fetch. */
  jwksFetch?: typeof fetch;
  /** `ka` interval; short values make keep-alive tests quick. Default: the service's 60 s. */
  keepAliveIntervalMs?: number;
  /**
   * How often the presence sweep runs (the stack runs it from an EventBridge schedule every
   * presence.sweepSeconds). Default: presence.sweepSeconds. Tests set it shorter.
   */
  presenceSweepMs?: number;
  /**
   * Page origins (besides loopback pages) that may open the Event API socket and call
   * publish and history from a browser; the CORS lists of publish and history count too.
   * Requests without an Origin (non-browser clients) are not affected. Default: none.
   */
  allowedOrigins?: string[];
  /** Header, request, keep-alive and idle timeouts of the HTTP server (local/guard.ts). */
  timeouts?: ServerTimeouts;
  /** Request body bytes all requests may hold at once while being read; beyond, 503 SERVER_BUSY. Default 64 MiB. */
  maxBufferedRequestBytes?: number;
  /** Log every frame and request. */
  verbose?: boolean;
  logger?: Logger;
}

export interface DevServer {
  /** `http(s)://host:port`, no trailing slash. */
  url: string;
  /** `ws(s)://host:port/event/realtime`. */
  wsUrl: string;
  /** `host:port`: what SigV4 signs and authorization objects carry as `host`. */
  httpHost: string;
  port: number;
  /** A 24 h token for every namespace (connect, subscribe, publish, history); empty when HS256 is not allowed. */
  devToken: string;
  devApiKey: string;
  /** The AppSync API key clients use with API_KEY auth; undefined when config.auth.apiKey is not set. */
  appSyncApiKey?: string;
  /** When appSyncApiKey lapses (epoch ms). */
  appSyncApiKeyExpiresAt?: number;
  iamCredentials: IamCredentials[];
  settings: RuntimeSettings;
  /** The certificate served with TLS, to trust in clients. */
  tls?: { certFile: string; cert: string; generated: boolean };
  /** Side events the publish function put on EventBridge (`emitPubSubEvent`), newest last, at most 1000. */
  pubSubEvents: PubSubEvent[];
  /** The DynamoDB endpoint (dynalite). */
  dynamoEndpoint: string;
  /** DynamoDB requests the emulator's handlers (and anyone else on dynamoEndpoint) made so far, by operation. */
  dynamoRequests(): Record<string, number>;
  /** OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS as configured: the issuer and where its keys come from. */
  tokenIssuers?: TokenIssuer[];
  close(): Promise<void>;
}

export interface TokenIssuer {
  mode: 'OPENID_CONNECT' | 'AMAZON_COGNITO_USER_POOLS';
  issuer: string;
  /** The JWKS file given, or undefined when the keys are fetched from the issuer. */
  jwksFile?: string;
}

/** Reads a JWKS file given with --oidc-jwks / --cognito-jwks; errors name the flag and the file, never key material. */
export function readJwksFile(file: string, flag: string) {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (e) {
    throw new EventsockError('INVALID_JWKS', `${flag} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { field: flag });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EventsockError('INVALID_JWKS', `${flag} ${file} is not JSON`, { field: flag });
  }
  return publicJwks(parsed, `${flag} ${file}`);
}

/** The configured token issuers and their keys; a JWKS file for a mode the config does not enable is an error. */
function tokenIssuers(config: ResolvedConfig, opts: DevServerOptions) {
  const { openIdConnect, cognito } = config.auth;
  if (opts.oidcJwksFile && !openIdConnect) throw new EventsockError('CLI_USAGE', '--oidc-jwks needs auth.openIdConnect in the config', { field: '--oidc-jwks' });
  if (opts.cognitoJwksFile && !cognito) throw new EventsockError('CLI_USAGE', '--cognito-jwks needs auth.cognito in the config', { field: '--cognito-jwks' });
  const issuers: TokenIssuer[] = [];
  if (openIdConnect) issuers.push({ mode: 'OPENID_CONNECT', issuer: openIdConnect.issuer, jwksFile: opts.oidcJwksFile });
  if (cognito) issuers.push({ mode: 'AMAZON_COGNITO_USER_POOLS', issuer: cognitoIssuer(cognito), jwksFile: opts.cognitoJwksFile });
  return {
    issuers,
    oidcJwks: opts.oidcJwksFile ? readJwksFile(opts.oidcJwksFile, '--oidc-jwks') : undefined,
    cognitoJwks: opts.cognitoJwksFile ? readJwksFile(opts.cognitoJwksFile, '--cognito-jwks') : undefined,
  };
}

export interface PubSubEvent {
  eventBusName: string;
  source: string;
  detailType: string;
  detail: unknown;
  time: string;
}

const PUB_SUB_EVENTS_KEPT = 1000;

/**
 * EventBridge for the emulator: there is no bus locally, so PutEvents entries are
 * logged and kept in memory, where developers and tests can see the side events
 * `emitPubSubEvent` produces instead of having them vanish.
 */
function localEventBridge(sink: PubSubEvent[], logger: Logger) {
  return {
    async send(cmd: { input?: { Entries?: Array<{ EventBusName?: string; Source?: string; DetailType?: string; Detail?: string }> } }) {
      const entries = cmd.input?.Entries ?? [];
      for (const e of entries) {
        let detail: unknown = e.Detail;
        try {
          detail = JSON.parse(e.Detail ?? 'null');
        } catch {
          // kept as text
        }
        const event = { eventBusName: e.EventBusName ?? 'default', source: e.Source ?? '', detailType: e.DetailType ?? '', detail, time: new Date().toISOString() };
        sink.push(event);
        if (sink.length > PUB_SUB_EVENTS_KEPT) sink.shift();
        logger.info('eventbridge put', { eventBusName: event.eventBusName, source: event.source, detailType: event.detailType, id: (detail as { id?: unknown })?.id });
      }
      return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
    },
  };
}

/** The emulator's fixed access key id (the secret is random unless given). */
export const DEV_ACCESS_KEY_ID = 'AKIDEVENTSOCKLOCAL';

const CONSOLE_DIR = join(__dirname, 'console');
const CONSOLE_ASSETS: Record<string, string> = {
  '/console/console.js': 'text/javascript; charset=utf-8',
  '/console/members.js': 'text/javascript; charset=utf-8',
  '/console/console.css': 'text/css; charset=utf-8',
};
/** Paths where the Lambda Invoke API puts the publish function, so SDK LambdaClients with an endpoint override work. */
const INVOKE_API_RE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * A fetch for the publish function's deliveries over TLS: Node's global fetch cannot
 * be told to trust one extra certificate, node:https can.
 */
export function trustingFetch(ca: string): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(init.body as ArrayBuffer);
    return new Promise<Response>((ok, fail) => {
      const req = httpsRequest(url, { method: init.method ?? 'GET', headers, ca, signal: init.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 502;
          ok(new Response([101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: h }));
        });
      });
      req.on('error', fail);
      req.end(body);
    });
  }) as typeof fetch;
}

/** Claims of the dev token: everything on every namespace, for a day. */
export function devTokenChannels(config: ResolvedConfig): Record<string, { subscribe: true; publish: true; history: true }> {
  const channels: Record<string, { subscribe: true; publish: true; history: true }> = {};
  for (const ns of Object.keys(config.namespaces)) channels[`/${ns}/*`] = { subscribe: true, publish: true, history: true };
  return channels;
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger({ level: opts.verbose ? 'debug' : 'info' });
  const region = opts.region ?? 'us-east-1';
  const bindHost = opts.host ?? '127.0.0.1';

  const devTokenSecret = opts.devTokenSecret ?? randomBytes(32).toString('base64url');
  const devApiKey = opts.devApiKey ?? `esk_dev_${randomBytes(24).toString('base64url')}`;
  const appSyncApiKey = config.auth.apiKey ? (opts.appSyncApiKey ?? `da2-${randomBytes(13).toString('hex')}`) : undefined;
  const appSyncApiKeyExpiresAt = opts.appSyncApiKeyExpiresAt ?? Date.now() + (config.auth.apiKey?.lifetimeDays ?? API_KEY_LIFETIME_DAYS.default) * 86_400_000;
  const iamCredentials = opts.iamCredentials?.length ? opts.iamCredentials : [{ accessKeyId: DEV_ACCESS_KEY_ID, secretAccessKey: randomBytes(30).toString('base64url') }];

  // The secrets the handlers would read from SSM, under the same parameter names.
  const secretMap = new Map<string, string>();
  config.tokens.hs256Keys.forEach((k, i) => secretMap.set(k.parameterName, i === 0 ? devTokenSecret : randomBytes(32).toString('base64url')));
  secretMap.set(config.publish.apiKeyParameterNames[0], devApiKey);
  secretMap.set(config.publish.apiKeyParameterNames[1], `esk_dev_${randomBytes(24).toString('base64url')}`);
  const secrets = staticSecretSource(secretMap);

  // Before anything starts: a bad JWKS file fails here, naming the flag.
  const tokenKeys = tokenIssuers(config, opts);

  let tls: TlsMaterial | undefined;
  if (opts.tls) tls = await loadTls(opts.tls === true ? {} : { certFile: opts.tls.certFile, keyFile: opts.tls.keyFile, dir: opts.tls.dir });

  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        logger.warn('cleanup step failed', { error: (e as Error).message });
      }
    }
  };

  try {
    const dynamo: LocalDynamo = await startDynalite({ path: opts.dataDir ? resolve(opts.dataDir) : undefined });
    cleanups.push(() => dynamo.close());
    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, region, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
    cleanups.push(() => dynamoClient.destroy());

    // Routes are installed once the port (and so the signed host) is known.
    let route: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
    let upgrade: ((req: IncomingMessage, socket: Socket, head: Buffer) => void) | undefined;
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (!route) return sendJson(res, 503, { message: 'starting' });
      route(req, res).catch((e: Error) => {
        logger.error('request failed', { path: req.url?.split('?')[0], error: e.message });
        if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
        else res.destroy();
      });
    };
    const timeouts = resolveTimeouts(opts.timeouts);
    const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, ...serverTimeoutOptions(timeouts) }, onRequest) : createHttpServer(serverTimeoutOptions(timeouts), onRequest);
    applyIdleTimeout(server, timeouts);
    const bodyBudget = new ByteBudget(opts.maxBufferedRequestBytes ?? 64 * 1024 * 1024);
    // Names a Host header may carry for the console's secrets: loopback names, and the bind host when it is one.
    const configuredHosts = bindHost === '0.0.0.0' || bindHost === '::' ? [] : [bindHost];
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (!upgrade) return socket.destroy();
      upgrade(req, socket, head);
    });
    server.on('clientError', (_e, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(opts.port ?? 4000, bindHost, () => {
        server.off('error', fail);
        ok();
      });
    });
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    cleanups.push(
      () =>
        new Promise<void>((ok) => {
          server.close(() => ok());
          // Keep-alive HTTP sockets would hold close() open.
          for (const s of sockets) s.destroy();
        }),
    );

    const port = (server.address() as AddressInfo).port;
    const publicHost = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost.includes(':') ? `[${bindHost}]` : bindHost;
    const httpHost = `${publicHost}:${port}`;
    const scheme = tls ? 'https' : 'http';
    const url = `${scheme}://${httpHost}`;
    const wsUrl = `${tls ? 'wss' : 'ws'}://${httpHost}/event/realtime`;
    const settings = runtimeSettings(config, { eventApiHttpHost: httpHost, region });
    await createTables(dynamoClient, settings.tables);

    const handlerLogger = (fn: string) => logger.child({ fn });
    const authorizer = createAuthorizerHandler({
      settings,
      secrets,
      logger: handlerLogger('authorizer'),
      revocations: createRevocationCheck({ dynamo: dynamoClient, table: settings.tables.revocations, now: Date.now }),
    });
    const pubSubEvents: PubSubEvent[] = [];
    const eventBridge = localEventBridge(pubSubEvents, handlerLogger('eventbridge'));
    // The namespaces' Lambda data source, wired as the stack wires it (namespaceHandlerConfigs).
    const socketPublish = createSocketPublishHandler({ settings, dynamo: dynamoClient, eventBridge, logger: handlerLogger('socket-publish') });
    const handlerConfigs: Record<string, NamespaceHandlerConfigs> = {};
    for (const ns of Object.values(config.namespaces)) {
      const c = namespaceHandlerConfigs(ns);
      if (c) handlerConfigs[ns.name] = c;
    }
    const eventApi = createEventApi({
      dataSources: { [SOCKET_PUBLISH_DATA_SOURCE]: { type: 'AWS_LAMBDA', invoke: socketPublish } },
      handlerConfigs,
      config,
      region,
      authorizer,
      iamCredentials,
      apiKeys: appSyncApiKey ? [appSyncApiKey] : undefined,
      apiKeyExpiresAt: appSyncApiKey ? new Map([[appSyncApiKey, appSyncApiKeyExpiresAt]]) : undefined,
      oidcJwks: tokenKeys.oidcJwks,
      cognitoJwks: tokenKeys.cognitoJwks,
      jwksFetch: opts.jwksFetch,
      namespaceHandlerCode: namespaceHandlerCode(config),
      keepAliveIntervalMs: opts.keepAliveIntervalMs,
      logger: handlerLogger('event-api'),
      verbose: opts.verbose,
    });
    cleanups.push(() => eventApi.close());

    const publish = createPublishHandler({
      settings,
      dynamo: dynamoClient,
      secrets,
      eventApiUrl: `${url}/event`,
      credentials: iamCredentials[0],
      fetch: tls ? trustingFetch(tls.cert) : undefined,
      eventBridge,
      logger: handlerLogger('publish'),
    });
    const history = createHistoryHandler({ settings, dynamo: dynamoClient, secrets, logger: handlerLogger('history') });
    cleanups.push(startPresenceSweeps(publish, opts.presenceSweepMs ?? config.presence.sweepSeconds * 1000, config, handlerLogger('presence-sweep')));

    const consoleHtml = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
    const devToken = config.tokens.algorithms.includes('HS256') && config.tokens.hs256Keys.length
      ? await signToken({
          secret: devTokenSecret,
          kid: config.tokens.hs256Keys[0].kid,
          channels: devTokenChannels(config),
          scope: ['connect', 'subscribe'],
          uid: 'dev',
          umd: { name: 'local developer' },
          ttlSeconds: 24 * 3600,
          issuer: Array.isArray(config.tokens.issuer) ? config.tokens.issuer[0] : config.tokens.issuer,
          audience: Array.isArray(config.tokens.audience) ? config.tokens.audience[0] : config.tokens.audience,
        })
      : '';
    if (!devToken) logger.warn('no dev token: tokens.algorithms does not allow HS256, so sign tokens with your own key');

    const domainName = (fn: string) => `${fn}.lambda-url.${region}.localhost`;
    const credentialsById = new Map(iamCredentials.map((c) => [c.accessKeyId, { secretAccessKey: c.secretAccessKey }]));

    /**
     * A Function URL, with its CORS as AWS applies it in front of the function (the handler never
     * sees preflights). No origins means no CORS configuration: every request, OPTIONS too, reaches
     * the function, as on a URL without a cors block.
     */
    const functionUrl = (fn: 'publish' | 'history', handler: FunctionUrlHandler, origins: string[], method: 'GET' | 'POST') => async (req: IncomingMessage, res: ServerResponse) => {
      if (!originAllowed(originOf(req), [...origins, ...(opts.allowedOrigins ?? [])])) {
        return sendJson(res, 403, { error: { code: 'ORIGIN_NOT_ALLOWED', message: `origin: ${JSON.stringify(originOf(req)!.slice(0, 200))} may not call ${fn} here; allow it with ${fn}.corsAllowedOrigins (or the emulator's allowedOrigins)`, field: 'origin' } });
      }
      // No credentials at all: the function refuses on the headers, so its body is never buffered.
      const before = async (event: Parameters<FunctionUrlHandler>[0]) => (event.headers.authorization ? undefined : handler(event));
      const serve = () => serveFunctionUrl(req, res, handler, { domainName: domainName(fn), budget: bodyBudget, before, onError: (e) => logger.error(`${fn} handler threw`, { error: (e as Error).message }) });
      if (origins.length === 0) return serve();
      const origin = req.headers.origin;
      const allowed = origin && (origins.includes('*') || origins.includes(origin)) ? (origins.includes('*') ? '*' : origin) : undefined;
      if (req.method === 'OPTIONS') {
        res.writeHead(allowed ? 200 : 403, allowed
          ? { 'access-control-allow-origin': allowed, 'access-control-allow-methods': method, 'access-control-allow-headers': 'authorization,content-type', 'access-control-max-age': '300', vary: 'origin' }
          : {});
        res.end();
        return;
      }
      if (allowed) {
        res.setHeader('access-control-allow-origin', allowed);
        res.setHeader('vary', 'origin');
      }
      await serve();
    };
    const serveHistory = functionUrl('history', history as FunctionUrlHandler, settings.history.corsAllowedOrigins, 'GET');
    // The publish URL's CORS is the stack's: none unless publish.corsAllowedOrigins lists origins (then POST).
    const servePublish = functionUrl('publish', publish as FunctionUrlHandler, config.publish.corsAllowedOrigins, 'POST');

    /** Lambda invoke of the publish function, authorized with SigV4 for service `lambda` as the Invoke API is. */
    const invokePublish = async (req: IncomingMessage, res: ServerResponse, path: string, query: Record<string, string>) => {
      if (req.method !== 'POST') return sendJson(res, 405, { message: 'use POST' }, { allow: 'POST' });
      let raw: Buffer;
      try {
        raw = await readBody(req, undefined, bodyBudget);
      } catch (e) {
        if ((e as EventsockError).code === 'SERVER_BUSY') return sendJson(res, 503, { message: (e as Error).message }, { 'x-amzn-errortype': 'TooManyRequestsException', 'retry-after': '1' });
        return sendJson(res, 413, { message: (e as Error).message }, { 'x-amzn-errortype': 'RequestTooLargeException' });
      }
      const body = raw.toString('utf8');
      const check = await verifySigV4({ method: 'POST', path, query, headers: req.headers, body }, { credentials: (id) => credentialsById.get(id), region, service: 'lambda' });
      if (!check.ok) {
        logger.info('invoke refused', { reason: check.reason });
        return sendJson(res, 403, { message: `SigV4 check failed: ${check.reason}: ${check.detail}` }, { 'x-amzn-errortype': 'InvalidSignatureException' });
      }
      let payload: unknown;
      try {
        payload = body === '' ? {} : JSON.parse(body);
      } catch {
        return sendJson(res, 400, { message: 'the invoke payload is not JSON' }, { 'x-amzn-errortype': 'InvalidRequestContentException' });
      }
      try {
        const out = await (publish as (p: unknown) => Promise<unknown>)(payload);
        // The Invoke API answers 200 with the function's return value as the body.
        sendJson(res, 200, out ?? null, { 'x-amz-executed-version': '$LATEST' });
      } catch (e) {
        logger.error('publish handler threw on invoke', { error: (e as Error).message });
        sendJson(res, 200, { errorType: (e as Error).name ?? 'Error', errorMessage: (e as Error).message }, { 'x-amz-function-error': 'Unhandled' });
      }
    };

    const serveConsole = (req: IncomingMessage, res: ServerResponse, path: string) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { message: 'use GET' }, { allow: 'GET' });
      if (path === '/') {
        // The dev secrets go only to a browser on this machine, even when bound wider, and only
        // under a name of this machine: a rebound DNS name (another site's page) gets a 403.
        if (!hostAllowed(req.headers.host, configuredHosts)) {
          return sendJson(res, 403, { error: { code: 'HOST_NOT_ALLOWED', message: `host: ${JSON.stringify(String(req.headers.host ?? '').slice(0, 200))} is not a name of this emulator (localhost, 127.0.0.1, [::1]${configuredHosts.length ? `, ${configuredHosts.join(', ')}` : ''}); the console hands out dev secrets only under those`, field: 'host' } });
        }
        const local = isLoopback(req.socket.remoteAddress);
        const boot = {
          devToken: local ? devToken : '',
          devApiKey: local ? devApiKey : '',
          defaultNamespace: config.defaultNamespace,
          namespaces: Object.values(config.namespaces).map((n) => ({ name: n.name, clientPublish: n.clientPublish, presence: n.presence })),
        };
        const script = `<script>window.EVENTSOCK_BOOT = ${JSON.stringify(boot).replace(/</g, '\\u003c')};</script>`;
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(consoleHtml.replace('<!--EVENTSOCK_BOOT-->', script));
        return;
      }
      const type = own(CONSOLE_ASSETS, path);
      if (!type) return sendJson(res, 404, { message: `no route for ${path}` });
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' });
      res.end(readFileSync(join(CONSOLE_DIR, path.slice('/console/'.length))));
    };

    route = async (req, res) => {
      const full = req.url ?? '/';
      const q = full.indexOf('?');
      const path = q === -1 ? full : full.slice(0, q);
      const started = Date.now();
      const bad = malformedPath(path);
      if (bad) return sendJson(res, 400, { error: { code: 'MALFORMED_PATH', message: bad, field: 'path' } });
      if (opts.verbose) res.on('finish', () => logger.debug('http', { method: req.method, path, status: res.statusCode, ms: Date.now() - started }));

      if (path === '/event' || path === '/event/') {
        const handled = await eventApi.handleHttp(req, res);
        if (!handled && !res.headersSent) sendJson(res, 404, { message: `no route for ${path}` });
        return;
      }
      if (path === '/publish') {
        if (!config.publish.httpEndpoint) return sendJson(res, 404, { message: 'the publish HTTP endpoint is disabled (publish.httpEndpoint: false)' });
        return servePublish(req, res);
      }
      if (path === '/presence') {
        // Two Function URLs in AWS: POST (join, heartbeat, leave) is the publish function's, GET (members) the history function's.
        const preflight = req.method === 'OPTIONS' ? String(req.headers['access-control-request-method'] ?? '').toUpperCase() : '';
        if (req.method === 'POST' || preflight === 'POST') {
          if (!config.publish.httpEndpoint) return sendJson(res, 404, { message: 'the publish HTTP endpoint is disabled (publish.httpEndpoint: false)' });
          return servePublish(req, res);
        }
        if (!settings.history.enabled) return sendJson(res, 404, { message: 'the history API is disabled (history.enabled: false)' });
        return serveHistory(req, res);
      }
      if (path === '/revoke') {
        if (!config.publish.httpEndpoint) return sendJson(res, 404, { message: 'the publish HTTP endpoint is disabled (publish.httpEndpoint: false)' });
        return servePublish(req, res);
      }
      if (path === '/history') {
        if (!settings.history.enabled) return sendJson(res, 404, { message: 'the history API is disabled (history.enabled: false)' });
        return serveHistory(req, res);
      }
      const query = Object.fromEntries(new URLSearchParams(q === -1 ? '' : full.slice(q + 1)));
      if (path === '/invoke/publish') return invokePublish(req, res, path, query);
      const m = INVOKE_API_RE.exec(path);
      if (m) {
        const name = decodeURIComponent(m[1]);
        const fn = name.split(':function:').pop()!.split(':')[0];
        if (fn !== 'publish' && fn !== `${config.name}-publish`) {
          return sendJson(res, 404, { Type: 'User', message: `Function not found: ${name} (the emulator runs ${config.name}-publish)` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
        }
        return invokePublish(req, res, path, query);
      }
      if (path === '/' || path.startsWith('/console/')) return serveConsole(req, res, path);
      if (path === '/healthz') return sendJson(res, 200, { ok: true });
      sendJson(res, 404, { message: `no route for ${path}` });
    };
    upgrade = (req, socket, head) => {
      const path = (req.url ?? '/').split('?')[0];
      const refuse = (status: string, code: string, message: string) => {
        const body = JSON.stringify({ error: { code, message } });
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      };
      const bad = malformedPath(path);
      if (bad) return refuse('400 Bad Request', 'MALFORMED_PATH', bad);
      if (!originAllowed(originOf(req), opts.allowedOrigins ?? [])) {
        return refuse('403 Forbidden', 'ORIGIN_NOT_ALLOWED', `origin: ${JSON.stringify(originOf(req)!.slice(0, 200))} may not open the Event API socket here; allow it with the emulator's allowedOrigins (--allow-origin)`);
      }
      if (eventApi.handleUpgrade(req, socket, head)) return;
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    };

    for (const t of tokenKeys.issuers) {
      if (t.jwksFile) logger.info('token issuer keys from file', { mode: t.mode, issuer: t.issuer, jwksFile: t.jwksFile });
      else logger.info('token issuer keys will be fetched from the issuer on first use (needs the network; give a JWKS file to run offline)', { mode: t.mode, issuer: t.issuer });
    }
    logger.info('eventsock emulator listening', { url, wsUrl, region, tls: !!tls, dataDir: opts.dataDir ?? null });
    let closing: Promise<void> | undefined;
    return {
      url,
      wsUrl,
      httpHost,
      port,
      devToken,
      devApiKey,
      appSyncApiKey,
      appSyncApiKeyExpiresAt: appSyncApiKey ? appSyncApiKeyExpiresAt : undefined,
      iamCredentials,
      settings,
      tls: tls ? { certFile: tls.certFile, cert: tls.cert, generated: tls.generated } : undefined,
      dynamoEndpoint: dynamo.endpoint,
      dynamoRequests: () => dynamo.requests(),
      pubSubEvents,
      tokenIssuers: tokenKeys.issuers,
      close: () => (closing ??= cleanup()),
    };
  } catch (e) {
    // A half-started emulator must not keep dynalite or the port.
    await cleanup();
    throw e;
  }
}

/**
 * The emulator's stand-in for the stack's EventBridge schedule: the publish function is
 * invoked with `{ "eventsock": "presence-sweep" }` every `everyMs`, never two at once.
 * Only when a namespace has presence. Returns the cleanup that stops it.
 */
function startPresenceSweeps(publish: (e: { eventsock: 'presence-sweep' }) => Promise<unknown>, everyMs: number, config: ResolvedConfig, logger: Logger): () => Promise<void> {
  if (!Object.values(config.namespaces).some((n) => n.presence) || !(everyMs > 0)) return async () => undefined;
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = publish({ eventsock: 'presence-sweep' })
      .catch((e: unknown) => logger.error('presence sweep failed', { error: (e as Error)?.message }))
      .finally(() => (running = undefined));
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
