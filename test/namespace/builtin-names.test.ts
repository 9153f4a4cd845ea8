/**
 * Issue #13 "Lookups keyed by user input", the namespace handlers (handlers.js in
 * the emulator's APPSYNC_JS runtime, local/appsync-js): namespaces, channel segments
 * and event names spelled like Object.prototype properties. handlers.js looks its
 * namespace up with Object.hasOwn (APPSYNC_JS has no `in`; Object.hasOwn is listed in
 * https://docs.aws.amazon.com/appsync/latest/eventapi/runtime-supported-features.html)
 * and keeps allowed event names in a list, so these get what unknown names get.
 */
import fc from 'fast-check';
import { NamespaceHandlerError } from '../../local/appsync-js';
import { asControl, builtinName, builtinSegment, controlFor } from '../support/builtin-names';
import { handlersFor, lambdaIdentity, publish, subscribe } from './helpers';

const h = handlersFor();

/** The handler's answer as data: the result, or the refusal's code and message. */
function outcome(run: () => unknown): unknown {
  try {
    return { result: run() };
  } catch (e) {
    if (e instanceof NamespaceHandlerError) return { refused: e.code, errorType: e.errorType };
    throw e;
  }
}
const strip = (v: unknown) => JSON.parse(JSON.stringify(v).replace(/"id":"[0-9A-HJKMNP-TV-Z]{26}"/g, '"id":"ULID"'));
function expectLikeControl(got: unknown, want: unknown, name: string): void {
  expect(JSON.parse(asControl(JSON.stringify(strip(got)), name))).toEqual(strip(want));
}

// Names that are not channel segments (`__proto__`) never reach a handler: publishContext refuses the channel, as AppSync does.
test('client publishes to a namespace named like a built-in property are refused as for an unknown namespace', () => {
  fc.assert(
    fc.property(builtinSegment, (name) => {
      const run = (ns: string) => outcome(() => h.onPublish(publish(`/${ns}/room`, lambdaIdentity({ publish: [[`/${ns}/*`, true]] }), [{ event: 'm', data: 1 }])));
      const got = run(name);
      expectLikeControl(got, run(controlFor(name)), name);
      expect(got).toEqual({ refused: 'HANDLER_UNAUTHORIZED', errorType: 'UnauthorizedException' });
    }),
  );
});

test('subscriptions on a namespace named like a built-in property are decided as for an unknown one', () => {
  fc.assert(
    fc.property(builtinSegment, fc.constantFrom('/room', '/*'), (name, rest) => {
      const run = (ns: string) => h.onSubscribe(subscribe(`/${ns}${rest}`, lambdaIdentity({ publish: [] })));
      expect(run(name)).toEqual(run(controlFor(name)));
    }),
  );
});

test('event names and channel segments like built-in properties are ordinary names: allowed when listed, EVENT_NOT_ALLOWED when not', () => {
  fc.assert(
    fc.property(builtinName, builtinSegment, (name, segment) => {
      const channel = `/chat/${segment}`;
      const send = (allowed: string[], event: string) => outcome(() => h.onPublish(publish(channel, lambdaIdentity({ publish: [['/chat/*', allowed]] }), [{ event, data: { n: 1 } }])));
      const listed = send([name], name) as { result: Array<{ payload?: { event: string; channel: string } }> };
      expect(listed.result[0].payload).toMatchObject({ event: name, channel });
      const notListed = send(['m'], name);
      expect(strip(notListed)).toEqual(JSON.parse(JSON.stringify(strip(send(['m'], controlFor(name)))).split(`'${controlFor(name)}'`).join(`'${name}'`)));
      expect(JSON.stringify(notListed)).toContain('EVENT_NOT_ALLOWED');
    }),
  );
});

test('a namespace configured under a built-in name takes client publishes; the other built-in names stay unknown', () => {
  fc.assert(
    fc.property(builtinSegment, (name) => {
      const own = handlersFor({ namespaces: { default: {}, [name]: { clientPublish: true, allowWildcardSubscribe: false } } });
      const ok = own.onPublish(publish(`/${name}/room`, lambdaIdentity({ publish: [[`/${name}/*`, true]] }), [{ event: 'm' }])) as Array<{ payload?: unknown }>;
      expect(ok[0].payload).toMatchObject({ channel: `/${name}/room`, event: 'm' });
      expect(own.onSubscribe(subscribe(`/${name}/*`, lambdaIdentity({ publish: [] })))).toMatchObject({ unauthorized: true });
      const other = name === 'constructor' ? 'valueOf' : 'constructor';
      expect(outcome(() => own.onPublish(publish(`/${other}/room`, lambdaIdentity({ publish: [[`/${other}/*`, true]] }), [{ event: 'm' }])))).toEqual({ refused: 'HANDLER_UNAUTHORIZED', errorType: 'UnauthorizedException' });
    }),
    { numRuns: 14 },
  );
});
