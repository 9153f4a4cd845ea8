/**
 * Property-based tests (fast-check): random tokens and channels never make the
 * authorizer throw, never authorize without a covering grant, and a cache keyed on
 * the token alone (the worst case for AppSync's authorizer cache) never changes an
 * answer.
 */
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import type { AuthorizerEvent, AuthorizerResult, EventOperation } from '../../functions/core/authorizer-contract';
import { tryParseChannel } from '../../functions/core/channels';
import { memoryLogger } from '../../functions/shared/log';
import { b64, event, K1, NOW_MS, NOW_S, secrets, settingsFor } from '../tokens/fixtures';

const config = { defaultNamespace: 'chat', namespaces: { chat: { clientPublish: true }, news: {}, locked: { clientPublish: true, allowWildcardSubscribe: false } } };
const settings = settingsFor(config);

// A small alphabet so that patterns and channels collide often; 'zz' never appears in a pattern.
const SEGMENTS = ['chat', 'news', 'locked', 'a', 'b', '*', 'c-1', 'other'];
const segment = fc.constantFrom(...SEGMENTS, 'A b', '', '**', 'a*');
const path = fc.array(segment, { minLength: 0, maxLength: 6 }).chain((segs) => fc.constantFrom('/' + segs.join('/'), segs.join('/'), '/' + segs.join('/') + '/'));
const publishValue = fc.oneof(fc.boolean(), fc.array(fc.constantFrom('m', 'typing', ''), { maxLength: 3 }), fc.constant('yes'), fc.constant(1));
const permissions = fc.record({ subscribe: fc.oneof(fc.boolean(), fc.constant('true')), publish: publishValue, history: fc.boolean() }, { requiredKeys: [] });
const channelsClaim = fc.oneof(
  fc.dictionary(path, permissions, { maxKeys: 4 }),
  fc.constant([]),
  fc.constant('/*'),
  fc.constant(null),
);
const scope = fc.oneof(fc.constant('connect subscribe'), fc.constant('connect'), fc.constant('subscribe'), fc.constant(''), fc.constant(['connect']), fc.constant(7), fc.constant(undefined));
const payload = fc.record({
  exp: fc.oneof(fc.constant(NOW_S + 600), fc.constant(NOW_S - 600), fc.constant('soon')),
  scope,
  channels: channelsClaim,
  uid: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 8 }), fc.integer()),
}, { requiredKeys: ['channels'] });

function hmacToken(p: object, secret: string): string {
  const input = `${b64({ alg: 'HS256', kid: 'k1' })}.${b64(p)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const token = fc.oneof(
  { weight: 6, arbitrary: payload.map((p) => ({ token: hmacToken(p, K1), payload: p as Record<string, unknown> })) },
  { weight: 1, arbitrary: payload.map((p) => ({ token: hmacToken(p, 'wrong-secret'), payload: undefined })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => ({ token: s, payload: undefined })) },
);
const operation = fc.constantFrom<EventOperation>('EVENT_CONNECT', 'EVENT_SUBSCRIBE', 'EVENT_PUBLISH');

/** An independent, brute-force reading of the rules, used as the oracle. */
function splitChannel(raw: string): string[] {
  let s = raw;
  if (s.startsWith('/')) s = s.slice(1);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s.split('/');
}
function matches(pattern: string[], channel: string[]): boolean {
  const tail = pattern[pattern.length - 1] === '*';
  if (tail ? channel.length < pattern.length : channel.length !== pattern.length) return false;
  const fixed = tail ? pattern.length - 1 : pattern.length;
  for (let i = 0; i < fixed; i++) if (pattern[i] !== '*' && pattern[i] !== channel[i]) return false;
  return true;
}
/** Every concrete channel a (possibly wildcard) channel stands for, over the alphabet plus a fresh segment. */
function concreteChannels(segs: string[]): string[][] {
  if (segs[segs.length - 1] !== '*') return [segs];
  const prefix = segs.slice(0, -1);
  const out: string[][] = [];
  const alphabet = ['a', 'b', 'zz'];
  const grow = (acc: string[]) => {
    if (acc.length > prefix.length) out.push(acc);
    if (acc.length === 5) return;
    for (const s of alphabet) grow([...acc, s]);
  };
  grow(prefix);
  return out;
}
function grantsFor(p: Record<string, unknown> | undefined, op: 'subscribe' | 'publish'): string[][] {
  const channels = p?.channels;
  if (!channels || typeof channels !== 'object' || Array.isArray(channels)) return [];
  const out: string[][] = [];
  for (const [pattern, perms] of Object.entries(channels as Record<string, Record<string, unknown>>)) {
    const v = perms?.[op];
    if (v === true || (Array.isArray(v) && v.length > 0)) out.push(splitChannel(pattern));
  }
  return out;
}

/** Would AppSync route this request to the authorizer at all? Wildcards are for subscribe only. */
function reachable(op: EventOperation, channel: string, namespaces: Record<string, unknown>): boolean {
  const c = tryParseChannel(channel, { allowWildcard: op === 'EVENT_SUBSCRIBE' });
  return c !== undefined && c.namespace in namespaces;
}

describe('authorizer properties', () => {
  const authorize = createAuthorizerHandler({ settings, secrets: secrets(), logger: memoryLogger(), now: () => NOW_MS });

  test('never throws, and never authorizes a channel without a covering grant', async () => {
    await fc.assert(
      fc.asyncProperty(token, operation, path, async (t, op, channel) => {
        const r = await authorize(event(op, t.token, op === 'EVENT_CONNECT' ? undefined : channel));
        expect(typeof r.isAuthorized).toBe('boolean');
        if (!r.isAuthorized) {
          expect(r.ttlOverride).toBe(0);
          return;
        }
        // Only correctly signed, unexpired tokens get anywhere.
        expect(t.payload).toBeDefined();
        expect(t.payload!.exp).toBe(NOW_S + 600);
        if (op === 'EVENT_CONNECT') {
          const s = t.payload!.scope;
          expect(s === 'connect' || s === 'connect subscribe' || (Array.isArray(s) && s.includes('connect'))).toBe(true);
          return;
        }
        const segs = splitChannel(channel);
        const ns = settings.namespaces[segs[0]];
        expect(ns).toBeDefined();
        const grants = grantsFor(t.payload, op === 'EVENT_SUBSCRIBE' ? 'subscribe' : 'publish');
        if (op === 'EVENT_PUBLISH') {
          expect(ns.clientPublish).toBe(true);
          expect(segs.includes('*')).toBe(false);
        } else if (segs[segs.length - 1] === '*') {
          expect(ns.allowWildcardSubscribe).toBe(true);
        }
        // Every channel the request stands for is matched by some granted pattern.
        for (const c of concreteChannels(segs)) expect([channel, c, grants.some((g) => matches(g, c))]).toEqual([channel, c, true]);
      }),
      { numRuns: 600 },
    );
  });

  test('a cache keyed on the token alone, honouring ttlOverride, never changes an answer', async () => {
    // Include tokens that are universal in this config, so cached answers actually occur.
    const universal = fc.constant({ token: hmacToken({ exp: NOW_S + 600, scope: 'connect', channels: { '/*': { subscribe: true, publish: true } } }, K1), payload: {} as Record<string, unknown> });
    const anyToken = fc.oneof(token, universal);
    const universalSettings = settingsFor({ defaultNamespace: 'chat', namespaces: { chat: { clientPublish: true }, other: { clientPublish: true } } });
    let replayed = 0;
    for (const s of [settings, universalSettings]) {
      const direct = createAuthorizerHandler({ settings: s, secrets: secrets(), logger: memoryLogger(), now: () => NOW_MS });
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(anyToken, operation, path), { minLength: 1, maxLength: 12 }), async (requests) => {
          const cache = new Map<string, AuthorizerResult>();
          for (const [t, op, channel] of requests) {
            const e: AuthorizerEvent = event(op, t.token, op === 'EVENT_CONNECT' ? undefined : channel);
            const fresh = await direct(e);
            // AppSync itself refuses malformed channels and namespaces that do not exist (PROTOCOL.md), so a
            // replayed allow there grants nothing; every request that reaches a real channel must agree.
            if (op !== 'EVENT_CONNECT' && !reachable(op, channel, s.namespaces)) continue;
            const cached = cache.get(t.token);
            if (cached) replayed++;
            if (cached) expect({ allow: cached.isAuthorized, ctx: cached.handlerContext }).toEqual({ allow: fresh.isAuthorized, ctx: fresh.handlerContext });
            else if ((fresh.ttlOverride ?? 0) > 0) cache.set(t.token, fresh);
          }
        }),
        { numRuns: 150 },
      );
    }
    // The universal config must actually produce cached answers, or this property proves nothing.
    expect(replayed).toBeGreaterThan(50);
  });
});
