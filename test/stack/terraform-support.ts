/**
 * Offline validation of the exported module with the machine's terraform and its
 * provider mirror (hashicorp/aws 5.100.0 only). What that provider or mirror cannot
 * check is removed from a copy and reported, never skipped silently.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MIRROR = '/opt/tf-plugins';

/** What cannot be validated here, and why. The test prints this list. */
export const NOT_VALIDATED: Record<string, string> = {
  aws_appsync_api: 'resource first shipped in hashicorp/aws 6.9.0; the local mirror has 5.100.0',
  aws_appsync_channel_namespace: 'resource first shipped in hashicorp/aws 6.9.0; the local mirror has 5.100.0',
  random_password: 'hashicorp/random is not in the local provider mirror',
  'aws_lambda_permission.invoked_via_function_url': 'argument added in hashicorp/aws 6.29.0; removed from the copy',
  'required_providers versions': 'relaxed in the copy so that aws 5.100.0 is accepted; random dropped',
};

type Json = Record<string, any>;

/** Values of the right shape for attributes of removed resources, so that the provider's own checks still run. */
const STAND_INS: Record<string, string> = {
  api_arn: 'arn:aws:appsync:eu-west-1:123456789012:apis/notvalidated',
  channel_namespace_arn: 'arn:aws:appsync:eu-west-1:123456789012:apis/notvalidated/channelNamespace/default',
  api_id: 'notvalidated',
  dns: 'notvalidated.appsync-api.eu-west-1.amazonaws.com',
  result: 'not-validated',
};

/** Rewrites references to removed resources inside every string of the document. */
function rewriteRefs(v: unknown, types: string[]): unknown {
  if (typeof v === 'string') {
    let s = v;
    for (const t of types) {
      // A for-expression over a for_each resource: give it one stand-in instance.
      s = s.replace(new RegExp(`in ${t}\\.[a-z0-9_]+ :`, 'g'), `in { stub = { channel_namespace_arn = ${JSON.stringify(STAND_INS.channel_namespace_arn)} } } :`);
      s = s.replace(new RegExp(`${t}\\.[a-z0-9_]+(?:\\[[^\\]]+\\])?\\.([a-z_]+)(\\["[A-Z]+"\\])?`, 'g'), (_m, attr: string) => JSON.stringify(STAND_INS[attr] ?? 'not-validated'));
    }
    return s;
  }
  if (Array.isArray(v)) return v.map((x) => rewriteRefs(x, types));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v as Json).map(([k, x]) => [k, rewriteRefs(x, types)]));
  return v;
}

export interface ValidationCopy {
  dir: string;
  removed: string[];
}

const REMOVED_TYPES = ['aws_appsync_api', 'aws_appsync_channel_namespace', 'random_password'];

/** Removes from a Terraform JSON document what the local provider cannot know; returns what it removed. */
export function stripForLocalProvider(doc: Json): { doc: Json; removed: string[] } {
  const types = REMOVED_TYPES;
  const main = JSON.parse(JSON.stringify(doc)) as Json;
  const removed: string[] = [];
  for (const t of types) {
    for (const name of Object.keys(main.resource[t] ?? {})) removed.push(`${t}.${name}`);
    delete main.resource[t];
  }
  for (const [name, p] of Object.entries(main.resource.aws_lambda_permission ?? {}) as Array<[string, Json]>) {
    if ('invoked_via_function_url' in p) {
      delete p.invoked_via_function_url;
      removed.push(`aws_lambda_permission.${name}.invoked_via_function_url`);
    }
  }
  for (const group of Object.values(main.resource) as Json[]) {
    for (const r of Object.values(group) as Json[]) {
      if (Array.isArray(r.depends_on)) r.depends_on = r.depends_on.filter((d: string) => !types.some((t) => d.startsWith(`${t}.`)));
    }
  }
  if (main.provider) delete main.provider.random;
  if (main.terraform?.required_providers) {
    delete main.terraform.required_providers.random;
    if (main.terraform.required_providers.aws) main.terraform.required_providers.aws.version = '>= 5.0';
  }
  return { doc: rewriteRefs(main, types) as Json, removed };
}

/** Copies the module, removes what the local provider cannot know, and relaxes versions. */
export function validationCopy(moduleDir: string): ValidationCopy {
  const dir = join(mkdtempSync(join(tmpdir(), 'eventsock-tfvalidate-')), 'module');
  cpSync(moduleDir, dir, { recursive: true });
  const types = REMOVED_TYPES;
  const { doc: main, removed } = stripForLocalProvider(JSON.parse(readFileSync(join(dir, 'main.tf.json'), 'utf8')) as Json);
  writeFileSync(join(dir, 'main.tf.json'), JSON.stringify(main, null, 2));
  const outputs = JSON.parse(readFileSync(join(dir, 'outputs.tf.json'), 'utf8')) as Json;
  writeFileSync(join(dir, 'outputs.tf.json'), JSON.stringify(rewriteRefs(outputs, types), null, 2));
  const versions = 'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = ">= 5.0"\n    }\n  }\n}\n';
  writeFileSync(join(dir, 'versions.tf'), versions);
  const example = join(dir, 'examples', 'basic', 'main.tf');
  if (existsSync(example)) writeFileSync(example, readFileSync(example, 'utf8').replace(/version = ">= 6\.29"/, 'version = ">= 5.0"'));
  return { dir, removed };
}

export interface TfResult {
  status: number | null;
  out: string;
}

/** Runs terraform with a CLI config that installs providers from the local mirror only. */
/** A Terraform CLI config file that installs providers from the local mirror only. */
export function mirrorCliConfig(): string {
  const cfg = join(mkdtempSync(join(tmpdir(), 'eventsock-tfcli-')), 'terraform.rc');
  writeFileSync(cfg, `provider_installation {\n  filesystem_mirror {\n    path    = "${MIRROR}"\n    include = ["registry.terraform.io/*/*"]\n  }\n}\n`);
  return cfg;
}

export function terraform(cwd: string, args: string[], stdin?: string): TfResult {
  const cfg = mirrorCliConfig();
  const r = spawnSync('terraform', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TF_CLI_CONFIG_FILE: cfg, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_PLUGIN_CACHE_DIR: '' },
    timeout: 120_000,
    input: stdin,
  });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * A directory with only the module's variables and locals: `terraform console` there
 * evaluates variable validation and the settings expressions without loading a provider.
 */
export function localsOnlyCopy(moduleDir: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'eventsock-tflocals-'));
  cpSync(join(moduleDir, 'variables.tf'), join(dir, 'variables.tf'));
  const main = JSON.parse(readFileSync(join(moduleDir, 'main.tf.json'), 'utf8')) as Json;
  // locals.namespace_code included: Terraform must turn it back into exactly the JavaScript the stack deploys.
  // Locals built from resources or data sources (the parameter ARNs) cannot be evaluated without a provider.
  const locals = Object.fromEntries(Object.entries(main.locals as Json).filter(([, v]) => !/\b(data\.aws_|aws_[a-z_]+\.eventsock_)/.test(JSON.stringify(v))));
  writeFileSync(join(dir, 'locals.tf.json'), JSON.stringify({ locals }, null, 2));
  return dir;
}
