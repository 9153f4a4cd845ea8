/**
 * `npm run build`: bundles each Lambda with esbuild and packs it into a
 * deterministic zip, dist/functions/<name>.zip (the unpacked files sit beside it in
 * dist/functions/<name>/ for the bench). Same sources, same bytes: Terraform
 * compares `source_code_hash`, so a rebuild that changed nothing must not redeploy.
 *
 * Why @aws-sdk/* is bundled rather than left to the nodejs22.x runtime:
 * - What runs is what we tested: the runtime's SDK version drifts under us and we
 *   would never have run our tests against it.
 * - Cold start: measured here (2 cores), importing a bundle with the DynamoDB, SSM
 *   and EventBridge clients takes ~40 ms; the same code with the SDK external,
 *   resolved file by file from node_modules as the runtime's copy is, takes ~160 ms.
 *   Size: that bundle is ~430 KB minified, inside the publish budget (600 KB).
 * - The authorizer's budget (50 KB, 20 ms) cannot hold an SDK client either way
 *   (the SSM client alone is ~370 KB); bundles are built with code splitting, so a
 *   client the handler loads with `await import()` lands in its own chunk and costs
 *   nothing until first used. The bench reports the entry chunk and the whole zip.
 */
import { build, type OutputFile } from 'esbuild';
import { zipSync, type Zippable } from 'fflate';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { EventsockError } from '../functions/core/errors';
import { FUNCTIONS, FUNCTION_NAMES } from './functions';

export interface FunctionSource {
  name: string;
  /** Entry point relative to `root` (or absolute); exports `handler`. */
  entry: string;
}

export interface BuildOptions {
  /** Project root that entries are relative to. Default: the repository root. */
  root?: string;
  /** Where `<name>.zip` and `<name>/` go. Default: `<root>/dist/functions`. */
  outDir?: string;
  /** Which functions to build. Default: the three in modules/functions.ts. */
  functions?: FunctionSource[];
}

export interface BuiltFunction {
  name: string;
  zipPath: string;
  /** base64 SHA-256 of the zip: Lambda's `source_code_hash`. */
  zipSha256: string;
  zipBytes: number;
  /** Bytes of `index.mjs`, the chunk Lambda loads at cold start. */
  entryBytes: number;
  /** Bytes of every `.mjs` (entry and lazily loaded chunks). */
  codeBytes: number;
  /** Paths inside the zip, sorted. */
  files: string[];
}

export const PROJECT_ROOT = resolve(__dirname, '..');

/** A fixed DOS timestamp built from local-time fields, so the zip is the same in every time zone. */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
/** Unix 0644 regular file: Lambda needs its files world-readable. */
const FILE_ATTRS = (0o100644 << 16) >>> 0;

/** Zips files with sorted names, fixed times and fixed permissions: the bytes depend on the contents only. */
export function deterministicZip(files: Record<string, Uint8Array>): Uint8Array {
  const tree: Zippable = {};
  for (const name of Object.keys(files).sort()) {
    tree[name] = [files[name], { mtime: FIXED_MTIME, os: 3, attrs: FILE_ATTRS, level: 9 }];
  }
  return zipSync(tree);
}

export const sha256Base64 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64');

// Some CommonJS dependencies still call require() for Node built-ins; an ESM bundle has no
// require, so give it one (the usual esbuild recipe) instead of failing at import time.
const REQUIRE_SHIM = 'import{createRequire as __esCreateRequire}from"node:module";const require=__esCreateRequire(import.meta.url);';

/** Bundles one function and writes its zip. Throws EventsockError MISSING_ENTRY_POINT / BUILD_FAILED. */
export async function buildFunction(fn: FunctionSource, opts: { root: string; outDir: string }): Promise<BuiltFunction> {
  const entry = resolve(opts.root, fn.entry);
  if (!existsSync(entry)) {
    throw new EventsockError('MISSING_ENTRY_POINT', `cannot build function ${fn.name}: entry point ${relative(opts.root, entry) || entry} does not exist (it must export handler)`, {
      field: fn.entry,
    });
  }
  const workDir = join(opts.outDir, fn.name);
  let outputFiles: OutputFile[];
  try {
    const result = await build({
      absWorkingDir: opts.root,
      entryPoints: { index: entry },
      outdir: workDir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      // node20 output runs on Node 20 (tests, emulator) and on the nodejs22.x runtime.
      target: 'node20',
      // Without `module` first, esbuild picks the SDK's CommonJS builds, which fail at import
      // with "Dynamic require of node:https" inside an ESM bundle.
      mainFields: ['module', 'main'],
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      minify: true,
      sourcemap: 'linked',
      // Source maps stay small and carry no source text; stack traces still map to file:line.
      sourcesContent: false,
      legalComments: 'none',
      banner: { js: REQUIRE_SHIM },
      write: false,
      logLevel: 'silent',
    });
    outputFiles = result.outputFiles;
  } catch (e) {
    const errors = (e as { errors?: Array<{ text: string; location?: { file: string; line: number } | null }> }).errors ?? [];
    const detail = errors.map((x) => (x.location ? `${x.location.file}:${x.location.line}: ${x.text}` : x.text)).join('; ') || (e as Error).message;
    throw new EventsockError('BUILD_FAILED', `cannot build function ${fn.name} from ${fn.entry}: ${detail}`, { field: fn.entry });
  }

  const files: Record<string, Uint8Array> = {};
  for (const f of outputFiles) files[relative(workDir, f.path).split(sep).join('/')] = f.contents;
  rmSync(workDir, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(files)) {
    const p = join(workDir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, bytes);
  }
  const zip = deterministicZip(files);
  const zipPath = join(opts.outDir, `${fn.name}.zip`);
  writeFileSync(zipPath, zip);
  const names = Object.keys(files).sort();
  return {
    name: fn.name,
    zipPath,
    zipSha256: sha256Base64(zip),
    zipBytes: zip.length,
    entryBytes: files['index.mjs']?.length ?? 0,
    codeBytes: names.filter((n) => n.endsWith('.mjs')).reduce((s, n) => s + files[n].length, 0),
    files: names,
  };
}

/** Builds every function (in parallel: esbuild is fast, the zips are small). */
export async function buildFunctions(opts: BuildOptions = {}): Promise<BuiltFunction[]> {
  const root = opts.root ?? PROJECT_ROOT;
  const outDir = opts.outDir ?? join(root, 'dist', 'functions');
  const fns = opts.functions ?? FUNCTION_NAMES.map((n) => ({ name: n, entry: FUNCTIONS[n].entry }));
  // Check every entry first, so one run names every missing file rather than the first.
  const missing = fns.filter((f) => !existsSync(resolve(root, f.entry)));
  if (missing.length > 0) {
    throw new EventsockError(
      'MISSING_ENTRY_POINT',
      `cannot build: missing entry point${missing.length > 1 ? 's' : ''} ${missing.map((f) => `${f.entry} (function ${f.name})`).join(', ')}; each must export handler`,
      { field: missing[0].entry },
    );
  }
  mkdirSync(outDir, { recursive: true });
  return Promise.all(fns.map((f) => buildFunction(f, { root, outDir })));
}

if (require.main === module) {
  buildFunctions()
    .then((built) => {
      for (const b of built) {
        console.log(`${b.name.padEnd(15)} ${relative(process.cwd(), b.zipPath)}  zip ${b.zipBytes} B  index.mjs ${b.entryBytes} B  sha256 ${b.zipSha256}`);
      }
    })
    .catch((e: Error) => {
      console.error(`build failed: ${e.message}`);
      process.exit(1);
    });
}
