/**
 * The `eventsock smoke` logic (client/smoke.ts) against the emulator, as a user runs it
 * against a deployed stack: the same function, the emulator's endpoints in the place of
 * the stack's outputs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../client/cli';
import { smoke, smokeTargetFromOutputs, type SmokeTarget } from '../../client/smoke';
import { startTestServer, TEST_TOKEN_SECRET } from './helpers';

describe('smoke', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let target: SmokeTarget;
  beforeAll(async () => {
    server = await startTestServer({ namespaces: { default: {}, chat: { clientPublish: true } } });
    target = { endpoint: server.url, publishUrl: `${server.url}/publish`, historyUrl: `${server.url}/history`, publishApiKey: server.devApiKey, tokenSecret: TEST_TOKEN_SECRET, kid: 'k1', namespace: 'chat', timeoutMs: 5000 };
  });
  afterAll(() => server.close());

  it('passes every step on a working system, and says so in one line', async () => {
    const r = await smoke(target);
    expect(r.steps.map((s) => [s.name, s.result])).toEqual([
      ['connect', 'passed'], ['subscribe', 'passed'], ['publish-api', 'passed'], ['socket-publish', 'passed'], ['history', 'passed'], ['refused-token', 'passed'],
    ]);
    expect(r.ok).toBe(true);
    expect(r.summary).toMatch(/^smoke: 6\/6 passed in \d+\.\d s$/);
    expect(JSON.stringify(r)).not.toContain(TEST_TOKEN_SECRET);
    expect(JSON.stringify(r)).not.toContain(server.devApiKey);
  });

  it('skips the socket publish where the namespace takes none, and still passes', async () => {
    const r = await smoke({ ...target, namespace: 'default' });
    expect(r.steps.find((s) => s.name === 'socket-publish')).toMatchObject({ result: 'skipped', detail: expect.stringContaining('clientPublish') });
    expect(r.ok).toBe(true);
  });

  it('fails, naming the step, with a wrong publish API key; history is skipped; a wrong token secret fails connect', async () => {
    const r = await smoke({ ...target, publishApiKey: 'esk_not_the_key_0123456789' });
    expect(r.steps.find((s) => s.name === 'publish-api')).toMatchObject({ result: 'failed', detail: expect.stringContaining('401') });
    expect(r.steps.find((s) => s.name === 'history')?.result).toBe('skipped');
    expect(r.ok).toBe(false);
    expect(r.summary).toMatch(/failed: publish-api/);
    const bad = await smoke({ ...target, tokenSecret: 'not-the-secret-0123456789abcdef' });
    expect(bad.steps.slice(0, 2).map((s) => s.result)).toEqual(['failed', 'skipped']);
    expect(bad.ok).toBe(false);
  });

  it('reads terraform output -json, and the CLI prints one line per step and exits 0', async () => {
    const outputs = {
      http_endpoint: { value: server.url, type: 'string' },
      publish_url: { value: `${server.url}/publish` },
      history_url: { value: `${server.url}/history` },
      publish_api_keys: { value: [server.devApiKey, 'second'], sensitive: true },
      token_secrets: { value: [TEST_TOKEN_SECRET], sensitive: true },
      token_secret_kids: { value: ['k1'] },
    };
    expect(smokeTargetFromOutputs(outputs, 'chat')).toMatchObject({ endpoint: server.url, kid: 'k1', namespace: 'chat', publishApiKey: server.devApiKey });
    expect(() => smokeTargetFromOutputs({ ...outputs, token_secrets: { value: [] } })).toThrow(/token_secrets/);
    const dir = mkdtempSync(join(tmpdir(), 'eventsock-smoke-'));
    try {
      writeFileSync(join(dir, 'outputs.json'), JSON.stringify(outputs));
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['smoke', '--outputs', join(dir, 'outputs.json'), '--namespace', 'chat'], { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} });
      expect(code).toBe(0);
      expect(out.map((l) => JSON.parse(l).name)).toEqual(['connect', 'subscribe', 'publish-api', 'socket-publish', 'history', 'refused-token']);
      expect(err.join('\n')).toMatch(/smoke: 6\/6 passed/);
      expect([...out, ...err].join('\n')).not.toContain(TEST_TOKEN_SECRET);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
