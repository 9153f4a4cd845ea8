/**
 * The Node entry against the emulator's Event API served over TLS with its
 * self-signed certificate: trusted through `wsOptions.ca`, refused without it.
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from '../../client/node';
import { resolveConfig } from '../../functions/core/config';
import type { Envelope } from '../../functions/core/envelope';
import { memoryLogger } from '../../functions/shared/log';
import { createEventApi } from '../../local/event-api';
import { generateLocalCertificate } from '../../local/tls';
import { waitFor } from './support/wait';

const API_KEY = 'da2-tls-test-key';

it('connects over wss:// when told to trust the certificate, and is refused when not', async () => {
  const { cert, key } = await generateLocalCertificate(1);
  const api = createEventApi({ config: resolveConfig({ auth: { apiKey: {} }, namespaces: { default: { subscribeAuthModes: ['API_KEY'] } } }), apiKeys: [API_KEY], logger: memoryLogger() });
  const server = createServer({ cert, key }, (req, res) => void api.handleHttp(req, res));
  server.on('upgrade', (req, socket, head) => {
    if (!api.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const refused = await connect({ endpoint, auth: { type: 'apiKey', apiKey: API_KEY } }).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(refused).toMatchObject({ code: 'CONNECTION_LOST' });
    expect(refused!.message).toMatch(/certificate/i);
    const c = await connect({ endpoint, auth: { type: 'apiKey', apiKey: API_KEY }, wsOptions: { ca: cert } });
    try {
      const got: Envelope[] = [];
      await c.subscribe('/default/tls', (m) => got.push(m));
      await api.publish('/default/tls', [JSON.stringify({ id: '01J0000000000000000000000T', event: 'e', channel: '/default/tls', data: 'secure', meta: { uid: null, umd: null } })]);
      await waitFor(() => got.length === 1);
      expect(got[0].data).toBe('secure');
    } finally {
      await c.close();
    }
  } finally {
    await api.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
