/**
 * Stack bench: synth time of the default config, and each Lambda bundle's size and
 * cold load time. Run alone with `npx tsx bench/stack.bench.ts`; writes
 * bench/results/stack.md.
 *
 * Baselines, measured in the same run: synth of a stack holding only the AWS provider,
 * and loading an empty ES module in a fresh Node process. Load time is what Lambda pays
 * at a cold start before the first invocation: `import()` of index.mjs in a fresh process
 * (its chunks included when index.mjs imports them statically).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { resolveConfig, runtimeSettings } from '../functions/core/config';
import { buildFunctions } from '../modules/build-functions';
import { FUNCTIONS, type FunctionName } from '../modules/functions';
import { EventsockStack, zipsByName } from '../modules/stack';

const RUNS = 9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

function timeSynth(make: (app: App) => void): number[] {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const outdir = mkdtempSync(join(tmpdir(), 'eventsock-bench-synth-'));
    const t = performance.now();
    const app = new App({ outdir });
    make(app);
    app.synth();
    const dt = performance.now() - t;
    rmSync(outdir, { recursive: true, force: true });
    if (i > 0) times.push(dt); // the first run warms the JIT and module caches
  }
  return times;
}

/** Wall-clock milliseconds of a fresh `node --import tsx <args>` process, in the project root. */
function processTimes(args: string[], env: NodeJS.ProcessEnv, runs: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: join(__dirname, '..'), encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
    times.push(performance.now() - t);
  }
  return times;
}

/** Milliseconds to import `file` in a fresh Node process, measured inside that process. */
function loadTimes(file: string, env: NodeJS.ProcessEnv): number[] {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`loading ${file} failed: ${r.stderr}`);
    times.push(Number(r.stdout));
  }
  return times;
}

async function main(): Promise<void> {
  const built = await buildFunctions();
  const zips = zipsByName(built);

  const synthStack = median(timeSynth((app) => new EventsockStack(app, 'eventsock', { config: {}, zips, region: 'eu-west-1' })));
  const synthBase = median(
    timeSynth((app) => {
      const s = new TerraformStack(app, 'empty');
      new AwsProvider(s, 'aws', { region: 'eu-west-1' });
    }),
  );

  // What `npx cdktf synth` runs (main.ts: build the zips, then synthesize), cold, against
  // a process that only imports cdktf and the AWS provider binding.
  const coldOut = mkdtempSync(join(tmpdir(), 'eventsock-bench-cold-'));
  const coldEnv = { ...process.env, CDKTF_OUTDIR: coldOut };
  const coldRuns = 3;
  const coldSynth = median(processTimes(['main.ts'], coldEnv, coldRuns));
  const coldBase = median(processTimes(['-e', "require('cdktf'); require('@cdktf/provider-aws/lib/provider')"], coldEnv, coldRuns));
  rmSync(coldOut, { recursive: true, force: true });

  const scratch = mkdtempSync(join(tmpdir(), 'eventsock-bench-load-'));
  mkdirSync(scratch, { recursive: true });
  const empty = join(scratch, 'empty.mjs');
  writeFileSync(empty, 'export const handler = async () => null;\n');
  const settings = runtimeSettings(resolveConfig({}), { eventApiHttpHost: 'example.appsync-api.eu-west-1.amazonaws.com', region: 'eu-west-1' });
  const env = { PATH: process.env.PATH, EVENTSOCK_SETTINGS: JSON.stringify(settings), AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local' };
  const baseLoad = median(loadTimes(empty, env));

  const rows = built.map((b) => {
    const spec = FUNCTIONS[b.name as FunctionName];
    const load = median(loadTimes(join(b.zipPath.replace(/\.zip$/, ''), 'index.mjs'), env));
    return {
      name: b.name,
      entry: b.entryBytes,
      code: b.codeBytes,
      zip: b.zipBytes,
      load,
      net: load - baseLoad,
      sizeOk: b.entryBytes <= spec.budget.maxBytes,
      loadOk: load <= spec.budget.maxLoadMs,
      budget: spec.budget,
    };
  });
  rmSync(scratch, { recursive: true, force: true });

  const cpu = cpus();
  const lines = [
    '## Stack: synth time and Lambda bundles',
    '',
    'Command: `npx tsx bench/stack.bench.ts` (also run by `npm run bench`).',
    `Machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), Node ${process.version}; medians of ${RUNS} runs; load average ${loadavg()[0].toFixed(1)} at the end (the cores are shared, so figures are upper bounds).`,
    '',
    '| what | Eventsock | baseline | ratio |',
    '|---|---|---|---|',
    `| synth, default config (in process, warm) | ${synthStack.toFixed(0)} ms | ${synthBase.toFixed(0)} ms (stack with only the AWS provider) | ${(synthStack / synthBase).toFixed(1)}x |`,
    `| main.ts cold: build zips + synth project config (median of ${coldRuns}) | ${coldSynth.toFixed(0)} ms | ${coldBase.toFixed(0)} ms (process importing cdktf + AWS provider) | ${(coldSynth / coldBase).toFixed(1)}x |`,
    '',
    'Bundles (esbuild ESM, minified, @aws-sdk bundled, code splitting). Size budget applies to',
    '`index.mjs`, the chunk Lambda loads first; "all code" adds the chunks it may load later.',
    `Load = \`import()\` of index.mjs in a fresh Node process; baseline = an empty module, ${baseLoad.toFixed(1)} ms.`,
    '',
    '| function | index.mjs | all code | zip | load | load minus baseline | ratio to baseline | budget | met |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${kb(r.entry)} | ${kb(r.code)} | ${kb(r.zip)} | ${r.load.toFixed(1)} ms | ${r.net.toFixed(1)} ms | ${(r.load / baseLoad).toFixed(1)}x | <= ${kb(r.budget.maxBytes)}, <= ${r.budget.maxLoadMs} ms | ${r.sizeOk ? 'size yes' : 'size NO'}, ${r.loadOk ? 'load yes' : 'load NO'} |`,
    ),
    '',
  ];
  const failed = rows.filter((r) => !r.sizeOk || !r.loadOk);
  if (failed.length > 0) {
    lines.push(
      `Goal not met for ${failed.map((r) => r.name).join(', ')}: an AWS SDK client imported at the top of a handler is in index.mjs and loads at`,
      'cold start. Importing it with `await import()` on first use moves it to a lazily loaded chunk (the build splits code).',
      '',
    );
  } else {
    lines.push('All budgets met.', '');
  }
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'stack.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
