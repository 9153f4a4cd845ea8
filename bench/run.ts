/**
 * `npm run bench`: runs every bench/<area>.bench.ts in its own process, one after
 * another (they measure throughput; running two at once on 2 cores would measure
 * each other), then assembles bench/RESULTS.md from the sections they write to
 * bench/results/<area>.md. `npm run bench -- stack client` runs only those areas;
 * `npm run bench -- --assemble` runs none and only rebuilds RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = __dirname;
// `--assemble` only rebuilds RESULTS.md from bench/results/ (after running one area with npx tsx).
const assembleOnly = process.argv.includes('--assemble');
const only = process.argv.slice(2).filter((a) => a !== '--assemble');
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''))
  .filter((a) => only.length === 0 || only.includes(a))
  .sort();
if (only.length > 0 && benches.length !== only.length) {
  console.error(`unknown bench area(s): ${only.filter((a) => !benches.includes(a)).join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const area of assembleOnly ? [] : benches) {
  console.log(`\n=== bench/${area}.bench.ts ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${area}.bench.ts`)], { stdio: 'inherit', cwd: join(dir, '..') });
  if (r.status !== 0) {
    console.error(`bench ${area} failed (exit ${r.status})`);
    failed++;
  }
}

const sections = readdirSync(join(dir, 'results'))
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => readFileSync(join(dir, 'results', f), 'utf8').trim());
const cpu = cpus();
writeFileSync(
  join(dir, 'RESULTS.md'),
  [
    '# Benchmark results',
    '',
    'Run with `npm run bench` (all areas, one process each, one after another) or',
    '`npx tsx bench/<area>.bench.ts` for one area. Each benchmark compares Eventsock with',
    'a baseline measured in the same process and run, and reports the ratio.',
    '',
    `Machine of the last assembly: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), Node ${process.version}.`,
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n'),
);
console.log(`\nwrote bench/RESULTS.md from ${sections.length} section(s)`);
process.exit(failed > 0 ? 1 : 0);
