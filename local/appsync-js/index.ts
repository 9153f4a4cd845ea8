/**
 * The emulator's APPSYNC_JS runtime: runs a namespace's handler code (the same
 * text the stack deploys) in an isolated `node:vm` context with the service's
 * `util`. The event API calls onPublish for every publish and onSubscribe for every
 * subscribe; see README.md for the `ctx` it must build.
 */
import { randomUUID } from 'node:crypto';
import vm from 'node:vm';
import { transformSync } from 'esbuild';
import { parseChannel } from '../../functions/core/channels';
import { EventsockError } from '../../functions/core/errors';
import { LIMITS } from '../../functions/core/limits';
import type { Identity, IncomingEvent, OutgoingEvent, PublishContext, SubscribeContext, SubscribeDecision } from './types';
import { type AppendedError, createRuntime, createUtil, HandlerAbort } from './util';

export * from './types';
export type { AppendedError } from './util';

export type NamespaceHandlerErrorCode =
  /** The code does not compile, is too long, or exports something the emulator cannot run. */
  | 'HANDLER_CODE_INVALID'
  /** The handler called util.unauthorized(): answer UnauthorizedException. */
  | 'HANDLER_UNAUTHORIZED'
  /** The handler called util.error(), threw, or ran over its time. */
  | 'HANDLER_ERROR'
  /** onPublish returned something that is not a list of `{ id, payload | error }` for the events it was given. */
  | 'HANDLER_RESULT_INVALID';

/** Why a handler refused or failed a whole request. `errorType` is what the client sees in `errors[].errorType`. */
export class NamespaceHandlerError extends EventsockError {
  readonly errorType: string;
  constructor(code: NamespaceHandlerErrorCode, message: string, errorType: string, opts: { limit?: number } = {}) {
    super(code, message, { field: 'handler', limit: opts.limit });
    this.name = 'NamespaceHandlerError';
    this.errorType = errorType;
  }
}

export interface LoadOptions {
  /** Clock behind util.time and the ids it generates. Default: Date.now. */
  now?: () => number;
  /** console.* calls and util.appendError entries from handler code. Default: dropped. */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** Longest one handler call may run before it is stopped. Default: 1000 ms. */
  timeoutMs?: number;
  /** Source of util.autoId() (tests pin it). Default: crypto.randomUUID. */
  autoId?: () => string;
  /** Name shown in stack traces and errors, e.g. the namespace. Default: `namespace-handlers`. */
  name?: string;
}

/** What a data-source handler's request function returned: a Lambda request, or the result given to runtime.earlyReturn. */
export type DataSourceRequestOutcome =
  | { kind: 'request'; request: { operation?: unknown; invocationType?: unknown; payload?: unknown } }
  | { kind: 'earlyReturn'; result: unknown };

export interface NamespaceHandlers {
  /**
   * Runs onPublish. Returns one entry per event to deliver (`payload`) or fail
   * alone (`error`); events absent from the list were filtered out by the handler.
   * Throws NamespaceHandlerError when the handler refuses or fails the whole publish.
   */
  onPublish?(ctx: PublishContext): OutgoingEvent[];
  /**
   * onPublish exported as a data-source handler `{ request, response }` (behavior CODE with an
   * integration): `request(ctx)` gives what the data source is invoked with (or an early
   * result), `response(ctx)` with `ctx.result` / `ctx.error` gives the events to broadcast.
   * Both throw NamespaceHandlerError as onPublish does.
   */
  onPublishDataSource?: {
    request(ctx: PublishContext): DataSourceRequestOutcome;
    response(ctx: PublishContext & { result: unknown; error: { message: string; type: string } | null }): OutgoingEvent[];
  };
  /** Runs onSubscribe; never throws. */
  onSubscribe?(ctx: SubscribeContext): SubscribeDecision;
  /** What util.appendError collected during the last call. */
  lastAppendedErrors(): AppendedError[];
}

const CALL_SCRIPT = new vm.Script(
  '(function () { const h = module.exports[__name]; const r = (__method ? h[__method] : h)(JSON.parse(__input)); return r === undefined ? undefined : JSON.stringify(r); })()',
  { filename: 'appsync-js-call' },
);

function describe(e: unknown): string {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) return String((e as Error).message);
  return String(e);
}

/**
 * Compiles handler code (an ES module importing `util` from '@aws-appsync/utils')
 * and returns callable handlers. Throws NamespaceHandlerError HANDLER_CODE_INVALID
 * when the code is over the service's 32,768 characters, does not compile, or
 * exports a data-source handler object (the emulator runs only plain functions).
 */
export function loadNamespaceHandlers(code: string, opts: LoadOptions = {}): NamespaceHandlers {
  const name = opts.name ?? 'namespace-handlers';
  const invalid = (msg: string, limit?: number) => new NamespaceHandlerError('HANDLER_CODE_INVALID', `${name}: ${msg}`, 'BadRequestException', { limit });
  if (typeof code !== 'string' || code.length === 0) throw invalid('handler code must be a non-empty string');
  if (code.length > LIMITS.namespaceHandlerMaxChars) {
    throw invalid(`handler code is ${code.length} characters; AppSync accepts at most ${LIMITS.namespaceHandlerMaxChars}`, LIMITS.namespaceHandlerMaxChars);
  }
  let cjs: string;
  try {
    cjs = transformSync(code, { loader: 'js', format: 'cjs', target: 'es2022', sourcefile: name }).code;
  } catch (e) {
    throw invalid(`handler code does not compile: ${describe(e).split('\n').slice(0, 3).join(' ')}`);
  }

  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => undefined);
  let appended: AppendedError[] = [];
  const util = createUtil({ now, uuid: opts.autoId ?? randomUUID, appendError: (e) => {
    appended.push(e);
    log('error', `util.appendError: ${e.message}`);
  } });
  const runtime = createRuntime();
  const requireShim = (id: string) => {
    if (id === '@aws-appsync/utils') return { util, runtime };
    throw new Error(`Cannot import '${id}': APPSYNC_JS handlers may import only @aws-appsync/utils`);
  };
  const consoleShim = Object.fromEntries(
    (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => [
      level,
      (...args: unknown[]) => log(level === 'log' ? 'info' : level, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')),
    ]),
  );
  const module = { exports: {} as Record<string, unknown> };
  const sandbox = vm.createContext(
    { module, exports: module.exports, require: requireShim, console: consoleShim },
    { name, codeGeneration: { strings: false, wasm: false } },
  );
  try {
    new vm.Script(cjs, { filename: name }).runInContext(sandbox, { timeout: opts.timeoutMs ?? 1000 });
  } catch (e) {
    throw invalid(`handler code failed while loading: ${describe(e)}`);
  }
  const exported = module.exports;
  const isDataSourceHandler = (v: unknown) =>
    typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>).request === 'function' && typeof (v as Record<string, unknown>).response === 'function';
  for (const h of ['onPublish', 'onSubscribe']) {
    const v = exported[h];
    if (v === undefined || typeof v === 'function') continue;
    // A data-source handler (AppSync Events "Writing event handlers"): onPublish only here.
    if (h === 'onPublish' && isDataSourceHandler(v)) continue;
    throw invalid(`${h} is ${typeof v}; expected a function${h === 'onPublish' ? ', or a data-source handler { request(ctx), response(ctx) }' : ' (the emulator runs onSubscribe without data sources)'}`);
  }

  const call = (handler: 'onPublish' | 'onSubscribe', ctx: unknown, method?: 'request' | 'response'): unknown => {
    appended = [];
    sandbox.__name = handler;
    sandbox.__method = method;
    sandbox.__input = JSON.stringify(ctx);
    const out = CALL_SCRIPT.runInContext(sandbox, { timeout: opts.timeoutMs ?? 1000 });
    return out === undefined ? undefined : JSON.parse(out as string);
  };

  const handlers: NamespaceHandlers = { lastAppendedErrors: () => appended.slice() };

  if (typeof exported.onPublish === 'function') {
    handlers.onPublish = (ctx) => {
      let result: unknown;
      try {
        result = call('onPublish', ctx);
      } catch (e) {
        if (e instanceof HandlerAbort && e.kind === 'earlyReturn') return normalizePublishResult(e.data, ctx.events);
        if (e instanceof HandlerAbort && e.kind === 'unauthorized') {
          throw new NamespaceHandlerError('HANDLER_UNAUTHORIZED', e.message, 'UnauthorizedException');
        }
        if (e instanceof HandlerAbort) throw new NamespaceHandlerError('HANDLER_ERROR', e.message, e.errorType ?? 'HandlerError');
        log('error', `${name} onPublish failed: ${describe(e)}`);
        throw new NamespaceHandlerError('HANDLER_ERROR', `onPublish failed: ${describe(e)}`, 'HandlerError');
      }
      return normalizePublishResult(result, ctx.events);
    };
  }

  const publishFailure = (e: unknown, what: string): NamespaceHandlerError => {
    if (e instanceof HandlerAbort && e.kind === 'unauthorized') return new NamespaceHandlerError('HANDLER_UNAUTHORIZED', e.message, 'UnauthorizedException');
    if (e instanceof HandlerAbort) return new NamespaceHandlerError('HANDLER_ERROR', e.message, e.errorType ?? 'HandlerError');
    log('error', `${name} ${what} failed: ${describe(e)}`);
    return new NamespaceHandlerError('HANDLER_ERROR', `${what} failed: ${describe(e)}`, 'HandlerError');
  };
  if (isDataSourceHandler(exported.onPublish)) {
    handlers.onPublishDataSource = {
      request(ctx) {
        try {
          const r = call('onPublish', ctx, 'request');
          if (typeof r !== 'object' || r === null) throw new NamespaceHandlerError('HANDLER_RESULT_INVALID', 'onPublish.request returned no request object (or call runtime.earlyReturn)', 'HandlerError');
          return { kind: 'request', request: r as Record<string, unknown> };
        } catch (e) {
          if (e instanceof HandlerAbort && e.kind === 'earlyReturn') return { kind: 'earlyReturn', result: e.data === undefined ? null : JSON.parse(JSON.stringify(e.data)) };
          if (e instanceof NamespaceHandlerError) throw e;
          throw publishFailure(e, 'onPublish.request');
        }
      },
      response(ctx) {
        let result: unknown;
        try {
          result = call('onPublish', ctx, 'response');
        } catch (e) {
          throw publishFailure(e, 'onPublish.response');
        }
        return normalizePublishResult(result, ctx.events);
      },
    };
  }

  if (typeof exported.onSubscribe === 'function') {
    handlers.onSubscribe = (ctx) => {
      try {
        call('onSubscribe', ctx);
        return { unauthorized: false };
      } catch (e) {
        if (e instanceof HandlerAbort && e.kind === 'earlyReturn') return { unauthorized: false };
        if (e instanceof HandlerAbort && e.kind === 'unauthorized') return { unauthorized: true, errorType: 'UnauthorizedException' };
        if (e instanceof HandlerAbort) return { unauthorized: false, error: e.message, errorType: e.errorType ?? 'HandlerError' };
        log('error', `${name} onSubscribe failed: ${describe(e)}`);
        return { unauthorized: false, error: `onSubscribe failed: ${describe(e)}`, errorType: 'HandlerError' };
      }
    };
  }
  return handlers;
}

/** Checks what onPublish (or a data source) returned: one `{ id, payload | error }` per known event id, at most. */
export function normalizePublishResult(result: unknown, events: IncomingEvent[]): OutgoingEvent[] {
  // The service's signature is `OutgoingEvent[] | null`: null broadcasts nothing.
  if (result === null || result === undefined) return [];
  const bad = (msg: string) => new NamespaceHandlerError('HANDLER_RESULT_INVALID', `onPublish returned ${msg}`, 'HandlerError');
  if (!Array.isArray(result)) throw bad(`${typeof result}; expected a list of { id, payload } or { id, error }`);
  const known = new Set(events.map((e) => e.id));
  const seen = new Set<string>();
  return result.map((item, i) => {
    if (typeof item !== 'object' || item === null || typeof (item as OutgoingEvent).id !== 'string') throw bad(`an entry without a string id at index ${i}`);
    const { id, payload, error } = item as OutgoingEvent;
    if (!known.has(id)) throw bad(`an entry at index ${i} whose id is not one of the published events`);
    if (seen.has(id)) throw bad(`the event id at index ${i} twice`);
    seen.add(id);
    if (error !== undefined && error !== null) return { id, error: String(error) };
    return { id, payload: payload === undefined ? null : payload };
  });
}

/** Builds onPublish's ctx from a publish the emulator received. `channel` is normalised (leading `/`). */
export function publishContext(opts: {
  channel: string;
  identity: Identity;
  events: IncomingEvent[];
  headers?: Record<string, string>;
  domainName?: string | null;
}): PublishContext {
  const ch = parseChannel(opts.channel);
  return {
    identity: opts.identity,
    info: { channel: { path: ch.path, segments: ch.segments }, channelNamespace: { name: ch.namespace }, operation: 'PUBLISH' },
    request: { headers: opts.headers ?? {}, domainName: opts.domainName ?? null },
    events: opts.events,
    stash: {},
  };
}

/** Builds onSubscribe's ctx; `channel` may end in `/*`. */
export function subscribeContext(opts: { channel: string; identity: Identity; headers?: Record<string, string>; domainName?: string | null }): SubscribeContext {
  const ch = parseChannel(opts.channel, { allowWildcard: true });
  return {
    identity: opts.identity,
    info: { channel: { path: ch.path, segments: ch.segments }, channelNamespace: { name: ch.namespace }, operation: 'SUBSCRIBE' },
    request: { headers: opts.headers ?? {}, domainName: opts.domainName ?? null },
    stash: {},
  };
}
