/**
 * Eventsock's own client against the whole local system over TLS (wss/https, as
 * Amplify and production use): catch-up from the history API, live delivery from
 * the publish API, and client publishing over the socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../client/node';
import type { Envelope } from '../../functions/core/envelope';
import { trustingFetch } from '../../local/dev-server';
import { startTestServer } from './helpers';

describe('the Eventsock client against npm start with --tls', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let f: typeof fetch;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-e2e-tls-'));
    server = await startTestServer({ namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 } } }, { tls: { dir } });
    f = trustingFetch(server.tls!.cert);
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const publish = async (body: unknown) => {
    const res = await f(`${server.url}/publish`, { method: 'POST', headers: { authorization: `Bearer ${server.devApiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(202);
    return (await res.json()) as { id: string };
  };

  it('catches up from history, then receives live messages and its own socket publishes, in order', async () => {
    const first = await publish({ channel: '/chat/room', event: 'old', data: 1 });
    const second = await publish({ channel: '/chat/room', event: 'missed', data: 2 });

    const client = await connect({
      endpoint: `${server.url}/event`,
      auth: { type: 'token', token: server.devToken },
      wsOptions: { ca: server.tls!.cert },
      history: { url: server.url, fetch: f },
    });
    try {
      const got: Envelope[] = [];
      await client.subscribe('/chat/room', (m: Envelope) => void got.push(m), { since: first.id });
      const live = await publish({ channel: '/chat/room', event: 'live', data: 3 });
      await client.publish('/chat/room', { event: 'chat.message', data: { text: 'mine' } });
      const until = Date.now() + 5000;
      while (got.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(got.map((m) => m.event)).toEqual(['missed', 'live', 'chat.message']);
      expect(got[0].id).toBe(second.id);
      expect(got[1].id).toBe(live.id);
      expect(got[2].meta?.uid).toBe('dev');
    } finally {
      await client.close();
    }
  });
});
