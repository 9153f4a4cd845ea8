/**
 * The browser build of the client: one ESM file (minified, tree-shakable by
 * whoever bundles it again), its source map and the type declarations, in
 * dist/client/. Tests and the bench call `buildBrowserClient()`; `npx tsx
 * client/build.ts` runs it by hand.
 */
import { builtinModules } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = resolve(__dirname, '..');

export interface BrowserBuild {
  file: string;
  code: string;
  bytes: number;
  gzipBytes: number;
  /** Every import esbuild saw from the bundled inputs (paths as written). */
  imports: string[];
  /** Imports left outside the bundle (should be none). */
  externalImports: string[];
  /** The declaration files written, when `types` was asked for. */
  typeFiles: string[];
}

export async function buildBrowserClient(opts: { outdir?: string; write?: boolean; types?: boolean; entry?: string } = {}): Promise<BrowserBuild> {
  const outdir = opts.outdir ?? join(ROOT, 'dist', 'client');
  const file = join(outdir, 'eventsock.browser.js');
  const result = await build({
    entryPoints: [opts.entry ?? join(ROOT, 'client', 'browser.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    treeShaking: true,
    sourcemap: opts.write === false ? false : 'external',
    metafile: true,
    write: false,
    outfile: file,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))!;
  const imports = new Set<string>();
  const external = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) {
      if (imp.path !== '<runtime>') imports.add(imp.original ?? imp.path);
      // `<runtime>` is esbuild's own helper module, inlined into the bundle.
      if (imp.external && imp.path !== '<runtime>') external.add(imp.path);
    }
  }
  const typeFiles: string[] = [];
  if (opts.write !== false) {
    mkdirSync(outdir, { recursive: true });
    for (const f of result.outputFiles) writeFileSync(f.path, f.contents);
    if (opts.types !== false) typeFiles.push(...emitTypes(join(outdir, 'types')));
  }
  return {
    file,
    code: js.text,
    bytes: js.contents.byteLength,
    gzipBytes: gzipSync(js.contents, { level: 9 }).byteLength,
    imports: [...imports].sort(),
    externalImports: [...external].sort(),
    typeFiles,
  };
}

/** Declarations for the browser entry and what it re-exports. */
function emitTypes(outDir: string): string[] {
  // typescript is a devDependency: load it only when types are built.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const written: string[] = [];
  const program = ts.createProgram([join(ROOT, 'client', 'browser.ts')], {
    declaration: true,
    emitDeclarationOnly: true,
    outDir,
    rootDir: ROOT,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    skipLibCheck: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  });
  program.emit(undefined, (fileName, text) => {
    mkdirSync(join(fileName, '..'), { recursive: true });
    writeFileSync(fileName, text);
    written.push(fileName);
  });
  return written;
}

/** Names a browser cannot import: Node built-ins with and without the `node:` prefix. */
export const NODE_BUILTINS: ReadonlySet<string> = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

if (require.main === module) {
  buildBrowserClient().then(
    (b) => console.log(`${b.file}: ${b.bytes} bytes, ${b.gzipBytes} gzipped; ${b.typeFiles.length} declaration files`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
