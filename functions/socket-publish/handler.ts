/**
 * The socket-publish function: the Lambda data source of every channel namespace with
 * `socketPublish: 'pipeline'`. AppSync Events invokes it for each publish to such a
 * namespace (handler_configs on_publish, behavior DIRECT, invoke type REQUEST_RESPONSE)
 * and broadcasts what it answers, so a client's WebSocket publish goes through the publish
 * pipeline (functions/publish/publish.ts `publishMessages`): grants, dedup, ids, storage,
 * EventBridge, meta from the verified identity.
 *
 * The payload AppSync sends and the answer it takes (sources, read for this):
 * - AWS AppSync Events developer guide, "Direct data source integrations using Lambda"
 *   (docs.aws.amazon.com/appsync/latest/eventapi/direct-lambda-integrations.html) and
 *   "Data source integrations" (data-source-integrations.html): REQUEST_RESPONSE returns
 *   `{ events: [{ id, payload } | { id, error }] }`, a top-level `error` fails the whole
 *   publish, EVENT invokes asynchronously and its answer is ignored.
 * - Powertools for AWS Lambda (TypeScript), packages/event-handler/src/appsync-events
 *   (utils.ts `isAppSyncEventsEvent` / `isAppSyncEventsPublishEvent`, the shape validated here:
 *   identity, request { headers, domainName }, info { channel { path, segments },
 *   channelNamespace { name }, operation }, events [{ id, payload }]; tests/events/onPublish.json),
 *   AppSyncEventsResolver.ts (per-event `{ id, error }`, top-level `{ error }`, and an
 *   UnauthorizedException thrown to refuse the publish with 403).
 *
 * What it does, per invocation (one publish: 1-5 events of one channel):
 * - IAM identity (`userArn` + `accountId`): the publish function's own deliveries of
 *   finished envelopes (and trusted services); passed through unchanged, as handlers.js does.
 * - Lambda-authorizer identity (`handlerContext`, or `resolverContext` as GraphQL calls it;
 *   written by functions/authorizer/handler-context.ts): the namespace must have
 *   clientPublish and a grant must cover the channel, else the whole publish is refused
 *   (UnauthorizedException, as util.unauthorized() in handlers.js). Each event
 *   `{ event, data?, nonce?, deduplicationId? }` is then checked alone; a refused one is
 *   `{ id, error: "<CODE>: <message>" }` (codes as handlers.js and the publish API:
 *   INVALID_PAYLOAD, INVALID_EVENT, RESERVED_EVENT, EVENT_NOT_ALLOWED, INVALID_NONCE,
 *   DATA_TOO_LARGE, INVALID_FIELD, FIELD_NOT_ALLOWED), the others go on. A payload's
 *   `id` and `meta` are ignored: the id comes from the channel head, meta from the
 *   verified identity only. A repeated deduplicationId (scoped per user, as token
 *   publishes through the publish API) is not delivered again: it is answered as
 *   `{ id, error: "DUPLICATE: ... <first id>" }`.
 * - Anything else (API key, OIDC, Cognito): refused.
 *
 * Exactly once: the Deliverer handed to publishMessages does not POST to `/event`; it
 * collects the envelopes, and the answer carries them. AppSync broadcasts the answer,
 * once. Stored messages are written before the answer (publishMessages' order), so a
 * subscriber that receives one can already read it from history.
 *
 * Ordering when two clients publish to one channel at once: each invocation allocates
 * its ids with one conditional write on the channel's head item (functions/publish/ids.ts:
 * `lastId < :first`), the same head the publish API uses, so ids on a channel are unique
 * and strictly increasing across socket and publish-API publishers, and history returns
 * them in that order. Within one publish the answer lists the events in id order and
 * AppSync sends them in answer order. Between two concurrent invocations nothing orders
 * the broadcasts: the one that allocated later may be answered (and delivered) first.
 * What subscribers can rely on: every message once; id order within one publish and in
 * history; live messages of concurrent publishers possibly out of id order (sort by id
 * when it matters; the client's reconnect catch-up merges history and live by id). One
 * client's publishes on one connection are handled one after another, so its own
 * messages are allocated and delivered in the order it sent them.
 *
 * Not undone: if AppSync cannot broadcast an answer after the function stored its
 * messages (the service does not tell the function), they stay in history and the
 * deduplicationId stays taken: readable and answered as a duplicate, never delivered live.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseChannel, parsePattern, patternMatches, type Channel } from '../core/channels';
import type { RuntimeSettings } from '../core/config';
import { own } from '../core/own';
import { validateEventName } from '../core/envelope';
import { EventsockError } from '../core/errors';
import { validateMessage, type MessageRules, type ValidatedMessage } from '../core/message';
import { createLogger, type Logger } from '../shared/log';
import { createDedup } from '../publish/dedup';
import type { Deliverer } from '../publish/deliver';
import { createEmitter } from '../publish/emit';
import { createIdAllocator } from '../publish/ids';
import { publishMessages, type FaultHook } from '../publish/publish';

/** One published event as AppSync hands it to the data source: its identifier and the parsed payload. */
export interface DataSourceEvent {
  id: string;
  payload: unknown;
}

/** The invocation payload of a direct Lambda integration (Powertools' AppSyncEventsPublishEvent). */
export interface DataSourcePublishEvent {
  identity: unknown;
  info: { channel: { path: string; segments: string[] }; channelNamespace: { name: string }; operation: 'PUBLISH' | 'SUBSCRIBE' };
  request?: { headers: Record<string, string>; domainName: string | null };
  events: DataSourceEvent[] | null;
  result?: unknown;
  error?: unknown;
  prev?: unknown;
  stash?: Record<string, unknown>;
  outErrors?: unknown[];
}

export type DataSourceOutgoing = { id: string; payload: unknown } | { id: string; error: string };
export interface DataSourceAnswer {
  events: DataSourceOutgoing[];
}

export interface SocketPublishHandlerDeps {
  settings: RuntimeSettings;
  dynamo: Pick<DynamoDBClient, 'send'>;
  eventBridge?: { send(cmd: never): Promise<unknown> };
  logger?: Logger;
  now?: () => number;
  /** Pause between looks at a deduplicationId another publish holds. Default: 25 ms. */
  dedupPollMs?: number;
  /** How long a dedup claim is held while this invocation publishes. Default: 15 s (longer than the function's timeout). */
  dedupLeaseMs?: number;
  /** Tests only: awaited at each named step of the publish pipeline (publish.ts); a hook that never returns is a crash there. */
  fault?: FaultHook;
}

export type SocketPublishHandler = (event: unknown) => Promise<DataSourceAnswer>;

/** Thrown to refuse a whole publish: the Lambda runtime reports errorType UnauthorizedException, which AppSync answers as unauthorized. */
export class UnauthorizedException extends Error {
  constructor(message = 'You are not authorized to make this call.') {
    super(message);
    this.name = 'UnauthorizedException';
  }
}

/** Thrown for a payload that is not an AppSync Events publish: the invocation fails (a wiring error, not a client's). */
export class InvalidDataSourceEvent extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidDataSourceEvent';
  }
}

const NONCE_RE = /^[A-Za-z0-9_-]{1,64}$/;
const BACKEND_ONLY = ['store', 'emitPubSubEvent'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Is this the payload AppSync sends for a publish (the checks of Powertools' isAppSyncEventsPublishEvent)? */
export function isDataSourcePublishEvent(e: unknown): e is DataSourcePublishEvent & { events: DataSourceEvent[] } {
  if (!isObject(e) || !('identity' in e) || !isObject(e.info)) return false;
  const info = e.info;
  return (
    info.operation === 'PUBLISH' &&
    isObject(info.channel) &&
    typeof info.channel.path === 'string' &&
    isObject(info.channelNamespace) &&
    typeof info.channelNamespace.name === 'string' &&
    Array.isArray(e.events) &&
    e.events.every((x) => isObject(x) && typeof x.id === 'string' && 'payload' in x)
  );
}

function isIamIdentity(identity: unknown): boolean {
  return isObject(identity) && typeof identity.userArn === 'string' && typeof identity.accountId === 'string';
}

/** The authorizer's handlerContext (AppSync Events) or resolverContext (the GraphQL name), or undefined. */
export function authorizerContext(identity: unknown): Record<string, unknown> | undefined {
  if (!isObject(identity)) return undefined;
  if (isObject(identity.handlerContext)) return identity.handlerContext;
  if (isObject(identity.resolverContext)) return identity.resolverContext;
  return undefined;
}

/**
 * The event names the handlerContext's `publish` grants allow on this channel: true (any),
 * a list, or undefined (nothing granted). Grants are `[[pattern, true | names[]], ...]`
 * (handler-context.ts); names of every matching grant are united and `true` wins.
 */
export function allowedEvents(publishText: unknown, channel: Channel): true | string[] | undefined {
  if (typeof publishText !== 'string' || publishText === '') return undefined;
  let grants: unknown;
  try {
    grants = JSON.parse(publishText);
  } catch {
    return undefined;
  }
  if (!Array.isArray(grants)) return undefined;
  const names: string[] = [];
  let any = false;
  for (const g of grants) {
    if (!Array.isArray(g) || typeof g[0] !== 'string' || !(g[1] === true || Array.isArray(g[1]))) continue;
    let pattern;
    try {
      pattern = parsePattern(g[0]);
    } catch {
      continue;
    }
    if (!patternMatches(pattern, channel.segments)) continue;
    if (g[1] === true) any = true;
    else for (const n of g[1] as unknown[]) if (typeof n === 'string' && !names.includes(n)) names.push(n);
  }
  if (any) return true;
  return names.length > 0 ? names : undefined;
}

/** `{ uid, umd }` as JSON from the verified identity only (uid '' = none, umd JSON text '' = none). */
export function metaJsonOfContext(ctx: Record<string, unknown>): string {
  const uid = typeof ctx.uid === 'string' && ctx.uid !== '' ? ctx.uid : null;
  let umd: unknown = null;
  if (typeof ctx.umd === 'string' && ctx.umd !== '') {
    try {
      umd = JSON.parse(ctx.umd);
    } catch {
      umd = null;
    }
  }
  return JSON.stringify({ uid, umd });
}

/** The dedup key of a socket publish, the same as a token publish's (token-publish.ts scopedDedupId), so one user's retries match across both paths. */
export function scopedDedupIdOfContext(ctx: Record<string, unknown>, deduplicationId: string): string | undefined {
  if (typeof ctx.uid === 'string' && ctx.uid !== '') return `uid ${JSON.stringify(ctx.uid)} ${deduplicationId}`;
  if (typeof ctx.sub === 'string' && ctx.sub !== '') return `sub ${JSON.stringify(ctx.sub)} ${deduplicationId}`;
  return undefined;
}

/** One event checked: a message for the pipeline (with its nonce) or a refusal. */
type Checked = { ok: true; message: ValidatedMessage; nonce?: string } | { ok: false; error: string };

const refused = (code: string, message: string): Checked => ({ ok: false, error: `${code}: ${message}` });

export function checkSocketEvent(payload: unknown, channel: Channel, allowed: true | string[], ctx: Record<string, unknown>, rules: MessageRules): Checked {
  if (!isObject(payload)) return refused('INVALID_PAYLOAD', 'an event must be a JSON object { "event": string, "data"?: any, "deduplicationId"?: string }');
  try {
    validateEventName(payload.event);
  } catch (e) {
    return refused((e as EventsockError).code, (e as EventsockError).message);
  }
  const event = payload.event as string;
  if (allowed !== true && !allowed.includes(event)) return refused('EVENT_NOT_ALLOWED', `the token does not allow event '${event}' on ${channel.path}`);
  const nonce = payload.nonce;
  if (nonce !== undefined && nonce !== null && (typeof nonce !== 'string' || !NONCE_RE.test(nonce))) {
    return refused('INVALID_NONCE', 'nonce must be 1-64 characters of A-Z a-z 0-9 _ -');
  }
  for (const f of BACKEND_ONLY) {
    if (f in payload) return refused('FIELD_NOT_ALLOWED', `${f} is decided by the backend; a socket publish takes event, data, deduplicationId (the namespace's default store applies)`);
  }
  const input: Record<string, unknown> = { channel: channel.path, event };
  if (payload.data !== undefined) input.data = payload.data;
  if (payload.deduplicationId !== undefined) input.deduplicationId = payload.deduplicationId;
  let message: ValidatedMessage;
  try {
    message = validateMessage(input, rules);
  } catch (e) {
    if (e instanceof EventsockError) return refused(e.code, e.message);
    throw e;
  }
  if (message.deduplicationId !== undefined) {
    const scoped = scopedDedupIdOfContext(ctx, message.deduplicationId);
    if (scoped === undefined) return refused('INVALID_FIELD', 'deduplicationId: a token without uid or sub cannot use deduplicationId (ids are kept per user)');
    message = { ...message, deduplicationId: scoped };
  }
  return { ok: true, message, nonce: typeof nonce === 'string' ? nonce : undefined };
}

/**
 * A Deliverer that sends nothing: it keeps the envelopes for the data-source answer
 * (AppSync broadcasts the answer) and reports each one delivered.
 */
export function collectingDeliverer(): Deliverer & { envelopes: Map<string, string> } {
  const envelopes = new Map<string, string>();
  return {
    envelopes,
    // Nothing is sent, so nothing waits: the budget only has to cover the pipeline's own writes.
    budgetMs: 1000,
    async deliver(_channel, events) {
      for (const e of events) envelopes.set((JSON.parse(e) as { id: string }).id, e);
      return events.map(() => ({ ok: true as const }));
    },
  };
}

export function createSocketPublishHandler(deps: SocketPublishHandlerDeps): SocketPublishHandler {
  const { settings } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger({ fields: { fn: 'socket-publish' } });
  const rules: MessageRules = { defaultNamespace: settings.defaultNamespace, namespaces: settings.namespaces, maxDataBytes: settings.publish.maxDataBytes };
  const ids = createIdAllocator({ dynamo: deps.dynamo, headsTable: settings.tables.heads, now });
  const dedup = createDedup({ dynamo: deps.dynamo, table: settings.tables.dedup, now, leaseMs: deps.dedupLeaseMs ?? 15_000, pollMs: deps.dedupPollMs });
  const emitter = deps.eventBridge
    ? createEmitter({ eventBridge: deps.eventBridge as { send(cmd: unknown): Promise<unknown> }, eventBusName: settings.publish.eventBusName, logger })
    : undefined;

  return async (event) => {
    if (!isDataSourcePublishEvent(event)) {
      logger.error('socket publish: not an AppSync Events publish', { keys: isObject(event) ? Object.keys(event).slice(0, 20) : typeof event });
      throw new InvalidDataSourceEvent('expected an AppSync Events publish (identity, info.channel, info.channelNamespace, events [{ id, payload }])');
    }
    const { identity, info, events } = event;
    // The publish API's own deliveries (IAM): finished envelopes, already stored and numbered.
    if (isIamIdentity(identity)) return { events: events.map((e) => ({ id: e.id, payload: e.payload })) };

    const ctx = authorizerContext(identity);
    const log = logger.child({ channel: info.channel.path, uid: typeof ctx?.uid === 'string' ? ctx.uid : undefined });
    if (!ctx) {
      log.info('socket publish refused', { code: 'UNAUTHORIZED', reason: 'not an Eventsock client (no authorizer context) nor IAM' });
      throw new UnauthorizedException();
    }
    const nsName = info.channelNamespace.name;
    const ns = own(settings.namespaces, nsName);
    let channel: Channel;
    try {
      channel = parseChannel(info.channel.path);
    } catch {
      throw new UnauthorizedException();
    }
    if (!ns || !ns.clientPublish || channel.namespace !== nsName) {
      log.info('socket publish refused', { code: 'CLIENT_PUBLISH_DISABLED', namespace: nsName.slice(0, 50) });
      throw new UnauthorizedException();
    }
    // Re-checked here because an authorizer answer may be cached and reused for another channel.
    const allowed = allowedEvents(ctx.publish, channel);
    if (allowed === undefined) {
      log.info('socket publish refused', { code: 'PUBLISH_NOT_GRANTED' });
      throw new UnauthorizedException();
    }

    const checked = events.map((e) => checkSocketEvent(e.payload, channel, allowed, ctx, rules));
    const toPublish: number[] = [];
    checked.forEach((c, i) => c.ok && toPublish.push(i));
    const deliverer = collectingDeliverer();
    const results = toPublish.length === 0
      ? []
      : await publishMessages(
          // EventBridge when the namespace asks for it (socketPublishEvents); a client cannot.
          toPublish.map((i) => ({ ...(checked[i] as { message: ValidatedMessage }).message, emitPubSubEvent: ns.socketPublishEvents === true })),
          { dynamo: deps.dynamo, messagesTable: settings.tables.messages, namespaces: settings.namespaces, ids, dedup, deliverer, emitter, logger: log, now, fault: deps.fault },
          { metaJson: metaJsonOfContext(ctx) },
        );
    const byIndex = new Map(toPublish.map((i, k) => [i, results[k]]));
    const out: DataSourceOutgoing[] = events.map((e, i) => {
      const c = checked[i];
      if (!c.ok) return { id: e.id, error: c.error };
      const r = byIndex.get(i)!;
      if ('error' in r) return { id: e.id, error: `${r.error.code}: ${r.error.message}` };
      if (r.duplicate) return { id: e.id, error: `DUPLICATE: this deduplicationId was already published as ${r.id}; not delivered again` };
      // A retry finishing a publish that died (publish.ts) goes out on the channel that publish named:
      // this answer is broadcast on this channel only, so another channel's message is not answered here.
      const collected = deliverer.envelopes.get(r.id);
      if (collected === undefined || r.channel !== channel.path) {
        return { id: e.id, error: `DUPLICATE: this deduplicationId was already published as ${r.id} on ${r.channel}; not delivered here` };
      }
      const payload = JSON.parse(collected) as Record<string, unknown>;
      if (c.nonce !== undefined) payload.nonce = c.nonce;
      return { id: e.id, payload };
    });
    // Answer order is delivery order: keep the published ones in id order (publish order within one call).
    log.info('socket publish', {
      events: events.length,
      published: out.filter((o) => 'payload' in o).length,
      failed: out.filter((o) => 'error' in o).length,
      ids: results.map((r) => ('id' in r ? r.id : null)),
      jti: typeof ctx.jti === 'string' ? ctx.jti : undefined,
    });
    return { events: out };
  };
}
