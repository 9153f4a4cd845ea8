/**
 * functions/namespace/handlers.js run through the emulator's APPSYNC_JS runtime,
 * with the code namespaceHandlerCode() produces for a real resolved config.
 */
import { decodeTime } from 'ulid';
import { parseChannel, parsePattern, patternMatches } from '../../functions/core/channels';
import { resolveConfig } from '../../functions/core/config';
import { namespaceHandlerCode, namespaceHandlerSource } from '../../functions/namespace/code';
import { loadNamespaceHandlers, NamespaceHandlerError, type OutgoingEvent } from '../../local/appsync-js';
import { IAM_IDENTITY, NOW, TEST_CONFIG, handlersFor, lambdaIdentity, publish, subscribe } from './helpers';

const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function errorCode(e: OutgoingEvent): string | undefined {
  return e.error?.split(':')[0];
}

function refusedWith(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof NamespaceHandlerError) return e.code;
    throw e;
  }
  return 'not refused';
}

describe('onPublish for clients (Lambda-authorized)', () => {
  const { onPublish } = handlersFor();
  const client = lambdaIdentity({ uid: 'user-1', umd: { name: 'Ada', role: 'admin' }, publish: [['/chat/*', ['chat.message']]] });

  test('wraps an allowed event in the envelope with id, channel and meta from the identity', () => {
    const [out] = onPublish(publish('/chat/room-1', client, [{ event: 'chat.message', data: { text: 'hi' } }]));
    expect(out.id).toBe('evt-0');
    expect(out.error).toBeUndefined();
    const env = out.payload as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(['channel', 'data', 'event', 'id', 'meta']);
    expect(env).toMatchObject({
      event: 'chat.message',
      channel: '/chat/room-1',
      data: { text: 'hi' },
      meta: { uid: 'user-1', umd: { name: 'Ada', role: 'admin' } },
    });
    expect(env.id).toMatch(ULID_RE);
    expect(decodeTime(env.id as string)).toBe(NOW);
  });

  test('an event the token does not name is dropped with an error the client sees', () => {
    const [out] = onPublish(publish('/chat/room-1', client, [{ event: 'chat.delete', data: {} }]));
    expect(out).toEqual({ id: 'evt-0', error: expect.stringContaining("EVENT_NOT_ALLOWED: the token does not allow event 'chat.delete' on /chat/room-1") });
  });

  test('the reserved eventsock. prefix is refused even when the token allows any name', () => {
    const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
    const out = onPublish(publish('/chat/room-1', anyName, [{ event: 'eventsock.presence' }, { event: 'eventsock.' }, { event: 'eventsockish' }]));
    expect(out.map(errorCode)).toEqual(['RESERVED_EVENT', 'RESERVED_EVENT', undefined]);
  });

  test('the reserved prefix is refused in any letter case', () => {
    const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
    const out = onPublish(publish('/chat/room-1', anyName, [{ event: 'Eventsock.system' }, { event: 'EVENTSOCK.system' }, { event: 'eVeNtSoCk.' }, { event: 'EventSockish' }]));
    expect(out.map(errorCode)).toEqual(['RESERVED_EVENT', 'RESERVED_EVENT', 'RESERVED_EVENT', undefined]);
  });

  test("a client's own id, meta and channel are discarded", () => {
    const forged = { event: 'chat.message', data: 1, id: '01AAAAAAAAAAAAAAAAAAAAAAAA', channel: '/chat/other', meta: { uid: 'admin', umd: { role: 'root' } } };
    const [out] = onPublish(publish('/chat/room-1', client, [forged]));
    const env = out.payload as Record<string, unknown>;
    expect(env.id).not.toBe(forged.id);
    expect(env.channel).toBe('/chat/room-1');
    expect(env.meta).toEqual({ uid: 'user-1', umd: { name: 'Ada', role: 'admin' } });
  });

  test("a client's nonce is copied to the envelope's top level, never into meta", () => {
    const [out] = onPublish(publish('/chat/room-1', client, [{ event: 'chat.message', data: 1, nonce: 'a1B2_c3-D4' }]));
    const env = out.payload as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(['channel', 'data', 'event', 'id', 'meta', 'nonce']);
    expect(env.nonce).toBe('a1B2_c3-D4');
    expect(env.meta).toEqual({ uid: 'user-1', umd: { name: 'Ada', role: 'admin' } });
    // Absent or null: no nonce field at all.
    const [plain, nulled] = onPublish(publish('/chat/room-1', client, [{ event: 'chat.message' }, { event: 'chat.message', nonce: null }]));
    expect(plain.payload).not.toHaveProperty('nonce');
    expect(nulled.payload).not.toHaveProperty('nonce');
  });

  test.each([
    ['a number', 7],
    ['an object', { uid: 'admin' }],
    ['an empty string', ''],
    ['65 characters', 'n'.repeat(65)],
    ['a space', 'a b'],
    ['a quote', 'a"b'],
    ['a non-ASCII letter', 'nonceé'],
    ['a control character', 'a\nb'],
  ])('a malformed nonce (%s) fails that event alone with INVALID_NONCE', (_label, nonce) => {
    const out = onPublish(publish('/chat/room-1', client, [{ event: 'chat.message', nonce }, { event: 'chat.message', nonce: 'ok' }]));
    expect(out.map(errorCode)).toEqual(['INVALID_NONCE', undefined]);
    expect(out[0].payload).toBeUndefined();
    expect(out[1].payload).toMatchObject({ nonce: 'ok' });
  });

  test('a 64-character nonce is accepted', () => {
    const [out] = onPublish(publish('/chat/room-1', client, [{ event: 'chat.message', nonce: 'Z'.repeat(64) }]));
    expect(out.payload).toMatchObject({ nonce: 'Z'.repeat(64) });
  });

  test('uid and umd are null when the token carries none', () => {
    const anon = lambdaIdentity({ publish: [['/chat/*', true]] });
    const [out] = onPublish(publish('/chat/room-1', anon, [{ event: 'x' }]));
    expect(out.payload).toMatchObject({ data: null, meta: { uid: null, umd: null } });
  });

  test.each([
    ['a string', 'hello', 'INVALID_PAYLOAD'],
    ['a number', 42, 'INVALID_PAYLOAD'],
    ['null', null, 'INVALID_PAYLOAD'],
    ['an array', [{ event: 'chat.message' }], 'INVALID_PAYLOAD'],
    ['no event name', { data: 1 }, 'INVALID_EVENT'],
    ['a numeric event name', { event: 7 }, 'INVALID_EVENT'],
    ['an empty event name', { event: '' }, 'INVALID_EVENT'],
    ['a 129-character event name', { event: 'e'.repeat(129) }, 'INVALID_EVENT'],
    ["a '*' in the name", { event: 'chat.*' }, 'INVALID_EVENT'],
    ['a control character in the name', { event: 'chat\nmessage' }, 'INVALID_EVENT'],
  ])('a malformed event (%s) is dropped with the right code', (_label, payload, code) => {
    const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
    const [out] = onPublish(publish('/chat/room-1', anyName, [payload]));
    expect(out.payload).toBeUndefined();
    expect(errorCode(out)).toBe(code);
  });

  test('a 128-character name is accepted', () => {
    const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
    const [out] = onPublish(publish('/chat/room-1', anyName, [{ event: 'e'.repeat(128) }]));
    expect(out.error).toBeUndefined();
  });

  test('a mixed batch keeps the allowed events and reports each dropped one', () => {
    const out = onPublish(
      publish('/chat/room-1', client, [
        { event: 'chat.message', data: 'a' },
        { event: 'chat.delete' },
        'junk',
        { event: 'chat.message', data: 'b' },
        { event: 'eventsock.x' },
      ]),
    );
    expect(out.map((e) => e.id)).toEqual(['evt-0', 'evt-1', 'evt-2', 'evt-3', 'evt-4']);
    expect(out.map(errorCode)).toEqual([undefined, 'EVENT_NOT_ALLOWED', 'INVALID_PAYLOAD', undefined, 'RESERVED_EVENT']);
    expect(out.filter((e) => e.payload).map((e) => (e.payload as { data: string }).data)).toEqual(['a', 'b']);
  });

  test('ids of one batch are well-formed ULIDs that strictly increase within the same millisecond', () => {
    const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
    const out = onPublish(publish('/chat/room-1', anyName, [1, 2, 3, 4, 5].map((n) => ({ event: 'n', data: n }))));
    const ids = out.map((e) => (e.payload as { id: string }).id);
    for (const id of ids) {
      expect(id).toMatch(ULID_RE);
      expect(decodeTime(id)).toBe(NOW);
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
    expect(new Set(ids).size).toBe(5);
  });

  test('ids follow the clock across invocations', () => {
    let t = NOW;
    const h = handlersFor(TEST_CONFIG, () => t);
    const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
    const first = (h.onPublish(publish('/chat/r', anyName, [{ event: 'n' }]))[0].payload as { id: string }).id;
    t += 1;
    const second = (h.onPublish(publish('/chat/r', anyName, [{ event: 'n' }]))[0].payload as { id: string }).id;
    expect(decodeTime(second)).toBe(NOW + 1);
    expect(second > first).toBe(true);
  });

  test('the handler also reads the context from resolverContext', () => {
    const identity = { resolverContext: lambdaIdentity({ uid: 'u2', publish: [['/chat/*', ['a']]] }).handlerContext };
    const out = onPublish(publish('/chat/room-1', identity as never, [{ event: 'a' }, { event: 'b' }]));
    expect(out.map(errorCode)).toEqual([undefined, 'EVENT_NOT_ALLOWED']);
    expect(out[0].payload).toMatchObject({ meta: { uid: 'u2' } });
  });

  test('a token without publish on this channel is refused outright', () => {
    const elsewhere = lambdaIdentity({ publish: [['/chat/lobby', true]] });
    expect(refusedWith(() => onPublish(publish('/chat/room-1', elsewhere, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
    const none = lambdaIdentity({ publish: [] });
    expect(refusedWith(() => onPublish(publish('/chat/room-1', none, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
  });

  test('a namespace without clientPublish refuses clients even when the token grants publish', () => {
    const anyName = lambdaIdentity({ publish: [['/*', true]] });
    expect(refusedWith(() => onPublish(publish('/default/news', anyName, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
  });
});

describe('onPublish data limit', () => {
  const { onPublish } = handlersFor({ ...TEST_CONFIG, publish: { maxDataBytes: 40 } });
  const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
  const run = (data: unknown) => onPublish(publish('/chat/room-1', anyName, [{ event: 'x', data }]))[0];

  test('counts serialized UTF-8 bytes: exactly at the limit passes, one character more fails naming both sizes', () => {
    // JSON.stringify('é' x 19) = 2 quotes + 19 x 2 bytes = 40 bytes.
    expect(run('é'.repeat(19)).error).toBeUndefined();
    expect(run('é'.repeat(20)).error).toBe('DATA_TOO_LARGE: data is 42 bytes serialized; at most 40 are allowed');
    // Astral characters: 4 bytes each, 2 UTF-16 units.
    expect(run('😀'.repeat(9)).error).toBeUndefined();
    expect(run('😀'.repeat(10)).error).toMatch(/^DATA_TOO_LARGE: data is 42 bytes/);
    expect(run('a'.repeat(38)).error).toBeUndefined();
    expect(run('a'.repeat(39)).error).toMatch(/^DATA_TOO_LARGE/);
  });

  test('objects are measured as JSON', () => {
    expect(run({ k: 'v'.repeat(30) }).error).toBeUndefined(); // {"k":"vvv..."} = 38 bytes
    expect(run({ k: 'v'.repeat(40) }).error).toMatch(/^DATA_TOO_LARGE: data is 48 bytes/);
  });
});

describe('publish grants: pattern matching follows the core', () => {
  const { onPublish } = handlersFor();
  const cases: Array<[string, string]> = [
    ['/chat/room-1', '/chat/room-1'],
    ['/chat/room-1', '/chat/room-2'],
    ['chat/room-1', '/chat/room-1'],
    ['/chat/*', '/chat/room-1'],
    ['/chat/*', '/chat/room-1/thread-9'],
    ['/chat/*', '/chat/a/b/c/d'],
    ['/chat/room-1/*', '/chat/room-1'],
    ['/chat/room-1/*', '/chat/room-1/x'],
    ['/chat/*/msgs', '/chat/x/msgs'],
    ['/chat/*/msgs', '/chat/x/other'],
    ['/chat/*/msgs', '/chat/x/msgs/more'],
    ['/*/room-1', '/chat/room-1'],
    ['/*/room-1', '/strict/room-1'],
    ['/*', '/chat/anything'],
    ['/chat', '/chat/room-1'],
    ['/strict/*', '/chat/room-1'],
  ];
  test.each(cases)('pattern %s on channel %s', (pattern, channel) => {
    const expected = patternMatches(parsePattern(pattern), parseChannel(channel).segments);
    const identity = lambdaIdentity({ publish: [[pattern, true]] });
    const outcome = refusedWith(() => onPublish(publish(channel, identity, [{ event: 'x' }])));
    expect(outcome === 'not refused').toBe(expected);
  });

  test('names of every matching grant are united, and true wins', () => {
    const identity = lambdaIdentity({
      publish: [
        ['/chat/*', ['chat.message']],
        ['/chat/room-1', ['chat.typing']],
        ['/chat/vip', true],
      ],
    });
    const names = ['chat.message', 'chat.typing', 'chat.other'].map((event) => ({ event }));
    expect(onPublish(publish('/chat/room-1', identity, names)).map(errorCode)).toEqual([undefined, undefined, 'EVENT_NOT_ALLOWED']);
    expect(onPublish(publish('/chat/room-2', identity, names)).map(errorCode)).toEqual([undefined, 'EVENT_NOT_ALLOWED', 'EVENT_NOT_ALLOWED']);
    expect(onPublish(publish('/chat/vip', identity, names)).map(errorCode)).toEqual([undefined, undefined, undefined]);
  });

  test('event names that are Object property names are matched literally', () => {
    const identity = lambdaIdentity({ publish: [['/chat/*', ['__proto__', 'toString']]] });
    const names = ['__proto__', 'toString', 'constructor', 'hasOwnProperty'].map((event) => ({ event }));
    expect(onPublish(publish('/chat/r', identity, names)).map(errorCode)).toEqual([undefined, undefined, 'EVENT_NOT_ALLOWED', 'EVENT_NOT_ALLOWED']);
  });

  test('a malformed grant is ignored, the others still apply', () => {
    const identity = { handlerContext: { uid: '', umd: '', publish: JSON.stringify([['/chat/*', 'yes'], 5, ['/chat/*', ['ok']]]) } };
    expect(onPublish(publish('/chat/r', identity, [{ event: 'ok' }, { event: 'no' }])).map(errorCode)).toEqual([undefined, 'EVENT_NOT_ALLOWED']);
  });
});

describe('onPublish for IAM and other publishers', () => {
  const { onPublish } = handlersFor();

  test("an IAM publisher's envelopes pass through unchanged", () => {
    const envelope = { id: '01JDQ3V9Z8X7W6V5T4S3R2Q1P0', event: 'eventsock.presence', channel: '/default/news', data: { a: [1, 'two'] }, meta: { uid: null, umd: null } };
    const ctx = publish('/default/news', IAM_IDENTITY, [envelope, 'not even an envelope']);
    expect(onPublish(ctx)).toEqual(ctx.events);
  });

  test('API-key (identity null) and OIDC publishers are refused', () => {
    expect(refusedWith(() => onPublish(publish('/chat/room-1', null, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
    const oidc = { sub: 'u', issuer: 'https://issuer.example', claims: {} };
    expect(refusedWith(() => onPublish(publish('/chat/room-1', oidc, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
  });

  test('the committed file (config unknown) lets IAM through and refuses clients', () => {
    const h = loadNamespaceHandlers(namespaceHandlerSource(), { now: () => NOW });
    const ctx = publish('/chat/room-1', IAM_IDENTITY, [{ any: 'thing' }]);
    expect(h.onPublish!(ctx)).toEqual(ctx.events);
    const client = lambdaIdentity({ publish: [['/chat/*', true]] });
    expect(refusedWith(() => h.onPublish!(publish('/chat/room-1', client, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
  });

  test("a namespace named like an Object property is not mistaken for a configured one", () => {
    const anyName = lambdaIdentity({ publish: [['/*', true]] });
    expect(refusedWith(() => onPublish(publish('/constructor/x', anyName, [{ event: 'x' }])))).toBe('HANDLER_UNAUTHORIZED');
    const h = handlersFor({ namespaces: { default: {}, toString: { clientPublish: true } } });
    expect(h.onPublish(publish('/toString/x', anyName, [{ event: 'x' }]))[0].error).toBeUndefined();
  });
});

describe('onSubscribe', () => {
  const { onSubscribe } = handlersFor();
  const client = lambdaIdentity({ publish: [] });

  test('refuses wildcard subscriptions where allowWildcardSubscribe is false', () => {
    expect(onSubscribe(subscribe('/strict/room/*', client))).toEqual({ unauthorized: true, errorType: 'UnauthorizedException' });
    expect(onSubscribe(subscribe('/strict/*', IAM_IDENTITY)).unauthorized).toBe(true);
  });

  test('allows concrete channels there, and wildcards elsewhere', () => {
    expect(onSubscribe(subscribe('/strict/room', client))).toEqual({ unauthorized: false });
    expect(onSubscribe(subscribe('/chat/*', client))).toEqual({ unauthorized: false });
    expect(onSubscribe(subscribe('/default/a/*', null))).toEqual({ unauthorized: false });
  });

  test('the committed file (config unknown) allows wildcard subscriptions', () => {
    const h = loadNamespaceHandlers(namespaceHandlerSource());
    expect(h.onSubscribe!(subscribe('/strict/*', client))).toEqual({ unauthorized: false });
  });
});

test('the test config resolves (guards the fixtures themselves)', () => {
  expect(resolveConfig(TEST_CONFIG).namespaces.strict.allowWildcardSubscribe).toBe(false);
});

describe('ULID construction from util.autoId randomness', () => {
  const code = () => namespaceHandlerCode(resolveConfig(TEST_CONFIG));
  const anyName = lambdaIdentity({ publish: [['/chat/*', true]] });
  const idsWith = (uuid: string, n: number) => {
    const h = loadNamespaceHandlers(code(), { now: () => NOW, autoId: () => uuid });
    return h.onPublish!(publish('/chat/r', anyName, Array.from({ length: n }, () => ({ event: 'x' })))).map((e) => (e.payload as { id: string }).id);
  };
  // The 48-bit time in Crockford base32, computed independently of the handler.
  const timePart = (ms: number) => {
    let s = '';
    let t = ms;
    for (let i = 0; i < 10; i++) {
      s = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[t % 32] + s;
      t = Math.floor(t / 32);
    }
    return s;
  };

  test('the random part is drawn from the UUID once, then incremented within the batch', () => {
    expect(idsWith('00000000-0000-4000-8000-000000000000', 3)).toEqual([
      `${timePart(NOW)}0000000000000000`,
      `${timePart(NOW)}0000000000000001`,
      `${timePart(NOW)}0000000000000002`,
    ]);
  });

  test("the UUID's fixed version and variant nibbles are not used as randomness", () => {
    // Only the version (4) and variant (b) nibbles are set: the ULID's random part stays zero.
    expect(idsWith('00000000-0000-4000-b000-000000000000', 1)[0].slice(10)).toBe('0000000000000000');
    // 20 hex digits of all ones map to 16 base32 digits of all ones (80 bits).
    expect(idsWith('ffffffff-ffff-4fff-bfff-ffffffffffff', 1)[0].slice(10)).toBe('ZZZZZZZZZZZZZZZZ');
  });

  test('an exhausted random part moves to the next millisecond instead of wrapping', () => {
    const ids = idsWith('ffffffff-ffff-4fff-bfff-ffffffffffff', 2);
    expect(ids).toEqual([`${timePart(NOW)}ZZZZZZZZZZZZZZZZ`, `${timePart(NOW + 1)}ZZZZZZZZZZZZZZZZ`]);
    expect(decodeTime(ids[1])).toBe(NOW + 1);
  });
});
