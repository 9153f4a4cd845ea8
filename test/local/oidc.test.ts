/**
 * The dev server and the CLI with OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS: JWKS
 * files (--oidc-jwks / --cognito-jwks) so tokens verify offline, the banner naming the
 * issuers and where their keys come from, and bad files refused at start.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { resolveConfig, type EventsockConfig } from '../../functions/core/config';
import { banner, parseCliArgs, USAGE } from '../../local/cli';
import { startDevServer } from '../../local/dev-server';
import { publishHttp, startTestServer } from '../e2e/helpers';
import { Client, headerProtocol, subscribe, wsUrl } from '../event-api/helpers';

const ISSUER = 'https://login.example.test/tenant';
const POOL = { userPoolId: 'eu-central-1_Local', awsRegion: 'eu-central-1' };
const POOL_ISSUER = `https://cognito-idp.eu-central-1.amazonaws.com/${POOL.userPoolId}`;

const CONFIG: EventsockConfig = {
  auth: { openIdConnect: { issuer: ISSUER, clientId: 'spa' }, cognito: POOL },
  namespaces: {
    default: {},
    members: { subscribeAuthModes: ['AWS_LAMBDA', 'OPENID_CONNECT', 'AMAZON_COGNITO_USER_POOLS'] },
  },
};

describe('dev server with OIDC and Cognito JWKS files', () => {
  let dir: string;
  let oidcKey: { privateKey: CryptoKey; jwk: JWK };
  let poolKey: { privateKey: CryptoKey; jwk: JWK };
  let oidcFile: string;
  let poolFile: string;

  async function key(alg: 'ES256' | 'RS256', kid: string) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-oidc-'));
    oidcKey = await key('ES256', 'oidc-1');
    poolKey = await key('RS256', 'pool-1');
    oidcFile = join(dir, 'oidc-jwks.json');
    poolFile = join(dir, 'pool-jwks.json');
    writeFileSync(oidcFile, JSON.stringify({ keys: [oidcKey.jwk] }));
    writeFileSync(poolFile, JSON.stringify({ keys: [poolKey.jwk] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses --oidc-jwks and --cognito-jwks, and --help documents them', () => {
    const opts = parseCliArgs(['--oidc-jwks', 'a.json', '--cognito-jwks=b.json'], {});
    expect(opts).toMatchObject({ oidcJwksFile: 'a.json', cognitoJwksFile: 'b.json' });
    expect(() => parseCliArgs(['--oidc-jwks'], {})).toThrow(/--oidc-jwks needs a value/);
    expect(USAGE).toContain('--oidc-jwks <file>');
    expect(USAGE).toContain('--cognito-jwks <file>');
  });

  it('verifies OIDC and Cognito tokens from the files; the subscribers get what the publish API sends', async () => {
    const server = await startTestServer(CONFIG, { oidcJwksFile: oidcFile, cognitoJwksFile: poolFile });
    try {
      expect(server.tokenIssuers).toEqual([
        { mode: 'OPENID_CONNECT', issuer: ISSUER, jwksFile: oidcFile },
        { mode: 'AMAZON_COGNITO_USER_POOLS', issuer: POOL_ISSUER, jwksFile: poolFile },
      ]);
      const text = banner(server, { source: 'test', config: resolveConfig(CONFIG) });
      expect(text).toContain(`OpenID Connect    ${ISSUER}  (keys: ${oidcFile})`);
      expect(text).toContain(`Cognito user pool ${POOL_ISSUER}  (keys: ${poolFile})`);

      const oidc = await new SignJWT({ aud: 'spa' }).setProtectedHeader({ alg: 'ES256', kid: 'oidc-1' }).setIssuer(ISSUER).setSubject('o-1').setIssuedAt().setExpirationTime('10m').sign(oidcKey.privateKey);
      const pool = await new SignJWT({ client_id: 'app', token_use: 'access', username: 'carol' })
        .setProtectedHeader({ alg: 'RS256', kid: 'pool-1' })
        .setIssuer(POOL_ISSUER)
        .setSubject('p-1')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(poolKey.privateKey);
      const auth = (token: string) => ({ host: server.httpHost, Authorization: token });
      const clients: Client[] = [];
      for (const [i, token] of [oidc, pool, server.devToken].entries()) {
        const c = await Client.open(wsUrl(server), ['aws-appsync-event-ws', headerProtocol(auth(token))]);
        clients.push(c);
        c.send({ type: 'connection_init' });
        await c.type('ka');
        expect((await subscribe(c, server, `s${i}`, '/members/room', auth(token))).type).toBe('subscribe_success');
      }
      const sent = await publishHttp(server, { channel: '/members/room', event: 'hello', data: { n: 1 } });
      expect(sent.status).toBeLessThan(300);
      for (const [i, c] of clients.entries()) {
        const frame = await c.next((f) => f.type === 'data' && f.id === `s${i}`);
        expect(JSON.parse(frame.event)).toMatchObject({ event: 'hello', data: { n: 1 } });
        c.close();
      }

      // A token from the right issuer but the wrong client stays out.
      const wrong = await new SignJWT({ aud: 'other' }).setProtectedHeader({ alg: 'ES256', kid: 'oidc-1' }).setIssuer(ISSUER).setSubject('o-2').setIssuedAt().setExpirationTime('10m').sign(oidcKey.privateKey);
      const c = await Client.open(wsUrl(server), ['aws-appsync-event-ws', headerProtocol(auth(wrong))]);
      expect((await c.type('connection_error')).errors[0].errorType).toBe('UnauthorizedException');
      expect(server.logs.entries.some((e: any) => e.msg === 'token auth refused' && /aud does not match/.test(e.reason))).toBe(true);
      expect(JSON.stringify(server.logs.entries)).not.toContain(wrong.split('.')[2]);
    } finally {
      await server.close();
    }
  });

  it('says in the banner that keys are fetched without a file', async () => {
    const server = await startTestServer(CONFIG);
    try {
      expect(server.tokenIssuers?.map((t) => t.jwksFile)).toEqual([undefined, undefined]);
      const text = banner(server, { source: 'test', config: resolveConfig(CONFIG) });
      expect(text).toContain('(keys: fetched from the issuer; --oidc-jwks <file> works offline)');
      expect(text).toContain('(keys: fetched from the issuer; --cognito-jwks <file> works offline)');
      expect(server.logs.entries.some((e: any) => /fetched from the issuer on first use/.test(e.msg))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('refuses to start with a missing, non-JSON, private-key or unneeded JWKS file, naming the flag', async () => {
    const privateFile = join(dir, 'private.json');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(privateFile, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{ keys: ');
    const config = resolveConfig(CONFIG);
    const start = (extra: object, c = config) => startDevServer({ config: c, port: 0, ...extra });
    await expect(start({ oidcJwksFile: join(dir, 'absent.json') })).rejects.toThrow(/--oidc-jwks .*absent\.json cannot be read \(ENOENT\)/);
    await expect(start({ oidcJwksFile: notJson })).rejects.toThrow(/--oidc-jwks .*bad\.json is not JSON/);
    await expect(start({ cognitoJwksFile: privateFile })).rejects.toThrow(/--cognito-jwks .*private or symmetric key/);
    await expect(start({ cognitoJwksFile: join(dir, 'empty.json') })).rejects.toThrow(/--cognito-jwks/);
    await expect(start({ oidcJwksFile: oidcFile }, resolveConfig({}))).rejects.toThrow(/--oidc-jwks needs auth.openIdConnect/);
  });
});
