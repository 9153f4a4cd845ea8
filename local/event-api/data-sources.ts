/**
 * Namespace data source integrations, as AppSync Events runs them: a namespace's onPublish
 * with a Lambda data source, behavior DIRECT (no code: the function gets the events and
 * its answer is what is broadcast) or CODE (the namespace code's `onPublish = { request,
 * response }` builds the invocation and turns its result into the events), invoke type
 * REQUEST_RESPONSE (waited for) or EVENT (asynchronous: the events go out as published).
 * The data source's `invoke` is the real function's handler, called in-process with the
 * payload the service sends, so the same code path runs locally and in AWS.
 *
 * Sources: AWS AppSync Events developer guide, "Direct data source integrations using
 * Lambda" (direct-lambda-integrations.html: REQUEST_RESPONSE answers
 * `{ events: [{ id, payload } | { id, error }] }`, a top-level `error` fails the request;
 * EVENT "does not wait for a reply. The result of the invocation does not impact the rest
 * of the onPublish or onSubscribe handling"), "Writing event handlers" (the `{ request,
 * response }` handler; `runtime.earlyReturn` skips the data source and response),
 * "AWS AppSync JavaScript function reference for Lambda" (request `{ operation: 'Invoke',
 * invocationType?: 'RequestResponse' | 'Event', payload }`); the invocation payload's shape is
 * Powertools for AWS Lambda's AppSyncEventsPublishEvent (packages/event-handler,
 * tests/events/onPublish.json); a function error named UnauthorizedException refuses the
 * publish as unauthorized (Powertools' AppSyncEventsResolver docs: "reject a subscribe or
 * publish request with HTTP 403").
 * Unconfirmed (no source says; the conservative choice): what the service reports for a
 * function that fails otherwise (here HandlerError naming the error's name only, never its
 * message), and that an answer without `events` broadcasts nothing.
 */
import { own } from '../../functions/core/own';
import type { HandlerConfig } from '../../functions/namespace/code';
import { NamespaceHandlerError, normalizePublishResult, type OutgoingEvent, type PublishContext } from '../appsync-js';
import type { EventApiCore } from './core';
import { ERROR_TYPES, EventApiError, unauthorized } from './errors';

/** An AWS_LAMBDA data source: `invoke` is the function's handler (what it returns or throws is the Lambda's answer). */
export interface LambdaDataSource {
  type: 'AWS_LAMBDA';
  invoke(payload: unknown): Promise<unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** What crosses Lambda's boundary is JSON, both ways. */
const overTheWire = (v: unknown): unknown => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

/** The payload of a direct Lambda integration (Powertools' AppSyncEventsPublishEvent). */
export function directPayload(ctx: PublishContext) {
  return { identity: ctx.identity, result: null, request: ctx.request, info: ctx.info, error: null, prev: null, stash: {}, outErrors: [], events: ctx.events };
}

function dataSource(core: EventApiCore, name: string): LambdaDataSource {
  const all = core.opts.dataSources ?? {};
  const ds = own(all, name);
  if (!ds) throw new EventApiError(ERROR_TYPES.handlerError, `data source ${name.slice(0, 100)} is not configured on this API`);
  return ds;
}

type Invoked = { ok: true; result: unknown } | { ok: false; error: { message: string; type: string } };

async function invoke(core: EventApiCore, name: string, ds: LambdaDataSource, payload: unknown, wait: boolean): Promise<Invoked> {
  const input = overTheWire(payload);
  if (!wait) {
    ds.invoke(input).catch((e: Error) => core.logger.error('data source invocation failed (EVENT)', { dataSource: name, error: e?.name ?? 'Error' }));
    return { ok: true, result: null };
  }
  try {
    return { ok: true, result: overTheWire(await ds.invoke(input)) };
  } catch (e) {
    const type = (e as Error)?.name ?? 'Error';
    core.logger.info('data source invocation failed', { dataSource: name, errorType: type });
    return { ok: false, error: { message: `the Lambda data source ${name} failed (${type})`, type } };
  }
}

/**
 * Runs onPublish through its integration. Returns the events to broadcast (`{ id, payload }`
 * or `{ id, error }`), or null when the events go out as published (EVENT invocations).
 * Throws EventApiError for a refused or failed publish.
 */
export async function runPublishIntegration(core: EventApiCore, cfg: HandlerConfig, ctx: PublishContext): Promise<OutgoingEvent[] | null> {
  const name = cfg.integration.dataSourceName;
  const ds = dataSource(core, name);
  const invokeType = cfg.integration.lambdaConfig?.invokeType ?? 'REQUEST_RESPONSE';
  if (cfg.behavior === 'DIRECT') {
    const r = await invoke(core, name, ds, directPayload(ctx), invokeType === 'REQUEST_RESPONSE');
    if (invokeType === 'EVENT') return null;
    if (!r.ok) {
      if (r.error.type === 'UnauthorizedException') throw unauthorized();
      throw new EventApiError(ERROR_TYPES.handlerError, r.error.message);
    }
    if (isObject(r.result) && typeof r.result.error === 'string') throw new EventApiError(ERROR_TYPES.handlerError, r.result.error.slice(0, 1000));
    const events = isObject(r.result) ? r.result.events : undefined;
    return toOutgoing(events ?? [], ctx);
  }
  const handler = core.handlers?.onPublishDataSource;
  if (!handler) {
    throw new EventApiError(ERROR_TYPES.handlerError, `namespace ${ctx.info.channelNamespace.name}: onPublish behavior CODE with data source ${name} needs the code to export onPublish as { request(ctx), response(ctx) }`);
  }
  const outcome = wrap(() => handler.request(ctx));
  if (outcome.kind === 'earlyReturn') return toOutgoing(outcome.result, ctx);
  const req = outcome.request;
  if (req.operation !== 'Invoke') {
    throw new EventApiError(ERROR_TYPES.handlerError, `onPublish.request returned operation ${JSON.stringify(req.operation)?.slice(0, 40)}; the emulator's Lambda data sources take 'Invoke'`);
  }
  const wait = req.invocationType === undefined ? invokeType === 'REQUEST_RESPONSE' : req.invocationType !== 'Event';
  const r = await invoke(core, name, ds, req.payload ?? null, wait);
  return wrap(() => handler.response({ ...ctx, result: r.ok ? r.result : null, error: r.ok ? null : r.error }));
}

function toOutgoing(events: unknown, ctx: PublishContext): OutgoingEvent[] {
  return wrap(() => normalizePublishResult(events, ctx.events));
}

/** NamespaceHandlerError (a handler's refusal or fault) as the service reports it. */
function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NamespaceHandlerError) throw new EventApiError(e.errorType, e.message);
    throw e;
  }
}
