/**
 * `npm run module`: writes the standalone Terraform module to dist/eventsock-terraform-module/
 * and packs it as dist/eventsock-terraform-module.zip.
 *
 * Where it lives, and why: the module is a build output (synthesized JSON plus the
 * Lambda zips), so it is generated into dist/ and published as a release archive
 * (`source = "https://…/releases/download/vX/eventsock-terraform-module.zip"`, or a copy
 * in the user's own registry or bucket), not committed. Committed, every handler change
 * would be a binary diff of three zips plus a regenerated JSON file, and a commit could
 * carry a module that no longer matches its sources; built from a tag, it cannot.
 *
 * What a Terraform user gets: main.tf.json (resources, synthesized by the same Eventsock
 * construct as `cdktf synth`), variables.tf, outputs.tf.json, versions.tf (no backend, no
 * provider block, relaxed provider constraints), functions/*.zip referenced through
 * ${path.module}, README.md with input and output tables, and modules/examples/ as is.
 */
import { App, TerraformLocal, TerraformStack, TerraformVariable, Token } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { resolveConfig } from '../functions/core/config';
import { buildFunctions, deterministicZip, PROJECT_ROOT, sha256Base64 } from './build-functions';
import { Eventsock, type LambdaCode } from './eventsock';
import { FUNCTION_NAMES, type FunctionName } from './functions';
import { MODULE_VARIABLES, NAMESPACE_SETTINGS_EXPR, tokenSettingsExpr, type ModuleVariable } from './module-variables';

export const MODULE_AWS_CONSTRAINT = '>= 6.29';
export const MODULE_RANDOM_CONSTRAINT = '>= 3.6';
/** optional() object attributes with defaults need Terraform 1.3. */
export const MODULE_TERRAFORM_CONSTRAINT = '>= 1.3';

export interface ExportOptions {
  /** Default: dist/eventsock-terraform-module. */
  outDir?: string;
  /** Built zips by function name; default: build them now. */
  zips?: Record<FunctionName, string>;
  /** APPSYNC_JS handlers; default: functions/namespace/handlers.js. */
  namespaceHandlers?: string;
  /** Also write `<outDir>.zip`. Default: true. */
  archive?: boolean;
}

export interface ExportedModule {
  dir: string;
  files: string[];
  archive?: string;
  /** The module's resources, data sources, locals and outputs (main.tf.json + outputs.tf.json). */
  json: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** Drops cdktf's "//" metadata so the module reads like hand-written Terraform JSON. */
function stripMetadata(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripMetadata);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Json).filter(([k]) => k !== '//').map(([k, x]) => [k, stripMetadata(x)]));
  }
  return v;
}

/** Synthesizes the module's Terraform JSON with the Eventsock construct driven by variables. */
export function synthModuleJson(code: Record<FunctionName, LambdaCode>, namespaceHandlers?: string): Json {
  const outdir = mkdtempSync(join(tmpdir(), 'eventsock-module-synth-'));
  try {
    const app = new App({ outdir, skipValidation: true });
    const stack = new TerraformStack(app, 'module');
    // Only so the bindings know their providers; the module itself declares no provider block.
    new AwsProvider(stack, 'aws', {});
    new RandomProvider(stack, 'random', {});
    const v: Record<string, TerraformVariable> = {};
    for (const spec of MODULE_VARIABLES) {
      v[spec.name] = new TerraformVariable(stack, spec.name, { type: spec.type, default: spec.default, description: spec.description });
    }
    const ns = new TerraformLocal(stack, 'namespace_settings', `\${${NAMESPACE_SETTINGS_EXPR}}`);
    ns.overrideLogicalId('namespace_settings');
    // The default hs256 key slots, named from var.name exactly as the stack names them.
    const keys = resolveConfig({ name: 'NAMEPLACEHOLDER' }).tokens.hs256Keys.map((k) => ({ kid: k.kid, parameterName: k.parameterName.replace('NAMEPLACEHOLDER', '${var.name}') }));
    const tokens = new TerraformLocal(stack, 'token_settings', `\${${tokenSettingsExpr(keys)}}`);
    tokens.overrideLogicalId('token_settings');
    const es = new Eventsock(stack, 'eventsock', {
      config: {},
      code,
      namespaceHandlers,
      variables: {
        name: v.name.stringValue,
        defaultNamespace: v.default_namespace.stringValue,
        namespaces: 'local.namespace_settings',
        tokens: 'local.token_settings',
        retentionDays: v.log_retention_days.numberValue,
        tags: Token.asStringMap(v.tags.value),
        authorizerResultTtlSeconds: v.authorizer_result_ttl_seconds.numberValue,
      },
    });
    // A variable validation may not read another variable before Terraform 1.9, so this check sits on the resource that uses it.
    es.functions.publish.addOverride('lifecycle.precondition', [
      { condition: '${contains(keys(var.namespaces), var.default_namespace)}', error_message: 'default_namespace must be one of the keys of namespaces.' },
    ]);
    app.synth();
    const raw = JSON.parse(readFileSync(join(outdir, 'stacks', 'module', 'cdk.tf.json'), 'utf8')) as Json;
    return stripMetadata(raw) as Json;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

// ---- HCL writing for the files people read (variables.tf, versions.tf, the example)

function hclString(s: string): string {
  return JSON.stringify(s).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}

/** A JSON value as an HCL literal on one line. */
export function hclValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return hclString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(hclValue).join(', ')}]`;
  const entries = Object.entries(v as Json);
  if (entries.length === 0) return '{}';
  return `{ ${entries.map(([k, x]) => `${/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k)} = ${hclValue(x)}`).join(', ')} }`;
}

/** Attribute lines aligned on `=`, as `terraform fmt` writes them. */
function attrs(indent: string, pairs: Array<[string, string]>): string[] {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, val]) => `${indent}${k.padEnd(w)} = ${val}`);
}

export function variablesTf(vars: ModuleVariable[] = MODULE_VARIABLES): string {
  const blocks = vars.map((v) => {
    const lines = [`variable ${JSON.stringify(v.name)} {`, ...attrs('  ', [['description', hclString(v.description)], ['type', v.type], ['default', hclValue(v.default)]])];
    for (const val of v.validation ?? []) {
      lines.push('', '  validation {', ...attrs('    ', [['condition', val.condition], ['error_message', hclString(val.errorMessage)]]), '  }');
    }
    lines.push('}');
    return lines.join('\n');
  });
  return `# Generated by npm run module from modules/module-variables.ts.\n\n${blocks.join('\n\n')}\n`;
}

export function versionsTf(): string {
  return [
    '# No provider block and no backend: the calling root module configures both, so count and for_each work on this module.',
    'terraform {',
    `  required_version = ${hclString(MODULE_TERRAFORM_CONSTRAINT)}`,
    '',
    '  required_providers {',
    '    aws = {',
    ...attrs('      ', [['source', '"hashicorp/aws"'], ['version', hclString(MODULE_AWS_CONSTRAINT)]]),
    '    }',
    '    random = {',
    ...attrs('      ', [['source', '"hashicorp/random"'], ['version', hclString(MODULE_RANDOM_CONSTRAINT)]]),
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

// ---- README tables

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function inputsTable(): string {
  return [
    '| Name | Description | Type | Default |',
    '|---|---|---|---|',
    ...MODULE_VARIABLES.map((v) => `| \`${v.name}\` | ${cell(v.description)} | \`${cell(v.type)}\` | \`${cell(hclValue(v.default))}\` |`),
  ].join('\n');
}

export function outputsTable(outputs: Record<string, { description?: string; sensitive?: boolean }>): string {
  return [
    '| Name | Description | Sensitive |',
    '|---|---|---|',
    ...Object.entries(outputs).map(([n, o]) => `| \`${n}\` | ${cell(o.description ?? '')} | ${o.sensitive ? 'yes' : 'no'} |`),
  ].join('\n');
}

/** Puts generated tables between `<!-- name -->` and `<!-- /name -->` markers. */
export function fillTables(readme: string, tables: Record<string, string>): string {
  let out = readme;
  for (const [name, table] of Object.entries(tables)) {
    const re = new RegExp(`(<!-- ${name} -->)[\\s\\S]*?(<!-- /${name} -->)`);
    if (!re.test(out)) throw new Error(`modules/README.md lacks the <!-- ${name} --> … <!-- /${name} --> markers`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}\n${table}\n${b}`);
  }
  return out;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

/** Writes the module (and its archive). */
export async function exportModule(opts: ExportOptions = {}): Promise<ExportedModule> {
  const dir = opts.outDir ?? join(PROJECT_ROOT, 'dist', 'eventsock-terraform-module');
  const zips = opts.zips ?? Object.fromEntries((await buildFunctions()).map((b) => [b.name, b.zipPath]));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'functions'), { recursive: true });
  const code = {} as Record<FunctionName, LambdaCode>;
  for (const fn of FUNCTION_NAMES) {
    const src = zips[fn as FunctionName];
    if (!src) throw new Error(`no zip for function ${fn}`);
    copyFileSync(src, join(dir, 'functions', `${fn}.zip`));
    code[fn] = { filename: `\${path.module}/functions/${fn}.zip`, sourceCodeHash: sha256Base64(readFileSync(src)) };
  }
  const tf = synthModuleJson(code, opts.namespaceHandlers);
  const { variable: _variables, output, provider: _provider, terraform: _terraform, ...main } = tf;
  writeFileSync(join(dir, 'main.tf.json'), JSON.stringify(main, null, 2) + '\n');
  writeFileSync(join(dir, 'outputs.tf.json'), JSON.stringify({ output }, null, 2) + '\n');
  writeFileSync(join(dir, 'variables.tf'), variablesTf());
  writeFileSync(join(dir, 'versions.tf'), versionsTf());
  const outputs = output as Record<string, { description?: string; sensitive?: boolean }>;
  const readme = fillTables(readFileSync(join(PROJECT_ROOT, 'modules', 'README.md'), 'utf8'), { inputs: inputsTable(), outputs: outputsTable(outputs) });
  writeFileSync(join(dir, 'README.md'), readme);
  cpSync(join(PROJECT_ROOT, 'modules', 'examples'), join(dir, 'examples'), { recursive: true });
  const files = listFiles(dir);
  let archive: string | undefined;
  if (opts.archive ?? true) {
    archive = `${dir}.zip`;
    writeFileSync(archive, deterministicZip(Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f))]))));
  }
  return { dir, files, archive, json: { ...main, output } };
}

if (require.main === module) {
  exportModule()
    .then((m) => {
      console.log(`wrote ${relative(process.cwd(), m.dir)}/ (${m.files.length} files)${m.archive ? ` and ${relative(process.cwd(), m.archive)}` : ''}`);
      for (const f of m.files) console.log(`  ${f}`);
    })
    .catch((e: Error) => {
      console.error(`module export failed: ${e.message}`);
      process.exit(1);
    });
}
