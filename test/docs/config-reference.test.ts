/**
 * The README's configuration reference lists every option resolveConfig accepts, with
 * the default resolveConfig fills in. The accepted options are read from resolveConfig
 * itself (an unknown option's error lists the allowed ones), so a new option without a
 * row, or a changed default, fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../functions/core/config';

const README = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const reference = README.slice(README.indexOf('## Configuration reference'));
const section = reference.slice(0, reference.indexOf('\n## ', 3));

/** The options resolveConfig accepts where `place` (a config with a `__probe` key) puts the probe. */
function accepted(place: (probe: Record<string, unknown>) => unknown): string[] {
  try {
    resolveConfig(place({ __probe: 1 }));
  } catch (e) {
    const m = /unknown option; expected one of (.+)$/.exec((e as Error).message);
    if (m) return m[1].split(', ');
    throw e;
  }
  throw new Error('resolveConfig accepted an unknown option');
}

/** The table row of an option (`| \`tokens.algorithms\` | default | meaning |`), split into cells. */
function row(option: string): string[] | undefined {
  const line = section.split('\n').find((l) => l.startsWith(`| \`${option}\` |`));
  return line?.split(' | ');
}

const SECTIONS: Array<[prefix: string, place: (probe: Record<string, unknown>) => unknown]> = [
  ['', (p) => p],
  ['namespaces.<ns>.', (p) => ({ namespaces: { default: p } })],
  ['tokens.', (p) => ({ tokens: p })],
  ['publish.', (p) => ({ publish: p })],
  ['history.', (p) => ({ history: p })],
  ['auth.', (p) => ({ auth: p })],
  ['logging.', (p) => ({ logging: p })],
  ['alarms.', (p) => ({ alarms: p })],
];
/** Options whose own fields are described inside their row rather than in rows of their own. */
const INLINE: Array<[option: string, place: (probe: Record<string, unknown>) => unknown]> = [
  ['tokens.hs256Keys', (p) => ({ tokens: { hs256Keys: [{ kid: 'k1', ...p }] } })],
  ['auth.apiKey', (p) => ({ auth: { apiKey: p } })],
  ['auth.openIdConnect', (p) => ({ auth: { openIdConnect: { issuer: 'https://issuer.example.com', ...p } } })],
  ['auth.cognito', (p) => ({ auth: { cognito: { userPoolId: 'eu-west-1_abc', awsRegion: 'eu-west-1', ...p } } })],
];
const GROUPS = new Set(['tokens', 'publish', 'history', 'auth', 'logging', 'alarms']);

function rowOptions(): string[] {
  return SECTIONS.flatMap(([prefix, place]) => accepted(place).filter((k) => !(prefix === '' && GROUPS.has(k))).map((k) => prefix + k));
}

/** How a default is written in the table: `5`, `true`, `ERROR`, `['AWS_LAMBDA', 'AWS_IAM']`. */
function shown(v: unknown): string | undefined {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return `\`${v}\``;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `\`[${v.map((x) => `'${x}'`).join(', ')}]\``;
  return undefined;
}

describe('README configuration reference', () => {
  it('has a row for every option resolveConfig accepts, and no row for one it refuses', () => {
    const options = rowOptions();
    expect(options.length).toBeGreaterThan(25);
    expect(options.filter((o) => !row(o))).toEqual([]);
    const rows = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(rows.filter((r) => !options.includes(r))).toEqual([]);
  });

  it.each(INLINE)('describes the fields of %s in its row', (option, place) => {
    const cells = row(option);
    expect(cells).toBeDefined();
    expect(accepted(place).filter((k) => !cells!.join(' | ').includes(k))).toEqual([]);
  });

  it('shows the default resolveConfig fills in', () => {
    const defaults = resolveConfig({}) as unknown as Record<string, Record<string, unknown>>;
    const valueOf = (option: string): unknown => {
      const path = option.replace('namespaces.<ns>.', 'namespaces.default.').split('.');
      return path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults);
    };
    const wrong: string[] = [];
    let checked = 0;
    for (const option of rowOptions()) {
      const value = valueOf(option);
      // Defaults built from `name` (SSM parameter names) are written with `<name>` in the table.
      if (String(JSON.stringify(value)).includes(`/${defaults.name}/`)) continue;
      const expected = shown(value);
      if (expected === undefined) continue;
      checked++;
      if (!row(option)![1].includes(expected)) wrong.push(`${option}: the default is ${expected}, the table says ${row(option)![1]}`);
    }
    expect(checked).toBeGreaterThan(15);
    expect(wrong).toEqual([]);
  });
});
