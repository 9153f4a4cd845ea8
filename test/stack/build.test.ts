import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { unzipSync } from 'fflate';
import { buildFunctions, deterministicZip, PROJECT_ROOT, sha256Base64 } from '../../modules/build-functions';
import { EventsockError } from '../../functions/core/errors';

const fixtures = join(__dirname, 'fixtures');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'eventsock-build-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Loads a bundle in a fresh Node process (as Lambda does) and returns what its handler resolves to. */
function runHandler(file: string, event: unknown): unknown {
  const script = `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(JSON.stringify(await m.handler(${JSON.stringify(event)})));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dirname(file) });
  if (r.status !== 0) throw new Error(`bundle failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('buildFunctions', () => {
  const echo = [{ name: 'echo', entry: 'echo/index.ts' }];

  it('gives the same zip bytes for the same sources, built twice into different places', async () => {
    const [a] = await buildFunctions({ root: fixtures, outDir: tmp(), functions: echo });
    const [b] = await buildFunctions({ root: fixtures, outDir: tmp(), functions: echo });
    expect(readFileSync(a.zipPath).equals(readFileSync(b.zipPath))).toBe(true);
    expect(a.zipSha256).toBe(b.zipSha256);
    expect(a.zipSha256).toBe(sha256Base64(readFileSync(a.zipPath)));
  });

  it('writes an ESM index.mjs with a source map and puts lazily imported code in its own chunk', async () => {
    const [b] = await buildFunctions({ root: fixtures, outDir: tmp(), functions: echo });
    const entries = unzipSync(readFileSync(b.zipPath));
    const names = Object.keys(entries);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('index.mjs');
    expect(names).toContain('index.mjs.map');
    expect(names.some((n) => n.startsWith('chunks/') && n.endsWith('.mjs'))).toBe(true);
    const index = Buffer.from(entries['index.mjs']).toString('utf8');
    expect(index).toMatch(/sourceMappingURL=index\.mjs\.map/);
    expect(index).not.toContain('loaded-later');
    const map = JSON.parse(Buffer.from(entries['index.mjs.map']).toString('utf8'));
    expect(map.sourcesContent).toBeUndefined();
    expect(b.entryBytes).toBe(entries['index.mjs'].length);
    expect(b.codeBytes).toBeGreaterThan(b.entryBytes);
  });

  it('produces a bundle that loads and runs, chunks included', async () => {
    const out = tmp();
    await buildFunctions({ root: fixtures, outDir: out, functions: echo });
    expect(runHandler(join(out, 'echo', 'index.mjs'), { channel: '/chat/room-1' })).toEqual({ namespace: 'chat', lazy: 'loaded-later' });
  });

  it('bundles an AWS SDK v3 client (not left to the runtime) into ESM that imports without a dynamic require error', async () => {
    const out = tmp();
    await buildFunctions({ root: fixtures, outDir: out, functions: [{ name: 'sdk', entry: 'sdk/index.ts' }] });
    // The out dir has no node_modules: the client must be inside the bundle.
    expect(runHandler(join(out, 'sdk', 'index.mjs'), {})).toBe('function');
  });

  it('names every missing entry point', async () => {
    const err = await buildFunctions({
      root: fixtures,
      outDir: tmp(),
      functions: [...echo, { name: 'authorizer', entry: 'nope/authorizer.ts' }, { name: 'history', entry: 'nope/history.ts' }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventsockError);
    expect((err as EventsockError).code).toBe('MISSING_ENTRY_POINT');
    expect((err as EventsockError).message).toContain('nope/authorizer.ts (function authorizer)');
    expect((err as EventsockError).message).toContain('nope/history.ts (function history)');
  });

  it('reports a syntax error with the file and line instead of writing a zip', async () => {
    const root = tmp();
    writeFileSync(join(root, 'broken.ts'), 'export const handler = async ( => 1;\n');
    const err = await buildFunctions({ root, outDir: join(root, 'out'), functions: [{ name: 'broken', entry: 'broken.ts' }] }).catch((e: unknown) => e);
    expect((err as EventsockError).code).toBe('BUILD_FAILED');
    expect((err as EventsockError).message).toMatch(/broken\.ts:1:/);
  });

  it('defaults to the three functions under functions/ of the project', async () => {
    // Only the entry check runs here: point at an empty root so nothing is bundled.
    const err = await buildFunctions({ root: tmp(), outDir: tmp() }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('functions/authorizer/index.ts');
    expect((err as Error).message).toContain('functions/publish/index.ts');
    expect((err as Error).message).toContain('functions/history/index.ts');
    expect(PROJECT_ROOT).toBe(join(__dirname, '..', '..'));
  });
});

describe('the project functions', () => {
  it('build into zips whose bundles load in a fresh Node process', async () => {
    const out = tmp();
    const built = await buildFunctions({ outDir: out });
    expect(built.map((b) => b.name)).toEqual(['authorizer', 'publish', 'history', 'socket-publish']);
    for (const b of built) {
      expect(b.files).toContain('index.mjs');
      const file = join(out, b.name, 'index.mjs');
      const script = `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(typeof m.handler);`;
      // No AWS call happens at import: the handlers build their clients on first invocation.
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: out, env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1' } });
      expect([b.name, r.stderr, r.stdout]).toEqual([b.name, '', 'function']);
    }
  });
});

describe('deterministicZip', () => {
  it('ignores insertion order and the time zone', () => {
    const a = deterministicZip({ 'b.txt': Buffer.from('b'), 'a.txt': Buffer.from('a') });
    const b = deterministicZip({ 'a.txt': Buffer.from('a'), 'b.txt': Buffer.from('b') });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Object.keys(unzipSync(a))).toEqual(['a.txt', 'b.txt']);
  });
});
