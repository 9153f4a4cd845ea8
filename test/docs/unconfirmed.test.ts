/**
 * Every Event API errorType that docs/errors.md marks "unconfirmed" is listed, with what
 * was searched, in local/event-api/README.md "Unconfirmed" (issue #11.7).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const errors = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
const readme = readFileSync(join(ROOT, 'local', 'event-api', 'README.md'), 'utf8');

function unconfirmedSection(): string {
  const start = readme.indexOf('\n## Unconfirmed\n');
  if (start < 0) throw new Error('local/event-api/README.md has no "## Unconfirmed" section');
  const next = readme.indexOf('\n## ', start + 5);
  return readme.slice(start, next < 0 ? undefined : next);
}

/** The backticked names in the first cell of each table row mentioning "unconfirmed". */
function unconfirmedRows(): string[] {
  return errors
    .split('\n')
    .filter((l) => l.startsWith('| `') && /unconfirmed/i.test(l))
    .flatMap((l) => [...l.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}

describe('the Unconfirmed list', () => {
  it('names every errorType docs/errors.md marks unconfirmed, each with what was searched and what to check', () => {
    const section = unconfirmedSection();
    const rows = unconfirmedRows();
    expect(rows.length).toBeGreaterThan(5);
    const listed = section.split('\n').filter((l) => l.startsWith('| '));
    const missing = rows.filter((code) => !listed.some((l) => l.split('|')[1].includes(`\`${code}\``)));
    expect(missing).toEqual([]);
    // Every row says what was searched and what to check: four filled cells.
    for (const row of listed.slice(2)) expect(row.split('|').slice(1, -1).map((c) => c.trim().length > 0)).toEqual([true, true, true, true]);
  });

  it('covers the issue #11.7 items', () => {
    const section = unconfirmedSection();
    for (const item of ['cache key', '200 subscriptions', '24-hour', '`ka` interval', 'token length', 'events a handler drops']) expect([item, section.includes(item)]).toEqual([item, true]);
  });
});
