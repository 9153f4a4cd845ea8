/**
 * The exported Terraform module: its files parse, every variable is used, every
 * output exists, `terraform fmt -check` passes, and `terraform validate` passes
 * offline for everything the local provider mirror (hashicorp/aws 5.100.0) knows.
 * What it cannot validate is listed in terraform-support.ts and printed here.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { FUNCTION_NAMES, type FunctionName } from '../../modules/functions';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import { ConfigError } from '../../functions/core/errors';
import { exportModule, MODULE_README, type ExportedModule } from '../../modules/export-module';
import { sha256Base64 } from '../../modules/build-functions';
import { MODULE_VARIABLES, NAME_REGEX, NAMESPACE_REGEX } from '../../modules/module-variables';
import { PASS_THROUGH } from './synth-support';
import { namespaceHandlerCode } from '../../functions/namespace/code';
import { localsOnlyCopy, NOT_VALIDATED, terraform, validationCopy, type ValidationCopy } from './terraform-support';

type Json = Record<string, any>;
const root = mkdtempSync(join(tmpdir(), 'eventsock-module-test-'));
let mod: ExportedModule;
let copy: ValidationCopy;
let init: { status: number | null; out: string };
let localsDir: string;

beforeAll(async () => {
  const zips = {} as Record<FunctionName, string>;
  for (const fn of FUNCTION_NAMES) {
    zips[fn] = join(root, `${fn}.zip`);
    writeFileSync(zips[fn], `stand-in zip for ${fn}`);
  }
  mod = await exportModule({ outDir: join(root, 'module'), zips, namespaceHandlers: PASS_THROUGH });
  copy = validationCopy(mod.dir);
  localsDir = localsOnlyCopy(mod.dir);
  init = terraform(join(copy.dir, 'examples', 'basic'), ['init', '-backend=false', '-input=false', '-no-color']);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const read = (f: string) => readFileSync(join(mod.dir, f), 'utf8');

describe('exported Terraform module', () => {
  it('writes the module files, with the Lambda zips inside', () => {
    expect(mod.files).toEqual([
      'README.md', 'examples/basic/main.tf', 'functions/authorizer.zip', 'functions/history.zip', 'functions/publish.zip', 'functions/socket-publish.zip', 'main.tf.json', 'outputs.tf.json', 'variables.tf', 'versions.tf',
    ]);
    expect(read('functions/publish.zip')).toBe('stand-in zip for publish');
  });

  it('has no backend and no provider block, and relaxed provider constraints', () => {
    const main = JSON.parse(read('main.tf.json')) as Json;
    expect(Object.keys(main).sort()).toEqual(['data', 'locals', 'resource']);
    expect(read('versions.tf')).toMatch(/source\s+= "hashicorp\/aws"\n\s+version = ">= 6\.29"/);
    // The example root pins the same floor as the module.
    expect(read('examples/basic/main.tf')).toMatch(/source\s+= "hashicorp\/aws"\n\s+version = ">= 6\.29"/);
    for (const o of [...read('examples/basic/main.tf').matchAll(/module\.eventsock\.([a-z_]+)/g)].map((m) => m[1])) {
      expect((JSON.parse(read('outputs.tf.json')) as Json).output).toHaveProperty(o);
    }
    expect(read('versions.tf').split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/backend|provider "/);
    expect(JSON.stringify(main)).not.toContain('"//"');
  });

  it('points each function at its zip under ${path.module}, with the zip\'s hash', () => {
    const fns = (JSON.parse(read('main.tf.json')) as Json).resource.aws_lambda_function as Json;
    for (const fn of FUNCTION_NAMES) {
      expect(fns[`eventsock_${fn.replace(/-/g, '_')}`].filename).toBe(`\${path.module}/functions/${fn}.zip`);
      expect(fns[`eventsock_${fn.replace(/-/g, '_')}`].source_code_hash).toBe(sha256Base64(readFileSync(join(mod.dir, 'functions', `${fn}.zip`))));
    }
  });

  it('uses every declared variable in resources, and references no undeclared one', () => {
    const body = read('main.tf.json') + read('outputs.tf.json');
    const declared = [...read('variables.tf').matchAll(/^variable "([a-z_]+)"/gm)].map((m) => m[1]);
    expect(declared).toEqual(MODULE_VARIABLES.map((v) => v.name));
    for (const v of declared) expect([v, body.includes(`var.${v}`)]).toEqual([v, true]);
    const referenced = new Set([...body.matchAll(/var\.([a-z_]+)/g)].map((m) => m[1]));
    for (const v of referenced) expect(declared).toContain(v);
  });

  it('wires the variables into the resources they configure', () => {
    const r = (JSON.parse(read('main.tf.json')) as Json).resource;
    expect(r.aws_appsync_api.eventsock_api.name).toBe('${var.name}');
    expect(r.aws_dynamodb_table.eventsock_table_messages.name).toBe('${var.name}-messages');
    // The namespace index the history API reads for wildcard patterns, and the history role's Query on it.
    expect(r.aws_dynamodb_table.eventsock_table_messages.global_secondary_index).toEqual([{ name: 'by-namespace', hash_key: 'namespace', range_key: 'id', projection_type: 'ALL' }]);
    // (The module's policies hold `${jsonencode(...)}` lists, so they are read as text.)
    const historyPolicy = r.aws_iam_role_policy.eventsock_history_policy.policy as string;
    expect(historyPolicy.match(/"Action":"dynamodb:[A-Za-z]+","Resource":\[[^\]]*\]/g)).toEqual([
      '"Action":"dynamodb:Query","Resource":["${aws_dynamodb_table.eventsock_table_messages.arn}","${aws_dynamodb_table.eventsock_table_messages.arn}/index/by-namespace"]',
    ]);
    expect(r.aws_cloudwatch_log_group.eventsock_publish_logs.retention_in_days).toBe('${var.log_retention_days}');
    expect(r.aws_lambda_function.eventsock_publish.tags).toBe('${var.tags}');
    expect(r.aws_appsync_channel_namespace.eventsock_namespace.for_each).toBe('${local.namespace_settings}');
    expect(r.aws_appsync_channel_namespace.eventsock_namespace.name).toBe('${each.key}');
    expect(r.aws_appsync_channel_namespace.eventsock_namespace.code_handlers).toBe('${local.namespace_code}');
    expect((JSON.parse(read('main.tf.json')) as Json).locals.namespace_code).toContain('const SETTINGS = ${jsonencode({ namespaces = { for k, v in local.namespace_settings');
    expect(r.aws_ssm_parameter.eventsock_token_secret.name).toBe('${each.value.parameter_name}');
    const settings = r.aws_lambda_function.eventsock_publish.environment.variables.EVENTSOCK_SETTINGS as string;
    expect(settings).toContain('"namespaces":${jsonencode(local.namespace_settings)}');
    expect(settings).toContain('"tokens":${jsonencode(local.token_settings)}');
    expect(r.aws_lambda_function.eventsock_publish.lifecycle.precondition[0].condition).toBe('${contains(keys(var.namespaces), local.default_namespace)}');
  });

  it('has every output of the stack, described, secrets marked sensitive, and lists them in its README', () => {
    const outputs = (JSON.parse(read('outputs.tf.json')) as Json).output as Record<string, Json>;
    expect(Object.keys(outputs).sort()).toEqual([
      'api_arn', 'api_id', 'appsync_api_key', 'appsync_api_key_expires', 'history_url', 'http_endpoint', 'http_host', 'publish_api_key_parameter_names', 'publish_api_keys', 'publish_function_arn',
      'publish_function_name', 'publish_url', 'realtime_endpoint', 'realtime_host', 'table_names', 'token_secret_kids', 'token_secret_parameter_names', 'token_secrets',
    ]);
    for (const [name, o] of Object.entries(outputs)) {
      expect([name, typeof o.description]).toEqual([name, 'string']);
      expect(read('README.md')).toContain(`| \`${name}\` |`);
    }
    expect(outputs.publish_api_keys.sensitive).toBe(true);
    expect(outputs.token_secrets.sensitive).toBe(true);
    expect(outputs.appsync_api_key.sensitive).toBe(true);
    for (const v of MODULE_VARIABLES) expect(read('README.md')).toContain(`| \`${v.name}\` |`);
    // The committed modules/README.md carries the same tables (npm run module refreshes them).
    expect(readFileSync(MODULE_README, 'utf8')).toBe(read('README.md'));
  });

  it('passes terraform fmt -check (variables.tf, versions.tf, the example)', () => {
    const r = terraform(mod.dir, ['fmt', '-check', '-recursive', '-no-color']);
    expect(r.out.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('passes terraform validate offline, module and examples/basic, for everything the local aws 5.100.0 provider knows', () => {
    console.log(
      'NOT validated offline (see test/stack/terraform-support.ts):\n' +
        Object.entries(NOT_VALIDATED).map(([k, why]) => `  - ${k}: ${why}`).join('\n') +
        `\nremoved from the validation copy:\n${copy.removed.map((x) => `  - ${x}`).join('\n')}`,
    );
    expect(copy.removed).toEqual([
      'aws_appsync_api.eventsock_api',
      'aws_appsync_channel_namespace.eventsock_namespace',
      'random_password.eventsock_publish_api_key_1_value',
      'random_password.eventsock_publish_api_key_2_value',
      'random_password.eventsock_token_secret_value',
      'aws_lambda_permission.eventsock_history_url_invoke.invoked_via_function_url',
      'aws_lambda_permission.eventsock_publish_url_invoke.invoked_via_function_url',
    ]);
    // Validating the example root validates the module as its child, in one provider load.
    expect([init.status, init.out]).toEqual([0, expect.stringContaining('Terraform has been successfully initialized')]);
    const r = terraform(join(copy.dir, 'examples', 'basic'), ['validate', '-no-color']);
    expect([r.status, r.out]).toEqual([0, expect.stringContaining('The configuration is valid')]);
  });

  it('computes the same handler settings in Terraform as the CDKTF stack does from the same config', () => {
    const vars = [
      '-var', 'namespaces={ default = {}, chat = { client_publish = true, default_store_seconds = 3600 }, feed = { allow_wildcard_subscribe = false, ordering = "none" } }',
      '-var', 'tokens={ issuer = ["https://id.example.com"], max_token_age_seconds = 600 }',
    ];
    const [ns, tokens] = JSON.parse(JSON.parse(spawnConsole(localsDir, vars, 'jsonencode([local.namespace_settings, local.token_settings])\n')));
    const expected = runtimeSettings(
      resolveConfig({
        namespaces: { default: {}, chat: { clientPublish: true, defaultStoreSeconds: 3600 }, feed: { allowWildcardSubscribe: false, ordering: 'none' } },
        tokens: { issuer: ['https://id.example.com'], maxTokenAgeSeconds: 600 },
      }),
      { eventApiHttpHost: '', region: '' },
    );
    expect(ns).toEqual(expected.namespaces);
    expect(tokens).toEqual(expected.tokens);
  });

  it('renders the namespace code in Terraform exactly as the stack writes it for the same config', () => {
    const vars = ['-var', 'namespaces={ default = {}, chat = { client_publish = true }, feed = { allow_wildcard_subscribe = false } }'];
    const src = PASS_THROUGH.replace('return ctx.events;', 'const p = `${ctx.info.channel.path} 100%{x}`;\n  return ctx.events;');
    const m2 = join(root, 'module-code');
    return exportModule({ outDir: m2, zips: Object.fromEntries(FUNCTION_NAMES.map((f) => [f, join(root, `${f}.zip`)])) as never, namespaceHandlers: src, archive: false }).then(() => {
      const code = JSON.parse(spawnConsole(localsOnlyCopy(m2), vars, 'local.namespace_code == null ? "" : jsonencode(local.namespace_code)\n'));
      const expected = namespaceHandlerCode(resolveConfig({ namespaces: { default: {}, chat: { clientPublish: true }, feed: { allowWildcardSubscribe: false } } }), src);
      // jsonencode sorts keys: compare the SETTINGS object by value and every other character exactly.
      const split = (c: string) => {
        const m = /^const SETTINGS = (.*); \/\/ @eventsock:settings$/m.exec(c)!;
        return { settings: JSON.parse(m[1]), rest: c.replace(m[0], '') };
      };
      expect(split(JSON.parse(code))).toEqual(split(expected));
    });
  });

  it('refuses bad variables with Terraform validation messages naming the variable', () => {
    const bad: Array<[string, RegExp]> = [
      ['name=has space', /name must be 1-40/],
      ['log_retention_days=8', /log_retention_days must be one of/],
      ['namespaces={ "bad_ns" = {} }', /names are 1-50 letters/],
      ['namespaces={ default = { publish_auth_modes = ["AWS_LAMBDA"] } }', /must include AWS_IAM/],
      ['tokens={ algorithms = ["RS256"] }', /need tokens\.jwks_url or tokens\.jwks/],
    ];
    for (const [v, msg] of bad) {
      const out = spawnConsole(localsDir, ['-var', v], 'var.name', true);
      expect([v, out]).toEqual([v, expect.stringMatching(msg)]);
    }
  });
});

describe('module variable rules agree with core/config.ts', () => {
  it('accepts and refuses the same names as resolveConfig', () => {
    const samples = ['eventsock', 'a', 'A-1', '-x', 'x-', 'has space', 'a'.repeat(40), 'a'.repeat(41), 'ünï'];
    for (const n of samples) {
      let core = true;
      try {
        resolveConfig({ name: n });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        core = false;
      }
      expect([n, new RegExp(NAME_REGEX).test(n)]).toEqual([n, core]);
      let nsOk = true;
      try {
        resolveConfig({ namespaces: { [n]: {} }, defaultNamespace: n });
      } catch {
        nsOk = false;
      }
      expect([n, new RegExp(NAMESPACE_REGEX).test(n)]).toEqual([n, nsOk]);
    }
  });
});

function spawnConsole(dir: string, vars: string[], expr: string, expectFailure = false): string {
  const r = terraform(dir, ['console', '-no-color', ...vars], expr);
  if (!expectFailure && r.status !== 0) throw new Error(r.out);
  return r.out.trim();
}
