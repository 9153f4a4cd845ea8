/**
 * Client publishes through the publish API with a JWT (functions/publish/token-publish.ts):
 * the real handler, dynalite, and the SigV4-verifying local Event API endpoint.
 */
import { withoutTokenPrefix } from '../../functions/core/token-format';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { signToken } from '../../client/token';
import type { PublishHandlerDeps } from '../../functions/publish/handler';
import { looksLikeJwt, scopedDedupId } from '../../functions/publish/token-publish';
import { memoryLogger } from '../../functions/shared/log';
import { SecretUnavailableError, staticSecretSource, type SecretSource } from '../../functions/shared/secrets';
import { httpEvent, rigPublishHandler, startRig, type Rig } from './support';

const KEY1 = 'pk_first_key_0123456789';
const KEY2 = 'pk_second_key_9876543210';
const SECRET = 'token-publish-secret-0123456789abcdef';

let rig: Rig;
let secretMap: Map<string, string>;

beforeAll(async () => {
  rig = await startRig({
    name: 'es-tokpub',
    namespaces: { default: {}, chat: { defaultStoreSeconds: 600, clientPublish: true }, news: { defaultStoreSeconds: 600 } },
  });
});
afterAll(() => rig.close());
beforeEach(() => {
  rig.endpoint.received.length = 0;
  rig.endpoint.respond = undefined;
  const [p1, p2] = rig.settings.publish.apiKeyParameterNames;
  secretMap = new Map([
    [p1, KEY1],
    [p2, KEY2],
    [rig.settings.tokens.hs256Keys[0].parameterName, SECRET],
    [rig.settings.tokens.hs256Keys[1].parameterName, `${SECRET}-next`],
  ]);
});

function handler(over: Partial<PublishHandlerDeps> = {}) {
  return rigPublishHandler(rig, secretMap, over);
}

type Http = { statusCode: number; headers: Record<string, string>; body: string };
const post = async (h: ReturnType<typeof handler>, body: unknown, bearer: string) => {
  const r = (await h(httpEvent({ path: '/publish', body: JSON.stringify(body), headers: { authorization: `Bearer ${bearer}` } }))) as Http;
  return { status: r.statusCode, headers: r.headers, body: JSON.parse(r.body) };
};

const token = (over: Partial<Parameters<typeof signToken>[0]> = {}) =>
  signToken({ secret: SECRET, kid: 'k1', uid: 'alice', umd: { name: 'Alice' }, channels: { '/chat/*': { subscribe: true, publish: ['message', 'typing'] } }, ...over } as Parameters<typeof signToken>[0]);

async function stored(channel: string): Promise<Array<Record<string, unknown>>> {
  const out = await rig.dynamo.send(
    new QueryCommand({ TableName: rig.settings.tables.messages, KeyConditionExpression: 'channel = :c', ExpressionAttributeValues: { ':c': { S: channel } }, ConsistentRead: true }),
  );
  return (out.Items ?? []).map((i) => JSON.parse(i.envelope.S!));
}

describe('POST /publish with a client token', () => {
  it('publishes with meta from the verified claims, stores with the namespace default, and never logs the token', async () => {
    const logger = memoryLogger();
    const h = handler({ logger });
    const jwt = await token();
    const r = await post(h, { channel: '/chat/room-1', event: 'message', data: { text: 'hi', meta: { uid: 'admin' } } }, jwt);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ id: expect.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/), channel: '/chat/room-1', event: 'message' });
    const delivered = rig.endpoint.received.flatMap((x) => x.events);
    expect(delivered).toEqual([{ id: r.body.id, event: 'message', channel: '/chat/room-1', data: { text: 'hi', meta: { uid: 'admin' } }, meta: { uid: 'alice', umd: { name: 'Alice' } } }]);
    expect(await stored('/chat/room-1')).toContainEqual(delivered[0]);
    const logs = JSON.stringify(logger.entries);
    expect(logs).not.toContain(jwt);
    expect(logs).not.toContain(jwt.split('.')[2]);
    expect(logger.entries.find((e) => e.msg === 'publish')).toMatchObject({ publisher: 'token', uid: 'alice' });
  });

  it('refuses a forged meta in the body (it is no message field)', async () => {
    const r = await post(handler(), { channel: '/chat/room-1', event: 'message', meta: { uid: 'admin', umd: null } }, await token());
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'UNKNOWN_FIELD', field: 'meta' });
    expect(rig.endpoint.received).toEqual([]);
  });

  it('answers 403 EVENT_NOT_ALLOWED for an event outside the token\'s list, PUBLISH_NOT_GRANTED off its patterns, CLIENT_PUBLISH_DISABLED without clientPublish', async () => {
    const h = handler();
    const jwt = await token();
    const notAllowed = await post(h, { channel: '/chat/room-1', event: 'delete' }, jwt);
    expect([notAllowed.status, notAllowed.body.error]).toEqual([403, { code: 'EVENT_NOT_ALLOWED', message: expect.stringContaining('"delete"'), field: 'event' }]);
    const notGranted = await post(h, { channel: '/chat', event: 'message' }, await token({ channels: { '/chat/room-1': { publish: true } } }));
    expect([notGranted.status, notGranted.body.error]).toEqual([403, { code: 'PUBLISH_NOT_GRANTED', message: expect.stringContaining('/chat'), field: 'channel' }]);
    const disabled = await post(h, { channel: '/news/today', event: 'message' }, await token({ channels: { '/news/*': { publish: true } } }));
    expect([disabled.status, disabled.body.error]).toEqual([403, { code: 'CLIENT_PUBLISH_DISABLED', message: expect.stringContaining('clientPublish'), field: 'channel' }]);
    const reserved = await post(h, { channel: '/chat/room-1', event: 'eventsock.presence' }, await token({ channels: { '/chat/*': { publish: true } } }));
    expect([reserved.status, reserved.body.error.code]).toEqual([400, 'RESERVED_EVENT']);
    expect(rig.endpoint.received).toEqual([]);
  });

  it('refuses a whole batch when one message is not granted, naming its index, and sends nothing', async () => {
    const r = await post(
      handler(),
      { messages: [{ channel: '/chat/room-1', event: 'message' }, { channel: '/chat/room-2', event: 'typing' }, { channel: '/chat/room-3', event: 'kick' }] },
      await token(),
    );
    expect(r.status).toBe(403);
    expect(r.body.error).toEqual({ code: 'EVENT_NOT_ALLOWED', message: expect.stringMatching(/^messages\[2\]: /), field: 'messages[2].event' });
    expect(rig.endpoint.received).toEqual([]);
  });

  it('publishes a granted batch with ordered ids', async () => {
    const r = await post(handler(), { messages: [1, 2, 3].map((n) => ({ channel: '/chat/batch', event: 'message', data: n })) }, await token());
    expect(r.status).toBe(202);
    const ids = r.body.results.map((x: { id: string }) => x.id);
    expect([...ids].sort()).toEqual(ids);
    expect((await stored('/chat/batch')).map((e) => [e.id, e.data, (e.meta as { uid: string }).uid])).toEqual(ids.map((id: string, i: number) => [id, i + 1, 'alice']));
  });

  it('answers 400 naming store or emitPubSubEvent from a token, in a batch too', async () => {
    const h = handler();
    const jwt = await token();
    const store = await post(h, { channel: '/chat/room-1', event: 'message', store: 0 }, jwt);
    expect([store.status, store.body.error.code, store.body.error.field]).toEqual([400, 'FIELD_NOT_ALLOWED', 'store']);
    const emit = await post(h, { messages: [{ channel: '/chat/room-1', event: 'message' }, { channel: '/chat/room-1', event: 'message', emitPubSubEvent: false }] }, jwt);
    expect([emit.status, emit.body.error.code, emit.body.error.field]).toEqual([400, 'FIELD_NOT_ALLOWED', 'messages[1].emitPubSubEvent']);
    expect(rig.endpoint.received).toEqual([]);
  });

  it('answers 401 with the reason for an expired, tampered or foreign token, never showing it', async () => {
    const h = handler();
    const expired = await token({ ttlSeconds: 60, now: Date.now() - 3_600_000 });
    const r1 = await post(h, { channel: '/chat/room-1', event: 'message' }, expired);
    expect([r1.status, r1.body.error]).toEqual([401, { code: 'UNAUTHORIZED', message: 'token refused (TOKEN_EXPIRED)' }]);
    expect(r1.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    const good = await token();
    const [hd, , sig] = withoutTokenPrefix(good).split('.');
    const forged = `${hd}.${Buffer.from(JSON.stringify({ exp: 4102444800, uid: 'admin', channels: { '/*': { publish: true } } })).toString('base64url')}.${sig}`;
    const r2 = await post(h, { channel: '/chat/room-1', event: 'message' }, forged);
    expect([r2.status, r2.body.error.message]).toEqual([401, 'token refused (SIGNATURE_INVALID)']);
    const foreign = await signToken({ secret: 'some-other-secret-0123456789abcdef', kid: 'k1', channels: { '/chat/*': { publish: true } } });
    const r3 = await post(h, { channel: '/chat/room-1', event: 'message' }, foreign);
    expect([r3.status, r3.body.error.message]).toEqual([401, 'token refused (SIGNATURE_INVALID)']);
    expect(JSON.stringify([r1, r2, r3])).not.toContain(sig);
    expect(rig.endpoint.received).toEqual([]);
  });

  it('answers 503 SECRET_UNAVAILABLE with Retry-After when the token secret cannot be read', async () => {
    const down: SecretSource = {
      async get() {
        throw new SecretUnavailableError('SSM is down', { retryable: true, retryAfterSeconds: 5 });
      },
    };
    const r = await post(handler({ tokenSecrets: down }), { channel: '/chat/room-1', event: 'message' }, await token());
    expect([r.status, r.body.error.code, r.headers['retry-after']]).toEqual([503, 'SECRET_UNAVAILABLE', '5']);
  });

  it('while an API key slot cannot be read, a JWT-shaped value that is no valid token gets 503, never a verdict; a valid token still publishes', async () => {
    const [p1, p2] = rig.settings.publish.apiKeyParameterNames;
    const keysDown: SecretSource = {
      async get(name) {
        if (name === p1 || name === p2) throw new SecretUnavailableError('SSM is down', { retryable: true, retryAfterSeconds: 7 });
        return staticSecretSource(secretMap).get(name);
      },
    };
    const h = handler({ secrets: keysDown });
    const maybeKey = `${Buffer.from('{"k":1}').toString('base64url')}.abc.def`;
    const r = await post(h, { channel: '/chat/room-1', event: 'message' }, maybeKey);
    expect([r.status, r.body.error.code, r.headers['retry-after']]).toEqual([503, 'SECRET_UNAVAILABLE', '7']);
    const ok = await post(h, { channel: '/chat/room-1', event: 'message' }, await token());
    expect(ok.status).toBe(202);
  });

  it('scopes deduplicationId per uid: another user is not suppressed, a backend neither, the same user is', async () => {
    const h = handler();
    const alice = await token();
    const bob = await token({ uid: 'bob' });
    const a1 = await post(h, { channel: '/chat/dedup', event: 'message', data: 'a', deduplicationId: 'm-1' }, alice);
    const b1 = await post(h, { channel: '/chat/dedup', event: 'message', data: 'b', deduplicationId: 'm-1' }, bob);
    const k1 = await post(h, { channel: '/chat/dedup', event: 'message', data: 'k', deduplicationId: 'm-1' }, KEY1);
    const a2 = await post(h, { channel: '/chat/dedup', event: 'message', data: 'a again', deduplicationId: 'm-1' }, alice);
    expect([a1.status, b1.status, k1.status, a2.status]).toEqual([202, 202, 202, 202]);
    expect(new Set([a1.body.id, b1.body.id, k1.body.id]).size).toBe(3);
    expect(a2.body).toEqual({ id: a1.body.id, channel: '/chat/dedup', event: 'message', duplicate: true, duplicateOf: { id: a1.body.id, channel: '/chat/dedup' } });
    expect(rig.endpoint.received.flatMap((x) => x.events).map((e) => e.data)).toEqual(['a', 'b', 'k']);
    // A token naming nobody cannot deduplicate (it would share one scope with every such token).
    const nobody = await signToken({ secret: SECRET, kid: 'k1', channels: { '/chat/*': { publish: true } } });
    const n = await post(h, { channel: '/chat/dedup', event: 'message', deduplicationId: 'm-2' }, nobody);
    expect([n.status, n.body.error.code, n.body.error.field]).toEqual([400, 'INVALID_FIELD', 'deduplicationId']);
  });

  it('keeps API keys working, also one shaped like a JWT, with backend meta and store', async () => {
    const jwtShapedKey = `${Buffer.from('{"k":1}').toString('base64url')}.abc.def`;
    expect(looksLikeJwt(jwtShapedKey)).toBe(true);
    secretMap.set(rig.settings.publish.apiKeyParameterNames[1], jwtShapedKey);
    const h = handler();
    const r1 = await post(h, { channel: '/news/today', event: 'headline', store: 0, emitPubSubEvent: false }, KEY1);
    const r2 = await post(h, { channel: '/news/today', event: 'headline' }, jwtShapedKey);
    expect([r1.status, r2.status]).toEqual([202, 202]);
    expect(rig.endpoint.received.flatMap((x) => x.events).map((e) => e.meta)).toEqual([{ uid: null, umd: null }, { uid: null, umd: null }]);
    const wrong = await post(h, { channel: '/news/today', event: 'headline' }, 'pk_wrong_key_000000000');
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
  });

  it('tells generated API keys from JWTs', async () => {
    expect(looksLikeJwt('a'.repeat(48))).toBe(false);
    expect(looksLikeJwt('AbC123xyz'.repeat(5))).toBe(false);
    expect(looksLikeJwt('a.b.c')).toBe(false);
    expect(looksLikeJwt(await token())).toBe(true);
    expect(scopedDedupId({ uid: 'a b', scopes: new Set(), grants: [], exp: 0 }, 'x')).toBe('uid "a b" x');
    expect(scopedDedupId({ sub: 'u-1', scopes: new Set(), grants: [], exp: 0 }, 'x')).toBe('sub "u-1" x');
  });
});
