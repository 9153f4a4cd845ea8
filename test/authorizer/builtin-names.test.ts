/**
 * Issue #13 "Lookups keyed by user input", the authorizer: namespaces, channel
 * segments and kids spelled like Object.prototype properties get the answer an
 * unknown name gets (NAMESPACE_UNKNOWN, CHANNEL_INVALID, KID_UNKNOWN), never a
 * throw; a namespace configured under such a name works like any other.
 */
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import type { EventOperation } from '../../functions/core/authorizer-contract';
import { isValidSegment } from '../../functions/core/channels';
import { memoryLogger } from '../../functions/shared/log';
import { builtinName, builtinSegment, controlFor } from '../support/builtin-names';
import { b64, event, K1, NOW_MS, NOW_S, secrets, settingsFor } from '../tokens/fixtures';

const settings = settingsFor({ defaultNamespace: 'chat' });

function hmacToken(payload: object, header: object = { alg: 'HS256', kid: 'k1' }, secret = K1): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A token granting everything on the namespace `ns` (when it is a valid segment) and on /chat. */
function grantingToken(ns: string): string {
  const channels: Record<string, object> = { '/chat/*': { subscribe: true, publish: true } };
  if (isValidSegment(ns)) channels[`/${ns}/*`] = { subscribe: true, publish: true };
  return hmacToken({ exp: NOW_S + 600, scope: 'connect subscribe', channels });
}

async function decide(s: typeof settings, op: EventOperation, token: string, channel: string) {
  const logger = memoryLogger();
  const authorize = createAuthorizerHandler({ settings: s, secrets: secrets(), logger, now: () => NOW_MS });
  const result = await authorize(event(op, token, channel));
  const errors = logger.entries.filter((e) => e.level === 'error');
  const decision = logger.entries.find((e) => e.msg === 'authorizer decision');
  return { allowed: result.isAuthorized, reason: decision?.reason, errors };
}

const op = fc.constantFrom<EventOperation>('EVENT_SUBSCRIBE', 'EVENT_PUBLISH');

test('a namespace named like a built-in property is refused as unknown, as its control name is', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, op, fc.constantFrom('x', 'a-b'), async (name, operation, rest) => {
      const got = await decide(settings, operation, grantingToken(name), `/${name}/${rest}`);
      const control = controlFor(name);
      const want = await decide(settings, operation, grantingToken(control), `/${control}/${rest}`);
      expect(got.errors).toEqual([]);
      expect(got.allowed).toBe(false);
      expect(got.reason).toBe(want.reason);
      expect(got.reason).toBe(isValidSegment(name) ? 'NAMESPACE_UNKNOWN' : 'CHANNEL_INVALID');
    }),
    { numRuns: 60 },
  );
});

test('a channel segment named like a built-in property under a configured namespace is decided as any segment', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, op, async (name, operation) => {
      const got = await decide(settings, operation, grantingToken('chat'), `/chat/${name}`);
      const want = await decide(settings, operation, grantingToken('chat'), `/chat/${controlFor(name)}`);
      expect(got.errors).toEqual([]);
      expect([got.allowed, got.reason]).toEqual([want.allowed, want.reason]);
      expect(got.allowed).toBe(isValidSegment(name));
    }),
    { numRuns: 40 },
  );
});

test('a kid named like a built-in property is KID_UNKNOWN, as its control is', async () => {
  await fc.assert(
    fc.asyncProperty(builtinName, async (kid) => {
      const payload = { exp: NOW_S + 600, scope: 'connect', channels: { '/chat/*': { subscribe: true } } };
      const got = await decide(settings, 'EVENT_SUBSCRIBE', hmacToken(payload, { alg: 'HS256', kid }), '/chat/x');
      const want = await decide(settings, 'EVENT_SUBSCRIBE', hmacToken(payload, { alg: 'HS256', kid: controlFor(kid) }), '/chat/x');
      expect(got.errors).toEqual([]);
      expect(got.allowed).toBe(false);
      expect(got.reason).toBe(want.reason);
      expect(got.reason).toBe('KID_UNKNOWN');
    }),
    { numRuns: 30 },
  );
});

test('a namespace configured under a built-in name is a namespace like any other', async () => {
  await fc.assert(
    fc.asyncProperty(builtinSegment, async (name) => {
      const s = settingsFor({ defaultNamespace: 'chat', namespaces: { chat: { clientPublish: true }, [name]: { clientPublish: true } } });
      expect((await decide(s, 'EVENT_SUBSCRIBE', grantingToken(name), `/${name}/room`)).allowed).toBe(true);
      expect((await decide(s, 'EVENT_PUBLISH', grantingToken(name), `/${name}/room`)).allowed).toBe(true);
      // ...and the other built-in names stay unknown beside it.
      const other = name === 'constructor' ? 'toString' : 'constructor';
      expect((await decide(s, 'EVENT_SUBSCRIBE', grantingToken(other), `/${other}/room`)).reason).toBe('NAMESPACE_UNKNOWN');
    }),
    { numRuns: 14 },
  );
});
