/**
 * docs/errors.md is the one error reference (HTTP codes, token and authorizer reasons,
 * Event API errorTypes, client codes, namespace handler codes, emulator SigV4 reasons).
 * This reads the codes out of the sources, so a code added in code and not in the
 * page fails here instead of drifting silently.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ERROR_TYPES } from '../../local/event-api/errors';

const ROOT = join(__dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The string members of `export type <name> = | 'A' | 'B' ...;` (comments between them allowed). */
function unionMembers(file: string, typeName: string): string[] {
  const src = read(file);
  const start = src.search(new RegExp(`export type ${typeName}\\s*=`));
  if (start < 0) throw new Error(`${file} has no type ${typeName}`);
  const rest = src.slice(start).replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const body = rest.slice(0, rest.indexOf(';'));
  return [...body.matchAll(/'([A-Za-z][A-Za-z0-9_]*)'/g)].map((m) => m[1]);
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const CODE = '([A-Z][A-Z0-9_]*[A-Z0-9])';
/** Where a code is handed to an error: constructors, the handlers' error helpers, result objects. */
const CODE_SITES = [
  new RegExp(`new \\w*Error\\(\\s*'${CODE}'`, 'g'),
  new RegExp(`\\b(?:errorBody|bad|invalid|fail|asClientError\\([^,]+,)\\s*\\(?\\s*'${CODE}'`, 'g'),
  new RegExp(`\\bfailure\\([^,()]+,\\s*'${CODE}'`, 'g'),
  new RegExp(`\\bcode: '${CODE}'`, 'g'),
  new RegExp(`\\breason: '${CODE}'`, 'g'),
  // The namespace handler's per-event refusals: 'CODE: explanation'.
  new RegExp(`[\`'"]${CODE}: `, 'g'),
];

function codesInSources(): Map<string, string> {
  const found = new Map<string, string>();
  const files = ['functions', 'client', 'local'].flatMap(sourceFiles).filter((f) => !f.includes(`${join('local', 'console')}`));
  for (const file of files) {
    const src = read(file);
    for (const re of CODE_SITES) for (const m of src.matchAll(re)) if (!found.has(m[1])) found.set(m[1], relative(ROOT, join(ROOT, file)));
  }
  return found;
}

const mentioned = (code: string) => DOC.includes(`\`${code}\``);

describe('docs/errors.md', () => {
  const declared: Array<[string, string[]]> = [
    ['functions/tokens/reasons.ts TokenReason', unionMembers('functions/tokens/reasons.ts', 'TokenReason')],
    ['functions/authorizer/reasons.ts DecisionReason', unionMembers('functions/authorizer/reasons.ts', 'DecisionReason')],
    ['functions/core/claims.ts ClaimsReason', unionMembers('functions/core/claims.ts', 'ClaimsReason')],
    ['client/errors.ts ClientErrorCode', unionMembers('client/errors.ts', 'ClientErrorCode')],
    ['client/errors.ts ServiceErrorKind', unionMembers('client/errors.ts', 'ServiceErrorKind')],
    ['local/sigv4-verify.ts SigV4FailureReason', unionMembers('local/sigv4-verify.ts', 'SigV4FailureReason')],
    ['local/event-api/errors.ts ERROR_TYPES', Object.values(ERROR_TYPES)],
  ];

  it.each(declared)('names every code of %s', (_where, codes) => {
    expect(codes.length).toBeGreaterThan(3);
    expect(codes.filter((c) => !mentioned(c))).toEqual([]);
  });

  it('names every code the handlers, the client and the emulator put in an error', () => {
    const found = codesInSources();
    // The scan must see the codes it is meant to see, or it proves nothing.
    for (const known of ['UNAUTHORIZED', 'DUPLICATE_IN_FLIGHT', 'DELIVERY_REFUSED', 'FORBIDDEN', 'EVENT_NOT_ALLOWED', 'INVALID_NONCE', 'HISTORY_FAILED', 'BATCH_TOO_LARGE']) {
      expect([known, found.has(known)]).toEqual([known, true]);
    }
    const missing = [...found].filter(([code]) => !mentioned(code)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(read('README.md').includes('](docs/errors.md)')).toBe(true);
  });
});
