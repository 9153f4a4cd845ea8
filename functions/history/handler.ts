/**
 * The history API: stored messages of one channel, or of a wildcard pattern
 * (`/chat/*`, see pattern.ts), in id order, paged.
 * - Function URL: `GET /history?channel=&after=&limit=` with `Authorization: Bearer <JWT>`
 *   whose claims grant `history` on the channel (verified by functions/tokens, the
 *   same code as the authorizer), CORS for browsers, OPTIONS preflight.
 * - Lambda invoke (IAM decides who may invoke): `{ channel, after?, limit? }`.
 * Both answer `{ channel, items: [envelope...], next? }` (`next` is the `after` of the
 * following page) or `{ error: { code, message, field?, limit? } }`. Expired messages
 * are never returned, whether or not TTL has deleted them yet.
 *
 * The same URL serves `GET /presence?channel=&limit=&after=&count=only` (presence
 * members, functions/presence/service.ts) for a token granting `subscribe` or
 * `history` on the channel: `{ channel, count, members: [{ uid, umd, since }], next? }`.
 * Revoked tokens are refused here as everywhere (functions/shared/revocations.ts).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Channel, parseChannel, resolvePublishChannel } from '../core/channels';
import { isGranted } from '../core/claims';
import type { RuntimeSettings } from '../core/config';
import { EventsockError } from '../core/errors';
import { LIMITS } from '../core/limits';
import { isMessageId } from '../core/message';
import { own } from '../core/own';
import { bearerToken, errorBody, header, isHttpEvent, json, toErrorBody, type ErrorBody, type HttpEvent, type HttpResult } from '../shared/http';
import { createLogger, type Logger } from '../shared/log';
import { queryMessages, type MessagePage } from '../shared/messages-table';
import type { SecretSource } from '../shared/secrets';
import { KEYS_RETRY_AFTER_SECONDS, tokenRefusalAnswer } from '../tokens/http-refusal';
import { createTokenVerifier, type TokenVerifier } from '../tokens/verify';
import { grantsPatternHistory, PATTERN_MAX_EXAMINED, queryPattern } from './pattern';
import { createRevocationCheck, withRevocations } from '../shared/revocations';
import { createMembersTable } from '../presence/members';
import { createPresenceService, parsePresenceQuery } from '../presence/service';

export interface HistoryQuery {
  channel: string;
  after?: string;
  limit?: number;
}

export interface HistoryPageBody {
  channel: string;
  items: unknown[];
  next?: string;
}

export type HistoryBody = HistoryPageBody | ErrorBody;

export interface HistoryHandlerDeps {
  settings: RuntimeSettings;
  dynamo: Pick<DynamoDBClient, 'send'>;
  secrets: SecretSource;
  logger?: Logger;
  now?: () => number;
  /** Default: createTokenVerifier(settings.tokens, { secrets, now, logger }). */
  verifier?: TokenVerifier;
  /** Index items one wildcard-pattern request may read before it answers with `next`. Default: PATTERN_MAX_EXAMINED. */
  patternMaxExamined?: number;
}

export type HistoryHandler = (event: HttpEvent | HistoryQuery) => Promise<HttpResult | HistoryBody>;

const QUERY_FIELDS = ['channel', 'after', 'limit'];
const HISTORY_PATHS = new Set(['/history', '/history/']);
const PRESENCE_PATHS = new Set(['/presence', '/presence/']);
const PREFLIGHT_MAX_AGE_SECONDS = 600;

const bad = (code: string, message: string, field: string, limit?: number) => new EventsockError(code, message, { field, limit });

/** Checks a query (from the URL or an invoke payload) and resolves the channel; throws EventsockError naming the field. */
export function parseHistoryQuery(q: Record<string, unknown>, settings: Pick<RuntimeSettings, 'defaultNamespace' | 'namespaces'>, fromUrl: boolean): { channel: Channel; after?: string; limit: number } {
  for (const k of Object.keys(q)) if (!QUERY_FIELDS.includes(k)) throw bad('UNKNOWN_FIELD', `${k.slice(0, 60)} is not a history parameter; expected channel, after, limit`, k.slice(0, 60));
  if (q.channel === undefined || q.channel === '') throw bad('MISSING_FIELD', 'channel is required', 'channel');
  // A trailing `/*` asks for a pattern (the subscription rule: `*` only as the last segment, not the namespace).
  const wildcard = typeof q.channel === 'string' && q.channel.includes('*') && q.channel.length <= LIMITS.channelMaxLength;
  const channel = wildcard ? parseChannel(q.channel, { allowWildcard: true, field: 'channel' }) : resolvePublishChannel(q.channel, settings.defaultNamespace);
  if (!own(settings.namespaces, channel.namespace)) throw bad('UNKNOWN_NAMESPACE', `channel: namespace ${JSON.stringify(channel.namespace)} is not configured`, 'channel');
  let after: string | undefined;
  if (q.after !== undefined && q.after !== '') {
    if (!isMessageId(q.after)) throw bad('INVALID_FIELD', 'after must be a message id (a 26-character ULID)', 'after');
    after = q.after;
  }
  let limit: number = LIMITS.historyDefaultLimit;
  if (q.limit !== undefined && q.limit !== '') {
    const n = fromUrl && typeof q.limit === 'string' && /^\d+$/.test(q.limit) ? Number(q.limit) : q.limit;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.historyMaxLimit) {
      throw bad('INVALID_FIELD', `limit must be a whole number from 1 to ${LIMITS.historyMaxLimit}`, 'limit', LIMITS.historyMaxLimit);
    }
    limit = n;
  }
  return { channel, after, limit };
}

export function createHistoryHandler(deps: HistoryHandlerDeps): HistoryHandler {
  const { settings } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger({ fields: { fn: 'history' } });
  const verifier = withRevocations(
    deps.verifier ?? createTokenVerifier(settings.tokens, { secrets: deps.secrets, now, logger }),
    createRevocationCheck({ dynamo: deps.dynamo, table: settings.tables.revocations, now }),
    (e) => logger.error('revocations could not be read', { error: (e as Error)?.name }),
  );
  // Reading members only: nothing here announces.
  const presence = createPresenceService({
    members: createMembersTable({ dynamo: deps.dynamo, table: settings.tables.presence, now }),
    settings,
    announce: async () => undefined,
    now,
    logger,
  });
  const origins = settings.history.corsAllowedOrigins;

  function cors(event: HttpEvent): Record<string, string> {
    const origin = header(event, 'origin');
    if (origins.includes('*')) return { 'access-control-allow-origin': '*' };
    if (origin && origins.includes(origin)) return { 'access-control-allow-origin': origin, vary: 'Origin' };
    return { vary: 'Origin' };
  }

  const page = (q: { channel: Channel; after?: string; limit: number }): Promise<MessagePage> =>
    q.channel.wildcard
      ? queryPattern(deps.dynamo, settings.tables.messages, { pattern: q.channel, after: q.after, limit: q.limit, nowMs: now(), maxExamined: deps.patternMaxExamined ?? PATTERN_MAX_EXAMINED })
      : queryMessages(deps.dynamo, settings.tables.messages, { channel: q.channel.path, after: q.after, limit: q.limit, nowMs: now() });

  /** The HTTP body, assembled around the stored envelope strings, which are already JSON: nothing is parsed. */
  function pageText(channel: Channel, p: MessagePage): string {
    const next = p.next !== undefined ? `,"next":${JSON.stringify(p.next)}` : '';
    return `{"channel":${JSON.stringify(channel.path)},"items":[${p.messages.map((m) => m.envelope).join(',')}]${next}}`;
  }

  /** The invoke answer is an object (Lambda serializes it): each stored envelope is parsed once. */
  function pageBody(channel: Channel, p: MessagePage): HistoryPageBody {
    const body: HistoryPageBody = { channel: channel.path, items: p.messages.map((m) => JSON.parse(m.envelope) as unknown) };
    if (p.next !== undefined) body.next = p.next;
    return body;
  }

  async function http(event: HttpEvent, log: Logger): Promise<HttpResult> {
    const c = cors(event);
    const method = event.requestContext.http.method.toUpperCase();
    const isPresence = PRESENCE_PATHS.has(event.rawPath);
    if ((!HISTORY_PATHS.has(event.rawPath) && !isPresence) || !settings.history.enabled) return json(404, errorBody('NOT_FOUND', `no route for ${event.rawPath.slice(0, 100)}; GET /history or /presence`), c);
    if (method === 'OPTIONS') {
      return {
        statusCode: 204,
        headers: { ...c, 'access-control-allow-methods': 'GET, OPTIONS', 'access-control-allow-headers': 'authorization, content-type', 'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS) },
        body: '',
      };
    }
    if (method !== 'GET') return json(405, errorBody('METHOD_NOT_ALLOWED', `${method.slice(0, 20)} is not allowed on /${isPresence ? 'presence' : 'history'}; use GET`), { ...c, allow: 'GET, OPTIONS' });
    if (isPresence) return presenceHttp(event, log, c);

    let q;
    try {
      q = parseHistoryQuery({ ...(event.queryStringParameters ?? {}) } as Record<string, unknown>, settings, true);
    } catch (e) {
      if (e instanceof EventsockError) return json(400, toErrorBody(e), c);
      throw e;
    }
    const claims = await claimsOf(event, log, c, q.channel.path, 'history');
    if ('statusCode' in claims) return claims;
    const v = { claims };
    if (!(q.channel.wildcard ? grantsPatternHistory(v.claims, q.channel) : isGranted(v.claims, 'history', q.channel))) {
      log.info('history refused', { reason: 'NOT_GRANTED', channel: q.channel.path, uid: v.claims.uid, jti: v.claims.jti });
      return json(403, errorBody('FORBIDDEN', `the token does not grant history on ${q.channel.path}`, { field: 'channel' }), c);
    }
    const p = await page(q);
    log.info('history', { channel: q.channel.path, count: p.messages.length, uid: v.claims.uid });
    return { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...c }, body: pageText(q.channel, p) };
  }

  /** The bearer token's claims, or the refusal (the same answers as history). */
  async function claimsOf(event: HttpEvent, log: Logger, c: Record<string, string>, channel: string, route: string) {
    const token = bearerToken(event);
    if (!token) {
      log.info(`${route} refused`, { reason: 'TOKEN_MISSING', channel });
      return json(401, errorBody('UNAUTHORIZED', 'missing bearer token (Authorization: Bearer <JWT>)'), { ...c, 'www-authenticate': 'Bearer' });
    }
    const v = await verifier.verify(token);
    if (v.ok) return v.claims;
    log.info(`${route} refused`, { reason: v.reason, channel });
    const refused = tokenRefusalAnswer(v);
    if (refused.outage) log.error(`${route} token keys unavailable`, { code: v.reason, channel, retryAfterSeconds: KEYS_RETRY_AFTER_SECONDS });
    // Retry-After is not a CORS-safelisted response header: browsers hide it unless exposed.
    return json(refused.status, refused.body, { ...c, ...refused.headers, ...(refused.outage ? { 'access-control-expose-headers': 'Retry-After' } : {}) });
  }

  async function presenceHttp(event: HttpEvent, log: Logger, c: Record<string, string>): Promise<HttpResult> {
    let q;
    try {
      q = parsePresenceQuery({ ...(event.queryStringParameters ?? {}) } as Record<string, unknown>, settings);
    } catch (e) {
      if (e instanceof EventsockError) return json(400, toErrorBody(e), c);
      throw e;
    }
    const claims = await claimsOf(event, log, c, q.channel.path, 'presence');
    if ('statusCode' in claims) return claims;
    if (!isGranted(claims, 'subscribe', q.channel) && !isGranted(claims, 'history', q.channel)) {
      log.info('presence refused', { reason: 'NOT_GRANTED', channel: q.channel.path, uid: claims.uid, jti: claims.jti });
      return json(403, errorBody('FORBIDDEN', `the token grants neither subscribe nor history on ${q.channel.path}`, { field: 'channel' }), c);
    }
    const body = await presence.list(q.channel, q);
    return { statusCode: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...c }, body: JSON.stringify(body) };
  }

  async function invoke(payload: unknown): Promise<HistoryBody> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return errorBody('INVALID_MESSAGE', 'the payload must be { channel, after?, limit? }', { field: 'payload' });
    try {
      const q = parseHistoryQuery(payload as Record<string, unknown>, settings, false);
      return pageBody(q.channel, await page(q));
    } catch (e) {
      if (e instanceof EventsockError) return toErrorBody(e);
      throw e;
    }
  }

  return async (event) => {
    const log = logger.child({ requestId: isHttpEvent(event) ? event.requestContext.requestId : undefined });
    try {
      return isHttpEvent(event) ? await http(event, log) : await invoke(event);
    } catch (e) {
      log.error('history failed', { error: (e as Error)?.message });
      return isHttpEvent(event) ? json(500, toErrorBody(e), cors(event)) : toErrorBody(e);
    }
  };
}
