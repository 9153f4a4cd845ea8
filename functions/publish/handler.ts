/**
 * The publish function: `POST /publish` on its Function URL with a bearer API key
 * (a backend) or a bearer JWT (a client, see token-publish.ts), and direct Lambda
 * invoke (IAM) with one message or `{ messages: [...] }`.
 * Both answer the same bodies:
 * - one message: `{ id, channel, event }` (plus `duplicate: true` and `duplicateOf: { id, channel }`,
 *   the first message's, for a repeat);
 * - a batch: `{ results: [...] }`, one per message in order, each either the above
 *   or `{ channel, event, error }`;
 * - refused: `{ error: { code, message, field?, limit? } }`.
 * Over HTTP: 202 when everything was published, 207 for a batch where only some was,
 * 400 invalid, 401 bad key (never saying which) or refused token (the reason code in
 * the message, as the history API), 403 a token not granted a message, 413 body too
 * large, 404/405 for other paths and methods, 409/502/503 for a single message that
 * failed, 503 SECRET_UNAVAILABLE / JWKS_UNAVAILABLE with Retry-After when the keys
 * cannot be read (SSM down).
 *
 * The same URL serves `POST /presence` (a client JWT: join, heartbeat, leave;
 * functions/presence/service.ts) and `POST /revoke` (an API key: revoke a uid or a jti,
 * functions/shared/revocations.ts); invoke takes `{ revoke: {...} }` and the schedule's
 * `{ "eventsock": "presence-sweep" }`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { RuntimeSettings } from '../core/config';
import { ConfigError, EventsockError } from '../core/errors';
import { LIMITS } from '../core/limits';
import { validatePublishRequest, type MessageRules, type PublishMessage } from '../core/message';
import { bearerToken, bodyBytes, bodyText, errorBody, isHttpEvent, json, toErrorBody, type ErrorBody, type HttpEvent, type HttpResult } from '../shared/http';
import { createLogger, type Logger } from '../shared/log';
import type { SecretSource } from '../shared/secrets';
import type { ParsedClaims } from '../core/claims';
import { KEYS_RETRY_AFTER_SECONDS, tokenRefusalAnswer } from '../tokens/http-refusal';
import { createTokenVerifier, type TokenVerifier } from '../tokens/verify';
import { createApiKeyCheck } from './api-keys';
import { createDedup } from './dedup';
import { createDeliverer, type DeliveryOptions } from './deliver';
import { createEmitter } from './emit';
import { createIdAllocator } from './ids';
import { publishMessages, type FaultHook, type PublishResult } from './publish';
import { firstRefusal, looksLikeJwt, metaJsonOf, refuseBackendFields, scopeDedupIds } from './token-publish';
import { createRevocationCheck, withRevocations } from '../shared/revocations';
import { createPresenceWiring, isPresenceSweep, isRevokeInvoke, type PresenceWiring } from './presence-wiring';

export type PublishInvokePayload = PublishMessage | { messages: PublishMessage[] } | { revoke: { uid?: string; jti?: string; expiresInSeconds?: number } } | { eventsock: 'presence-sweep' };
export type PublishBody = PublishResult | { results: PublishResult[] } | ErrorBody;

export interface PublishHandlerDeps {
  settings: RuntimeSettings;
  dynamo: Pick<DynamoDBClient, 'send'>;
  secrets: SecretSource;
  /** Where the HS256 token secrets are read (their own cache time, tokens.secretsCacheSeconds). Default: `secrets`. */
  tokenSecrets?: SecretSource;
  /** Verifies client tokens. Default: createTokenVerifier(settings.tokens, { secrets: tokenSecrets, now, logger }), as the history function. */
  verifier?: TokenVerifier;
  /** Where deliveries are POSTed. Default: `https://${settings.eventApiHttpHost}/event`. Its host is sent as Host, so it should be the signed host. */
  eventApiUrl?: string;
  /** The credentials that sign deliveries (the function's role). */
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch?: typeof fetch;
  eventBridge?: { send(cmd: never): Promise<unknown> };
  logger?: Logger;
  now?: () => number;
  delivery?: DeliveryOptions;
  /** Pause between looks at a deduplicationId another publish holds. Default: 25 ms. */
  dedupPollMs?: number;
  /** Largest HTTP body. Default: room for a full batch of maximum messages, at most the Function URL's 6 MB. */
  maxBodyBytes?: number;
  /** Tests only: awaited at each named step of the pipeline (publish.ts); a hook that never returns is a crash there. */
  fault?: FaultHook;
}

export type PublishHandler = (event: HttpEvent | PublishInvokePayload) => Promise<HttpResult | PublishBody>;

const PUBLISH_PATHS = new Set(['/publish', '/publish/']);
const PRESENCE_PATHS = new Set(['/presence', '/presence/']);
const REVOKE_PATHS = new Set(['/revoke', '/revoke/']);
const FUNCTION_URL_MAX_BYTES = 6 * 1024 * 1024;

function statusFor(code: string): number {
  switch (code) {
    case 'DUPLICATE_IN_FLIGHT':
      return 409;
    case 'EVENT_TOO_LARGE':
      return 413;
    case 'DELIVERY_FAILED':
    case 'DELIVERY_REFUSED':
      return 502;
    case 'ID_CONTENTION':
    case 'STORE_FAILED':
      return 503;
    default:
      return 500;
  }
}

export function createPublishHandler(deps: PublishHandlerDeps): PublishHandler {
  const { settings } = deps;
  if (!settings.eventApiHttpHost) throw new ConfigError('eventApiHttpHost', 'is empty: the publish function needs the Event API HTTP host to deliver to');
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger({ fields: { fn: 'publish' } });
  const rules: MessageRules = { defaultNamespace: settings.defaultNamespace, namespaces: settings.namespaces, maxDataBytes: settings.publish.maxDataBytes };
  const maxBodyBytes = deps.maxBodyBytes ?? Math.min(FUNCTION_URL_MAX_BYTES, LIMITS.publishBatchMax * (settings.publish.maxDataBytes + 2048));
  const delivery = { budgetMs: 10_000, ...deps.delivery };
  const checkKey = createApiKeyCheck(deps.secrets, settings.publish.apiKeyParameterNames);
  const revocations = createRevocationCheck({ dynamo: deps.dynamo, table: settings.tables.revocations, now });
  const verifier = withRevocations(deps.verifier ?? createTokenVerifier(settings.tokens, { secrets: deps.tokenSecrets ?? deps.secrets, now, logger }), revocations, (e) =>
    logger.error('revocations could not be read', { error: (e as Error)?.name }),
  );
  const deliverer = createDeliverer({
    ...delivery,
    host: settings.eventApiHttpHost,
    url: deps.eventApiUrl ?? `https://${settings.eventApiHttpHost}/event`,
    region: settings.region,
    credentials: deps.credentials,
    fetch: deps.fetch ?? fetch,
    now,
  });
  const publisherDeps = {
    dynamo: deps.dynamo,
    messagesTable: settings.tables.messages,
    namespaces: settings.namespaces,
    ids: createIdAllocator({ dynamo: deps.dynamo, headsTable: settings.tables.heads, now }),
    // The lease covers a whole publish: one delivery budget for all chunks, plus the writes around it.
    dedup: createDedup({ dynamo: deps.dynamo, table: settings.tables.dedup, now, leaseMs: delivery.budgetMs + 5_000, pollMs: deps.dedupPollMs }),
    deliverer,
    emitter: deps.eventBridge
      ? createEmitter({ eventBridge: deps.eventBridge as { send(cmd: unknown): Promise<unknown> }, eventBusName: settings.publish.eventBusName, logger })
      : undefined,
    now,
    fault: deps.fault,
  };
  const presence: PresenceWiring = createPresenceWiring({ settings, dynamo: deps.dynamo, publisher: publisherDeps, eventBridge: deps.eventBridge, logger, now });

  /** `claims`: the verified token of a client publisher; absent for backends (API key, IAM). */
  async function run(input: unknown, log: Logger, claims?: ParsedClaims): Promise<{ status: number; body: PublishBody }> {
    let request;
    try {
      if (claims) refuseBackendFields(input);
      request = validatePublishRequest(input, rules);
      if (claims) {
        const refusal = firstRefusal(request.messages, claims, settings, request.batch);
        if (refusal) {
          log.info('publish refused', { code: refusal.code, field: refusal.field, index: refusal.index, uid: claims.uid, jti: claims.jti });
          return { status: 403, body: errorBody(refusal.code, refusal.message, { field: refusal.field }) };
        }
        request = { ...request, messages: scopeDedupIds(request.messages, claims, request.batch) };
      }
    } catch (e) {
      if (e instanceof EventsockError) {
        log.info('publish refused', { code: e.code, field: e.field, ...(claims ? { uid: claims.uid } : {}) });
        return { status: 400, body: toErrorBody(e) };
      }
      throw e;
    }
    const results = await publishMessages(request.messages, { ...publisherDeps, logger: log }, claims ? { metaJson: metaJsonOf(claims) } : {});
    const failed = results.filter((r) => 'error' in r).length;
    log.info('publish', {
      messages: results.length,
      failed,
      duplicates: results.filter((r) => 'duplicate' in r).length,
      ids: results.map((r) => ('id' in r ? r.id : null)),
      ...(claims ? { publisher: 'token', uid: claims.uid, jti: claims.jti } : {}),
    });
    if (request.batch) return { status: failed === 0 ? 202 : failed < results.length ? 207 : statusFor((results[0] as { error: { code: string } }).error.code), body: { results } };
    const r = results[0];
    if ('error' in r) return { status: statusFor(r.error.code), body: { error: r.error } };
    return { status: 202, body: r };
  }

  type Caller = { kind: 'key' } | { kind: 'token'; claims: ParsedClaims };

  /** Who is calling: an API key, or a client token (the keys are checked first), or the refusal to answer. */
  async function authenticate(event: HttpEvent, log: Logger, route: string): Promise<Caller | HttpResult> {
    const presented = bearerToken(event);
    const key = await checkKey(presented);
    // API keys first, whatever they look like; only a value that is no key and has the JWT shape is a token.
    if (key.result !== 'ok' && presented !== undefined && looksLikeJwt(presented)) {
      const v = await verifier.verify(presented);
      if (v.ok) return { kind: 'token', claims: v.claims };
      // Key material that cannot be read is an outage, not a bad token: 503 so that clients retry.
      const refused = tokenRefusalAnswer(v);
      if (refused.outage) {
        log.error(`${route} token keys unavailable`, { code: v.reason, retryAfterSeconds: KEYS_RETRY_AFTER_SECONDS });
        return json(refused.status, refused.body, refused.headers);
      }
      if (key.result === 'unavailable') {
        // Not a token, and maybe the (JWT-shaped) key in a slot that cannot be read: never a verdict while in doubt.
        log.error('publish API keys could not be read', { code: 'SECRET_UNAVAILABLE', parameters: key.parameters, retryAfterSeconds: key.retryAfterSeconds, tokenReason: v.reason });
        return json(503, errorBody('SECRET_UNAVAILABLE', 'the publish API keys could not be read; try again'), { 'retry-after': String(key.retryAfterSeconds) });
      }
      // The history API's answer for the same token (functions/tokens/http-refusal.ts).
      log.info(`${route} refused`, { code: 'UNAUTHORIZED', reason: v.reason, sourceIp: event.requestContext.http.sourceIp });
      return json(refused.status, refused.body, refused.headers);
    }
    if (key.result === 'unavailable') {
      // An operational failure (SSM), not a refused caller: 503 so that clients retry.
      log.error('publish API keys could not be read', { code: 'SECRET_UNAVAILABLE', parameters: key.parameters, retryAfterSeconds: key.retryAfterSeconds });
      return json(503, errorBody('SECRET_UNAVAILABLE', 'the publish API keys could not be read; try again'), { 'retry-after': String(key.retryAfterSeconds) });
    }
    if (key.result === 'mismatch') {
      log.warn(`${route} refused`, { code: 'UNAUTHORIZED', sourceIp: event.requestContext.http.sourceIp });
      return json(401, errorBody('UNAUTHORIZED', 'missing or invalid API key or token (Authorization: Bearer <key or JWT>)'), { 'www-authenticate': 'Bearer' });
    }
    return { kind: 'key' };
  }

  async function http(event: HttpEvent, log: Logger): Promise<HttpResult> {
    const path = event.rawPath;
    const route = PUBLISH_PATHS.has(path) ? 'publish' : PRESENCE_PATHS.has(path) ? 'presence' : REVOKE_PATHS.has(path) ? 'revoke' : undefined;
    if (!route) return json(404, errorBody('NOT_FOUND', `no route for ${path.slice(0, 100)}; POST /publish, /presence or /revoke`));
    if (event.requestContext.http.method.toUpperCase() !== 'POST') {
      return json(405, errorBody('METHOD_NOT_ALLOWED', `${event.requestContext.http.method.slice(0, 20)} is not allowed on /${route}; use POST`), { allow: 'POST' });
    }
    const caller = await authenticate(event, log, route);
    if ('statusCode' in caller) return caller;
    if (route === 'presence' && caller.kind !== 'token') {
      return json(403, errorBody('PRESENCE_NEEDS_TOKEN', 'presence is for clients: call /presence with the client JWT (the member is its uid), not an API key'));
    }
    if (route === 'revoke' && caller.kind !== 'key') {
      return json(403, errorBody('REVOKE_NEEDS_KEY', 'revoking is for backends: call /revoke with a publish API key (or invoke the function with IAM)'));
    }
    const size = bodyBytes(event);
    if (size > maxBodyBytes) {
      return json(413, errorBody('PAYLOAD_TOO_LARGE', `request body is ${size} bytes; at most ${maxBodyBytes} are allowed`, { field: 'body', limit: maxBodyBytes }));
    }
    let input: unknown;
    try {
      input = JSON.parse(bodyText(event));
    } catch {
      const shape = route === 'publish' ? 'one message or { "messages": [...] }' : route === 'presence' ? '{ action, channels, connectionId }' : '{ uid } or { jti }';
      return json(400, errorBody('INVALID_JSON', `request body must be JSON: ${shape}`, { field: 'body' }));
    }
    if (route === 'presence') {
      const { status, body } = await presence.post((caller as { claims: ParsedClaims }).claims, input, log);
      return json(status, body);
    }
    if (route === 'revoke') {
      const { status, body } = await presence.revoke(input, log);
      return json(status, body);
    }
    const { status, body } = await run(input, log, caller.kind === 'token' ? caller.claims : undefined);
    return json(status, body);
  }

  async function invoke(event: unknown, log: Logger): Promise<PublishBody> {
    if (isPresenceSweep(event)) return (await presence.sweep(log)) as unknown as PublishBody;
    if (isRevokeInvoke(event)) return (await presence.revoke(event.revoke, log)).body as unknown as PublishBody;
    return (await run(event, log)).body;
  }

  return async (event) => {
    const log = logger.child({ requestId: isHttpEvent(event) ? event.requestContext.requestId : undefined });
    try {
      if (isHttpEvent(event)) return await http(event, log);
      return await invoke(event, log);
    } catch (e) {
      log.error('publish failed', { error: (e as Error)?.message });
      const body = toErrorBody(e);
      return isHttpEvent(event) ? json(statusFor(body.error.code), body) : body;
    }
  };
}
