/**
 * The Lambda entry point (index.ts) end to end: settings from EVENTSOCK_SETTINGS,
 * the real SSM client, signed with fake credentials, talking to a loopback server
 * that stands in for SSM at the HTTP boundary.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { event, secretMap, settingsFor, sign } from '../tokens/fixtures';

describe('functions/authorizer/index.ts handler', () => {
  let server: Server;
  const requests: Array<{ target?: string; auth?: string; body: Record<string, unknown> }> = [];
  const params = secretMap();
  const saved = { ...process.env };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw) as { Name: string };
        requests.push({ target: req.headers['x-amz-target'] as string, auth: req.headers.authorization, body });
        const value = params.get(body.Name);
        if (value === undefined) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'ParameterNotFound', message: 'not found' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ Parameter: { Name: body.Name, Type: 'SecureString', Value: value, Version: 1 } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    Object.assign(process.env, {
      EVENTSOCK_SETTINGS: JSON.stringify(settingsFor()),
      AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'eu-west-1',
      EVENTSOCK_LOG_LEVEL: 'error',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('reads the HS256 secret from SSM once and decides', async () => {
    const { handler } = await import('../../functions/authorizer/index');
    const token = await sign({ now: Date.now(), channels: { '/chat/room-1': { subscribe: true } } });
    expect(await handler(event('EVENT_SUBSCRIBE', token, '/chat/room-1'))).toMatchObject({ isAuthorized: true, ttlOverride: 0 });
    expect(await handler(event('EVENT_SUBSCRIBE', token, '/chat/room-2'))).toEqual({ isAuthorized: false, ttlOverride: 0 });
    expect(await handler(event('EVENT_CONNECT', token))).toMatchObject({ isAuthorized: true });

    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ target: 'AmazonSSM.GetParameter', body: { Name: '/eventsock/token-secret/k1', WithDecryption: true } });
    expect(requests[0].auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/\d{8}\/eu-west-1\/ssm\/aws4_request/);
  });
});
