/**
 * Issue #13: the publish API and the history API answer the same bad token with the same
 * reason. JWT-like values that fail the shape check (an unsecured token with its empty
 * signature, 2 or 4 parts) used to get publish's generic "missing or invalid API key or
 * token" while history named the reason. Real handlers, dynalite, the same verifier code.
 */
import { withoutTokenPrefix } from '../../functions/core/token-format';
import { signToken } from '../../client/token';
import { createHistoryHandler } from '../../functions/history/handler';
import { looksLikeJwt } from '../../functions/publish/token-publish';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { httpEvent, rigPublishHandler, startRig, type Rig } from '../publish/support';

const SECRET = 'refusals-test-secret-0123456789abcdef';
const API_KEY = 'pk_refusals_key_0123456789';
let rig: Rig;
let secretMap: Map<string, string>;

beforeAll(async () => {
  rig = await startRig({ name: 'es-refuse', namespaces: { default: {}, chat: { defaultStoreSeconds: 60, clientPublish: true } } });
  secretMap = new Map([
    [rig.settings.publish.apiKeyParameterNames[0], API_KEY],
    [rig.settings.tokens.hs256Keys[0].parameterName, SECRET],
  ]);
});
afterAll(() => rig.close());

type Http = { statusCode: number; headers: Record<string, string>; body: string };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function bothAnswers(bearer: string) {
  const publish = rigPublishHandler(rig, secretMap);
  const history = createHistoryHandler({ settings: rig.settings, dynamo: rig.dynamo, secrets: staticSecretSource(secretMap), logger: memoryLogger() });
  const headers = { authorization: `Bearer ${bearer}` };
  const p = (await publish(httpEvent({ path: '/publish', body: JSON.stringify({ channel: '/chat/a', event: 'message', data: 1 }), headers }))) as Http;
  const h = (await history(httpEvent({ method: 'GET', path: '/history', query: { channel: '/chat/a' }, headers }))) as Http;
  return {
    publish: { status: p.statusCode, error: JSON.parse(p.body).error, auth: p.headers['www-authenticate'] },
    history: { status: h.statusCode, error: JSON.parse(h.body).error, auth: h.headers['www-authenticate'] },
  };
}

describe('the same token refusal from POST /publish and GET /history', () => {
  test('JWT-like values failing the shape check, and other bad tokens, get the same code and reason from both', async () => {
    const good = await signToken({ secret: SECRET, kid: 'k1', uid: 'u', channels: { '/chat/*': { publish: true, history: true } } });
    const [hp, pp, sp] = withoutTokenPrefix(good).split('.');
    const none = b64({ alg: 'none', typ: 'JWT' });
    const last = sp[sp.length - 1];
    const nonCanonical = `${hp}.${pp}.${sp.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(last) | 1]}`;
    const expired = await signToken({ secret: SECRET, kid: 'k1', channels: { '/chat/*': { publish: true, history: true } }, now: Date.now() - 7200_000, ttlSeconds: 60 });
    const cases: Array<[string, string, string]> = [
      ['alg none, empty signature', `${none}.${pp}.`, 'ALG_NONE'],
      ['alg none, 2 parts', `${none}.${pp}`, 'TOKEN_MALFORMED'],
      ['HS256, 2 parts', `${hp}.${pp}`, 'TOKEN_MALFORMED'],
      ['4 parts', `${good}.${sp}`, 'TOKEN_MALFORMED'],
      ['4 parts, the last empty', `${good}.`, 'TOKEN_MALFORMED'],
      ['an empty payload part', `${hp}..${sp}`, 'TOKEN_MALFORMED'],
      ['a non-canonical signature spelling', nonCanonical, 'SIGNATURE_NOT_CANONICAL'],
      ['a tampered payload', `${hp}.${b64({ exp: 9999999999, scope: 'connect', channels: { '/*': { publish: true } } })}.${sp}`, 'SIGNATURE_INVALID'],
      ['expired', expired, 'TOKEN_EXPIRED'],
    ];
    for (const [what, bearer, reason] of cases) {
      expect([what, looksLikeJwt(bearer)]).toEqual([what, true]);
      const a = await bothAnswers(bearer);
      const expected = { status: 401, error: { code: 'UNAUTHORIZED', message: `token refused (${reason})` }, auth: 'Bearer error="invalid_token"' };
      expect([what, a.publish]).toEqual([what, expected]);
      expect([what, a.history]).toEqual([what, expected]);
    }
    // The control: the good token publishes, and reads history.
    const ok = await bothAnswers(good);
    expect([ok.publish.status, ok.history.status]).toEqual([202, 200]);
  });

  test('values that are no JWT stay a generic refusal on publish, which never says whether a key exists', async () => {
    for (const bearer of ['pk_wrong_key_000000000', 'a.b.c', 'eventsock', 'x'.repeat(48), 'bm90IGpzb24.e30.']) {
      const a = await bothAnswers(bearer);
      expect([bearer, a.publish.status, a.publish.error.code, a.publish.error.message]).toEqual([bearer, 401, 'UNAUTHORIZED', expect.stringContaining('missing or invalid API key or token')]);
      expect([bearer, a.history.status, a.history.error.code]).toEqual([bearer, 401, 'UNAUTHORIZED']);
    }
  });
});
