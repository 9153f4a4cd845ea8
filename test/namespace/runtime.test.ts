/**
 * The emulator's APPSYNC_JS runtime (local/appsync-js) with small handler files:
 * util semantics (error/unauthorized end the handler, appendError does not),
 * result validation, isolation and load-time refusals.
 */
import { LIMITS } from '../../functions/core/limits';
import { loadNamespaceHandlers, NamespaceHandlerError, publishContext, subscribeContext } from '../../local/appsync-js';

const header = "import { util } from '@aws-appsync/utils';\n";
const ctx = (events: unknown[] = [{ a: 1 }]) => publishContext({ channel: 'chat/room-1/', identity: null, events: events.map((payload, i) => ({ id: `e${i}`, payload })) });

function failure(fn: () => unknown): NamespaceHandlerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NamespaceHandlerError) return e;
    throw e;
  }
  throw new Error('expected a NamespaceHandlerError');
}

describe('contexts', () => {
  test('publishContext normalises the channel and fills info the way AppSync does', () => {
    expect(ctx()).toEqual({
      identity: null,
      info: { channel: { path: '/chat/room-1', segments: ['chat', 'room-1'] }, channelNamespace: { name: 'chat' }, operation: 'PUBLISH' },
      request: { headers: {}, domainName: null },
      events: [{ id: 'e0', payload: { a: 1 } }],
      stash: {},
    });
  });

  test('subscribeContext keeps a trailing wildcard; publishContext refuses one', () => {
    expect(subscribeContext({ channel: '/chat/*', identity: null }).info.channel).toEqual({ path: '/chat/*', segments: ['chat', '*'] });
    expect(() => publishContext({ channel: '/chat/*', identity: null, events: [] })).toThrow(/wildcards are for subscribe only/);
  });
});

describe('util', () => {
  test('util.error ends onPublish with the message and error type', () => {
    const h = loadNamespaceHandlers(`${header}export function onPublish(ctx) { util.error('no way', 'CustomError'); return ctx.events; }`);
    const e = failure(() => h.onPublish!(ctx()));
    expect([e.code, e.message, e.errorType]).toEqual(['HANDLER_ERROR', 'no way', 'CustomError']);
  });

  test('util.unauthorized ends onPublish as UnauthorizedException, and refuses in onSubscribe', () => {
    const h = loadNamespaceHandlers(`${header}export function onPublish() { util.unauthorized(); return []; }\nexport function onSubscribe() { util.unauthorized(); }`);
    const e = failure(() => h.onPublish!(ctx()));
    expect([e.code, e.errorType]).toEqual(['HANDLER_UNAUTHORIZED', 'UnauthorizedException']);
    expect(h.onSubscribe!(subscribeContext({ channel: '/chat/a', identity: null }))).toEqual({ unauthorized: true, errorType: 'UnauthorizedException' });
  });

  test('util.error in onSubscribe refuses with the message', () => {
    const h = loadNamespaceHandlers(`${header}export function onSubscribe(ctx) { if (ctx.info.channel.segments.length > 2) util.error('too deep'); }`);
    expect(h.onSubscribe!(subscribeContext({ channel: '/chat/a', identity: null }))).toEqual({ unauthorized: false });
    expect(h.onSubscribe!(subscribeContext({ channel: '/chat/a/b', identity: null }))).toEqual({ unauthorized: false, error: 'too deep', errorType: 'HandlerError' });
  });

  test('util.appendError records without stopping the handler', () => {
    const logs: string[] = [];
    const h = loadNamespaceHandlers(`${header}export function onPublish(ctx) { util.appendError('soft', 'Warn'); return ctx.events; }`, {
      log: (level, m) => logs.push(`${level} ${m}`),
    });
    expect(h.onPublish!(ctx())).toEqual([{ id: 'e0', payload: { a: 1 } }]);
    expect(h.lastAppendedErrors()).toEqual([{ message: 'soft', errorType: 'Warn', data: undefined, errorInfo: undefined }]);
    expect(logs).toEqual(['error util.appendError: soft']);
  });

  test('time, ids and encodings behave like the service', () => {
    const h = loadNamespaceHandlers(
      `${header}export function onPublish(ctx) {
        const s = 'a b+é&~';
        return [{ id: ctx.events[0].id, payload: {
          ms: util.time.nowEpochMilliSeconds(), s: util.time.nowEpochSeconds(), iso: util.time.nowISO8601(),
          uuid: util.autoId(), ulid: util.autoUlid(), ksuid: util.autoKsuid(),
          url: util.urlEncode(s), back: util.urlDecode(util.urlEncode(s)),
          b64: util.base64Encode('é'), b64back: util.base64Decode(util.base64Encode(s)),
        } }];
      }`,
      { now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 678) },
    );
    const p = h.onPublish!(ctx())[0].payload as Record<string, string | number>;
    expect(p.ms).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    expect(p.s).toBe(Math.floor(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000));
    expect(p.iso).toBe('2026-01-02T03:04:05.678Z');
    expect(p.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(p.ulid).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(p.ksuid).toMatch(/^[0-9A-Za-z]{27}$/);
    expect(p.url).toBe('a+b%2B%C3%A9%26%7E');
    expect(p.back).toBe('a b+é&~');
    expect(p.b64).toBe('w6k=');
    expect(p.b64back).toBe('a b+é&~');
  });

  test('console output goes to the log option', () => {
    const logs: string[] = [];
    const h = loadNamespaceHandlers('export function onPublish(ctx) { console.log("count", ctx.events.length, { x: 1 }); return ctx.events; }', {
      log: (level, m) => logs.push(`${level} ${m}`),
    });
    h.onPublish!(ctx([1, 2]));
    expect(logs).toEqual(['info count 2 {"x":1}']);
  });
});

describe('results', () => {
  const run = (body: string) => loadNamespaceHandlers(`export function onPublish(ctx) { ${body} }`).onPublish!(ctx([{ a: 1 }, { b: 2 }]));

  test('a filtered list drops events; null broadcasts nothing; per-event errors are kept', () => {
    expect(run('return [ctx.events[1]];')).toEqual([{ id: 'e1', payload: { b: 2 } }]);
    expect(run('return null;')).toEqual([]);
    expect(run("return [{ id: 'e0', error: 'nope' }, { id: 'e1', payload: 5 }];")).toEqual([
      { id: 'e0', error: 'nope' },
      { id: 'e1', payload: 5 },
    ]);
  });

  test.each([
    ["return 'x';", /returned string/],
    ['return [{ payload: 1 }];', /without a string id at index 0/],
    ["return [{ id: 'zz', payload: 1 }];", /index 0 whose id is not one of the published events/],
    ['return [ctx.events[0], ctx.events[0]];', /the event id at index 1 twice/],
  ])('an invalid result (%s) fails the publish', (body, message) => {
    const e = failure(() => run(body));
    expect(e.code).toBe('HANDLER_RESULT_INVALID');
    expect(e.message).toMatch(message);
  });

  test("the handler cannot change the caller's ctx", () => {
    const c = ctx();
    loadNamespaceHandlers('export function onPublish(ctx) { ctx.events[0].payload.a = 99; ctx.info.channel.path = "/x"; return []; }').onPublish!(c);
    expect(c.events[0].payload).toEqual({ a: 1 });
    expect(c.info.channel.path).toBe('/chat/room-1');
  });
});

describe('failures', () => {
  test('a runtime error fails the call with HANDLER_ERROR and is logged', () => {
    const logs: string[] = [];
    const h = loadNamespaceHandlers('export function onPublish(ctx) { return ctx.nothing.here; }\nexport function onSubscribe(ctx) { return ctx.nothing.here; }', {
      log: (_l, m) => logs.push(m),
    });
    const e = failure(() => h.onPublish!(ctx()));
    expect(e.code).toBe('HANDLER_ERROR');
    expect(e.message).toMatch(/^onPublish failed: .*here/);
    expect(h.onSubscribe!(subscribeContext({ channel: '/chat/a', identity: null }))).toMatchObject({ unauthorized: false, error: expect.stringMatching(/^onSubscribe failed/) });
    expect(logs).toHaveLength(2);
  });

  test('a handler that never returns is stopped', () => {
    const h = loadNamespaceHandlers('export function onPublish(ctx) { for (;;) {} }', { timeoutMs: 50 });
    const e = failure(() => h.onPublish!(ctx()));
    expect(e.code).toBe('HANDLER_ERROR');
    expect(e.message).toMatch(/timed out/);
  });

  test('code generation from strings is not available', () => {
    const h = loadNamespaceHandlers('export function onPublish(ctx) { return eval("ctx.events"); }');
    expect(failure(() => h.onPublish!(ctx())).message).toMatch(/Code generation from strings disallowed/);
  });
});

describe('loading', () => {
  test.each([
    ['empty code', '', /non-empty string/],
    ['a syntax error', 'export function onPublish(ctx) { return ', /does not compile/],
    ['an import other than @aws-appsync/utils', "import fs from 'fs';\nexport function onPublish(ctx) { return ctx.events; }", /may import only @aws-appsync\/utils/],
    ['a data-source handler object for onSubscribe', 'export const onSubscribe = { request(ctx) { return {}; }, response(ctx) { return ctx.result; } };', /onSubscribe is object; expected a function/],
  ])('%s is refused at load', (_label, code, message) => {
    const e = failure(() => loadNamespaceHandlers(code));
    expect(e.code).toBe('HANDLER_CODE_INVALID');
    expect(e.message).toMatch(message);
  });

  test("code over the service's 32,768 characters is refused naming the limit", () => {
    const code = `export function onPublish(ctx) { return ctx.events; }\n//${'x'.repeat(LIMITS.namespaceHandlerMaxChars)}`;
    const e = failure(() => loadNamespaceHandlers(code));
    expect([e.code, e.limit]).toEqual(['HANDLER_CODE_INVALID', 32768]);
    expect(e.message).toMatch(/at most 32768/);
  });

  test('a file without onSubscribe leaves it undefined (the service then allows)', () => {
    const h = loadNamespaceHandlers('export function onPublish(ctx) { return ctx.events; }');
    expect(h.onSubscribe).toBeUndefined();
    expect(typeof h.onPublish).toBe('function');
  });
});
