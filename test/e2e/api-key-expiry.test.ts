/**
 * The emulator models the AppSync API key's lifetime: a key past its expiry is refused on
 * connect, subscribe and HTTP publish like an unknown key (UnauthorizedException; the
 * service's own words for a lapsed key are unconfirmed), and a fresh key lasts
 * auth.apiKey.lifetimeDays (modules/api-key.ts renews the real one on every apply).
 */
import { RawSocket, startTestServer } from './helpers';

const config = { namespaces: { default: {}, open: { subscribeAuthModes: ['API_KEY' as const, 'AWS_LAMBDA' as const], publishAuthModes: ['AWS_IAM' as const, 'API_KEY' as const] } }, auth: { apiKey: { lifetimeDays: 2 } } };

describe('AppSync API key expiry in the emulator', () => {
  it('accepts the key until it lapses, then refuses connect, subscribe and HTTP publish with it', async () => {
    const expiresAt = Date.now() + 1500;
    const server = await startTestServer(config, { appSyncApiKeyExpiresAt: expiresAt });
    try {
      const auth = { host: server.httpHost, 'x-api-key': server.appSyncApiKey! };
      const before = await RawSocket.connect(server.wsUrl, auth);
      await before.type('connection_ack');
      expect((await before.subscribe('s1', '/open/a', auth)).type).toBe('subscribe_success');

      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
      // An open connection's next subscribe is authorized again, and refused.
      const refused = await before.subscribe('s2', '/open/b', auth);
      expect(refused).toMatchObject({ type: 'subscribe_error', errors: [expect.objectContaining({ errorType: 'UnauthorizedException' })] });
      await before.close();

      const after = await RawSocket.connect(server.wsUrl, auth);
      const first = await Promise.race([after.type('connection_error'), after.closed.then(() => ({ type: 'closed' }))]);
      expect(first.type).toBe('connection_error');
      await after.close();

      const res = await fetch(`${server.url}/event`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': server.appSyncApiKey! }, body: JSON.stringify({ channel: '/open/a', events: ['{"x":1}'] }) });
      expect(res.status).toBe(401);
      expect(JSON.stringify(await res.json())).toContain('UnauthorizedException');
    } finally {
      await server.close();
    }
  });

  it('gives a fresh key the configured lifetime', async () => {
    const started = Date.now();
    const server = await startTestServer(config);
    try {
      expect(server.appSyncApiKeyExpiresAt! - started).toBeGreaterThanOrEqual(2 * 86_400_000);
      expect(server.appSyncApiKeyExpiresAt! - Date.now()).toBeLessThanOrEqual(2 * 86_400_000);
      const auth = { host: server.httpHost, 'x-api-key': server.appSyncApiKey! };
      const s = await RawSocket.connect(server.wsUrl, auth);
      await s.type('connection_ack');
      expect((await s.subscribe('s1', '/open/a', auth)).type).toBe('subscribe_success');
      await s.close();
    } finally {
      await server.close();
    }
  });
});
