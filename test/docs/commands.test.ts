/**
 * The commands the README and DEVELOPERS.md tell people to run exist: the set-up is the
 * two commands that each work alone on a fresh clone, every `npm run <script>` is a
 * script of package.json, and the test areas listed are the folders of test/.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);

describe('commands in the docs', () => {
  it('the README set-up is `npm install && npm start` and `npm install && npm test`', () => {
    const readme = read('README.md');
    const setup = readme.slice(readme.indexOf('## Set-up'), readme.indexOf('\n## ', readme.indexOf('## Set-up') + 3));
    const commands = setup.split('\n').filter((l) => l.startsWith('    ')).map((l) => l.trim());
    expect(commands).toEqual(['npm install && npm start', 'npm install && npm test']);
    expect(scripts).toEqual(expect.arrayContaining(['start', 'test']));
  });

  it.each(['README.md', 'DEVELOPERS.md', 'client/README.md', 'modules/README.md'])('every `npm run` script in %s exists', (doc) => {
    const named = [...read(doc).matchAll(/npm run ([a-z][\w:-]*)/g)].map((m) => m[1]);
    expect(named.filter((n) => !scripts.includes(n))).toEqual([]);
  });

  it('the test areas the README lists are the folders of test/', () => {
    const line = read('README.md').split('\n').find((l) => l.startsWith('| `npx jest test/<area>` |'));
    expect(line).toBeDefined();
    const listed = [...line!.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]).sort();
    const folders = readdirSync(join(ROOT, 'test'))
      .filter((d) => d !== 'support' && statSync(join(ROOT, 'test', d)).isDirectory())
      .sort();
    expect(listed).toEqual(folders);
  });

  it('the files the docs name as entry points exist', () => {
    for (const f of ['local/cli.ts', 'client/bin/eventsock.mjs', 'client/build.ts', 'modules/build-functions.ts', 'modules/export-module.ts', 'main.ts', 'bench/run.ts', 'eventsock.config.ts']) {
      expect([f, existsSync(join(ROOT, f))]).toEqual([f, true]);
    }
  });
});
