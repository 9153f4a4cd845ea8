/**
 * Issue #11.1 and #11.5 end to end in the emulator (startDevServer: the real authorizer,
 * the real namespace handlers, dynalite), with OPENID_CONNECT also on the API:
 * - AppSync hands every JWT to OIDC when that mode is on the API, so an Eventsock token
 *   reaches the Lambda authorizer only as `es1.<JWT>` (functions/core/token-format.ts;
 *   the routing rule and its sources are in local/event-api/auth.ts);
 * - the Lambda authorizer's identity_validation_expression refuses junk before the
 *   authorizer is invoked (UnauthorizedException, no `authorizer decision` log line).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { connect, type EventsockClient } from '../../client/node';
import { signToken } from '../../client/token';
import type { Envelope } from '../../functions/core/envelope';
import { TOKEN_PREFIX, withoutTokenPrefix } from '../../functions/core/token-format';
import { waitFor } from '../client/support/wait';
import { RawSocket, startTestServer, TEST_TOKEN_SECRET } from '../e2e/helpers';

const ISSUER = 'https://id.example.test/realm';
let server: Awaited<ReturnType<typeof startTestServer>>;
let dir: string;
let oidcKey: CryptoKey;
const clients: EventsockClient[] = [];

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  oidcKey = privateKey;
  dir = mkdtempSync(join(tmpdir(), 'es-routing-'));
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'idp', alg: 'ES256', use: 'sig' }] }));
  server = await startTestServer(
    {
      auth: { openIdConnect: { issuer: ISSUER } },
      namespaces: {
        default: {},
        chat: { clientPublish: true, publishAuthModes: ['AWS_IAM', 'AWS_LAMBDA', 'OPENID_CONNECT'], subscribeAuthModes: ['AWS_LAMBDA', 'OPENID_CONNECT'] },
      },
    },
    { oidcJwksFile: jwksFile },
  );
}, 30_000);
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const grants = { '/chat/*': { subscribe: true, publish: true } };
const auth = (token: string) => ({ host: server.httpHost, Authorization: token });
const decisions = () => server.logs.entries.filter((e) => e.msg === 'authorizer decision').length;

test('an Eventsock token (es1.) is accepted by the authorizer while OPENID_CONNECT is on the API: the client connects, subscribes, publishes and receives', async () => {
  const token = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'alice', channels: grants });
  expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
  const c = await connect({ endpoint: server.url, auth: { type: 'token', token } });
  clients.push(c);
  const got: Envelope[] = [];
  await c.subscribe('/chat/room', (m) => got.push(m));
  const r = await c.publish('/chat/room', { event: 'message', data: 'hi' });
  expect(r.failed).toEqual([]);
  await waitFor(() => got.length === 1, 'the event back', 10_000);
  expect(got[0]).toMatchObject({ event: 'message', channel: '/chat/room', data: 'hi', meta: { uid: 'alice' } });
}, 30_000);

test('the same token as a bare JWT goes to OIDC, as on the service, and is refused there; an OIDC token still works', async () => {
  const bare = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', uid: 'alice', channels: grants, prefix: false });
  const refused = await RawSocket.connect(server.wsUrl, auth(bare));
  expect(await refused.type('connection_error')).toMatchObject({ errors: [{ errorType: 'UnauthorizedException' }] });
  await refused.closed;
  expect(server.logs.entries.filter((e) => e.msg === 'token auth refused' && e.mode === 'OPENID_CONNECT').length).toBeGreaterThan(0);

  const now = Math.floor(Date.now() / 1000);
  const idToken = await new SignJWT({ sub: 'oidc-user' }).setProtectedHeader({ alg: 'ES256', kid: 'idp' }).setIssuer(ISSUER).setIssuedAt(now).setExpirationTime(now + 600).sign(oidcKey);
  const s = await RawSocket.connect(server.wsUrl, auth(idToken));
  await s.type('connection_ack');
  expect((await s.subscribe('o', '/chat/oidc', auth(idToken))).type).toBe('subscribe_success');
  // And `es1.` in front of the bare Eventsock JWT makes it an authorizer token again.
  expect((await s.subscribe('l', '/chat/lambda', auth(`${TOKEN_PREFIX}${withoutTokenPrefix(bare)}`))).type).toBe('subscribe_success');
  await s.close();
}, 30_000);

test('identity_validation_expression: junk is refused with UnauthorizedException before the authorizer is invoked', async () => {
  const good = await signToken({ secret: TEST_TOKEN_SECRET, kid: 'k1', channels: grants });
  const s = await RawSocket.connect(server.wsUrl, auth(good));
  await s.type('connection_ack');
  const before = decisions();
  const junk = ['not-a-token', 'es1.', 'es1.a.b', 'a.b.c', `es1.es1.${withoutTokenPrefix(good)}`, `Token ${good}`, `${good} `, `${good}\n`, 'es1.a.b.c.d', `es1.${'x'.repeat(20)}.!!.y`];
  for (const [i, t] of junk.entries()) {
    const r = await s.subscribe(`j${i}`, '/chat/room', auth(t));
    expect([t, r.type, (r.errors as Array<{ errorType: string }>)[0].errorType]).toEqual([t, 'subscribe_error', 'UnauthorizedException']);
  }
  // No invocation: the authorizer logs every denial, and logged none of these.
  expect(decisions()).toBe(before);
  expect(server.logs.entries.filter((e) => e.reason === 'identity_validation_expression does not match').length).toBe(junk.length);
  expect(JSON.stringify(server.logs.entries)).not.toContain(withoutTokenPrefix(good).split('.')[2]);
  // `Bearer ` is OIDC's scheme on the service (aws-amplify/amplify-js#9513): with OIDC on the API it is checked there, not invoked either.
  expect((await s.subscribe('b', '/chat/room', auth(`Bearer ${good}`))).type).toBe('subscribe_error');
  expect(decisions()).toBe(before);
  // A well-formed token that the authorizer refuses is invoked (and denied): the expression is a shape check only.
  const foreign = await signToken({ secret: 'another-secret-0123456789abcdef0123', kid: 'k1', channels: grants });
  expect((await s.subscribe('f', '/chat/room', auth(foreign))).type).toBe('subscribe_error');
  expect(decisions()).toBe(before + 1);
  await s.close();
}, 30_000);
