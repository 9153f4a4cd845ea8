/**
 * The module's publish, history and logging options: each variable reaches the
 * resource it configures, Terraform computes the same handler settings as the CDKTF
 * stack, switches turn resources off with count, bad values are refused naming the
 * variable, and the namespace code size limit is checked at plan time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { FUNCTION_NAMES, type FunctionName } from '../../modules/functions';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_DATA_BYTES_CEILING, resolveConfig, runtimeSettings } from '../../functions/core/config';
import { LIMITS } from '../../functions/core/limits';
import { exportModule, NAMESPACE_AUTH_PRECONDITION, NAMESPACE_CODE_PRECONDITION, NAMESPACE_PRESENCE_PRECONDITION, type ExportedModule } from '../../modules/export-module';
import { APPSYNC_LOG_LEVELS, AWS_REGION_REGEX, MODULE_VARIABLES, ORIGIN_REGEX, SSM_NAME_MAX_LENGTH, SSM_NAME_REGEX } from '../../modules/module-variables';
import { PASS_THROUGH, synthStack } from './synth-support';
import { localsOnlyCopy, terraform } from './terraform-support';

type Json = Record<string, any>;
const root = mkdtempSync(join(tmpdir(), 'eventsock-module-options-'));
let mod: ExportedModule;
let main: Json;
let outputs: Record<string, Json>;
let localsDir: string;

const zips = () => {
  const z = {} as Record<FunctionName, string>;
  for (const fn of FUNCTION_NAMES) {
    z[fn] = join(root, `${fn}.zip`);
    writeFileSync(z[fn], `stand-in zip for ${fn}`);
  }
  return z;
};

beforeAll(async () => {
  mod = await exportModule({ outDir: join(root, 'module'), zips: zips(), namespaceHandlers: PASS_THROUGH, archive: false });
  main = JSON.parse(readFileSync(join(mod.dir, 'main.tf.json'), 'utf8')) as Json;
  outputs = (JSON.parse(readFileSync(join(mod.dir, 'outputs.tf.json'), 'utf8')) as Json).output;
  localsDir = localsOnlyCopy(mod.dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tfConsole(dir: string, vars: string[], expr: string): { status: number | null; out: string } {
  const r = terraform(dir, ['console', '-no-color', ...vars.flatMap((v) => ['-var', v])], `${expr}\n`);
  return { status: r.status, out: r.out.trim() };
}

/** Evaluates an HCL expression with the module's variables and locals; the value as JSON. */
function evaluate(vars: string[], expr: string): unknown {
  const r = tfConsole(localsDir, vars, `jsonencode(${expr})`);
  if (r.status !== 0) throw new Error(r.out);
  return JSON.parse(JSON.parse(r.out) as string);
}

/** An interpolation-only attribute ("${expr}") as its bare expression. */
const bare = (s: string) => {
  expect(s).toMatch(/^\$\{[\s\S]*\}$/);
  return s.slice(2, -1);
};

describe('module publish, history and logging variables', () => {
  it('declares them with the defaults resolveConfig gives', () => {
    const names = MODULE_VARIABLES.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['publish', 'history', 'appsync_log_level']));
    const d = resolveConfig({});
    expect(evaluate([], 'var.publish')).toEqual({ http_endpoint: d.publish.httpEndpoint, max_data_bytes: d.publish.maxDataBytes, api_key_parameter_names: null, event_bus_name: d.publish.eventBusName, cors_allowed_origins: [] });
    expect(d.publish.corsAllowedOrigins).toEqual([]);
    expect(evaluate([], 'var.history')).toEqual({ enabled: d.history.enabled, cors_allowed_origins: d.history.corsAllowedOrigins });
    expect(evaluate([], 'var.appsync_log_level')).toBe(d.logging.appSyncLogLevel);
  });

  it('computes the same publish and history settings in Terraform as the stack does', () => {
    const cases: Array<[string[], Parameters<typeof resolveConfig>[0]]> = [
      [[], {}],
      [['name=shop'], { name: 'shop' }],
      [
        ['publish={ max_data_bytes = 1024, api_key_parameter_names = ["/shared/key-a", "/shared/key-b"], event_bus_name = "orders" }', 'history={ cors_allowed_origins = ["https://app.example.com"] }'],
        { publish: { maxDataBytes: 1024, apiKeyParameterNames: ['/shared/key-a', '/shared/key-b'], eventBusName: 'orders' }, history: { corsAllowedOrigins: ['https://app.example.com'] } },
      ],
      [['history={ enabled = false }'], { history: { enabled: false } }],
    ];
    for (const [vars, config] of cases) {
      const expected = runtimeSettings(resolveConfig(config), { eventApiHttpHost: '', region: '' });
      expect([vars, evaluate(vars, '[local.publish_settings, local.history_settings]')]).toEqual([vars, [expected.publish, expected.history]]);
    }
    const settings = main.resource.aws_lambda_function.eventsock_publish.environment.variables.EVENTSOCK_SETTINGS as string;
    expect(settings).toContain('"publish":${jsonencode(local.publish_settings)}');
    expect(settings).toContain('"history":${jsonencode(local.history_settings)}');
    // The publish function verifies client JWTs: it carries the same token settings as history.
    expect(settings).toContain('"tokens":${jsonencode(local.token_settings)}');
    expect(main.resource.aws_lambda_function.eventsock_history.environment.variables.EVENTSOCK_SETTINGS).toContain('"tokens":${jsonencode(local.token_settings)}');
  });

  it('computes the presence settings as the stack does, and runs the sweep schedule only when a namespace has presence', () => {
    const cases: Array<[string[], Parameters<typeof resolveConfig>[0]]> = [
      [[], {}],
      [['presence={ heartbeat_seconds = 7, sweep_seconds = 180, max_members_per_channel = 50 }'], { presence: { heartbeatSeconds: 7, sweepSeconds: 180, maxMembersPerChannel: 50 } }],
      [['presence={ heartbeat_seconds = 300 }'], { presence: { heartbeatSeconds: 300 } }],
    ];
    for (const [vars, config] of cases) {
      expect([vars, evaluate(vars, 'local.presence_settings')]).toEqual([vars, runtimeSettings(resolveConfig(config), { eventApiHttpHost: '', region: '' }).presence]);
    }
    expect(main.resource.aws_lambda_function.eventsock_publish.environment.variables.EVENTSOCK_SETTINGS).toContain('"presence":${jsonencode(local.presence_settings)}');
    const rule = main.resource.aws_cloudwatch_event_rule.eventsock_presence_sweep;
    const schedule = (vars: string[]) => evaluate(vars, `"${rule.schedule_expression}"`);
    expect(schedule([])).toBe('rate(1 minute)');
    expect(schedule(['presence={ sweep_seconds = 300 }'])).toBe('rate(5 minutes)');
    const state = (vars: string[]) => evaluate(vars, bare(rule.state));
    expect(state([])).toBe('DISABLED');
    expect(state(['namespaces={ default = {}, room = { presence = true } }'])).toBe('ENABLED');
  });

  it('writes publish.max_data_bytes into the namespace handlers as the stack does', () => {
    const code = evaluate(['publish={ max_data_bytes = 2048 }'], 'local.namespace_code') as string;
    const m = /^const SETTINGS = (.*); \/\/ @eventsock:settings$/m.exec(code)!;
    expect(JSON.parse(m[1]).maxDataBytes).toBe(2048);
  });

  it('turns the publish Function URL and its permissions off with publish.http_endpoint', () => {
    const r = main.resource;
    const counted = [r.aws_lambda_function_url.eventsock_publish_url, r.aws_lambda_permission.eventsock_publish_url_public, r.aws_lambda_permission.eventsock_publish_url_invoke];
    for (const res of counted) {
      expect(evaluate([], bare(res.count))).toBe(1);
      expect(evaluate(['publish={ http_endpoint = false }'], bare(res.count))).toBe(0);
    }
    expect(r.aws_lambda_function_url.eventsock_history_url.count).toBeDefined();
    expect(outputs.publish_url.value).toBe('${var.publish.http_endpoint ? "${aws_lambda_function_url.eventsock_publish_url[0].function_url}publish" : ""}');
  });

  it('turns the history Function URL off with history.enabled and gives it the CORS origins', () => {
    const r = main.resource;
    for (const res of [r.aws_lambda_function_url.eventsock_history_url, r.aws_lambda_permission.eventsock_history_url_public, r.aws_lambda_permission.eventsock_history_url_invoke]) {
      expect(evaluate([], bare(res.count))).toBe(1);
      expect(evaluate(['history={ enabled = false }'], bare(res.count))).toBe(0);
    }
    const origins = bare(r.aws_lambda_function_url.eventsock_history_url.cors.allow_origins);
    expect(evaluate(['history={ cors_allowed_origins = ["https://a.example.com", "http://localhost:3000"] }'], origins)).toEqual(['https://a.example.com', 'http://localhost:3000']);
    expect(outputs.history_url.value).toBe('${var.history.enabled ? "${aws_lambda_function_url.eventsock_history_url[0].function_url}history" : ""}');
    // The publish URL has no static cors block: publish.cors_allowed_origins switches a dynamic one.
    expect(r.aws_lambda_function_url.eventsock_publish_url.cors).toBeUndefined();
  });

  it('gives the publish Function URL the stack\'s CORS block only when publish.cors_allowed_origins lists origins', () => {
    const url = main.resource.aws_lambda_function_url.eventsock_publish_url;
    const block = url.dynamic.cors;
    // Default: no block, as the stack synthesizes none.
    expect(evaluate([], bare(block.for_each))).toEqual([]);
    expect(evaluate(['publish={ cors_allowed_origins = [] }'], bare(block.for_each))).toEqual([]);
    const origins = ['https://app.example.com', 'http://localhost:5173'];
    const set = `publish={ cors_allowed_origins = ${JSON.stringify(origins)} }`;
    const each = evaluate([set], bare(block.for_each)) as unknown[];
    // One block, whose allow_origins (cors.value) are the given origins.
    expect(each).toEqual([origins]);
    expect(block.content.allow_origins).toBe('${cors.value}');
    // The rest of the block is the stack's, for the same origins.
    const stackCors = (synthStack({ publish: { corsAllowedOrigins: origins } }).tf.resource.aws_lambda_function_url as Json).eventsock_publish_url.cors;
    expect({ ...block.content, allow_origins: each[0] }).toEqual(stackCors);
    expect(stackCors.allow_methods).toEqual(['POST']);
  });

  it('generates no API key secrets when existing parameter names are given, and the publish policy reads the given ones', () => {
    const r = main.resource;
    const given = 'publish={ api_key_parameter_names = ["/shared/key-a", "/shared/key-b"] }';
    for (const res of [r.aws_ssm_parameter.eventsock_publish_api_key_1, r.aws_ssm_parameter.eventsock_publish_api_key_2, r.random_password.eventsock_publish_api_key_1_value, r.random_password.eventsock_publish_api_key_2_value]) {
      expect(evaluate([], bare(res.count))).toBe(1);
      expect(evaluate([given], bare(res.count))).toBe(0);
    }
    expect(r.aws_ssm_parameter.eventsock_publish_api_key_1.value).toBe('${random_password.eventsock_publish_api_key_1_value[0].result}');
    // The token secrets are untouched by the switch.
    expect(r.aws_ssm_parameter.eventsock_token_secret.count).toBeUndefined();
    const policy = r.aws_iam_role_policy.eventsock_publish_policy.policy as string;
    expect(policy).toContain('"Sid":"ReadApiKeys","Action":"ssm:GetParameter","Resource":["${local.api_key_parameter_arns[0]}","${local.api_key_parameter_arns[1]}"]');
    expect(JSON.stringify(main)).not.toMatch(/aws_ssm_parameter\.eventsock_publish_api_key_\d\.arn/);
    expect(main.locals.api_key_parameter_arns).toBe(
      '${[for n in local.api_key_parameter_names : "arn:${data.aws_arn.eventsock_account.partition}:ssm:${data.aws_arn.eventsock_account.region}:${data.aws_arn.eventsock_account.account}:parameter${n}"]}',
    );
    expect(evaluate([given], 'local.api_key_parameter_names')).toEqual(['/shared/key-a', '/shared/key-b']);
    expect(evaluate(['name=shop'], 'local.api_key_parameter_names')).toEqual(resolveConfig({ name: 'shop' }).publish.apiKeyParameterNames);
    expect(outputs.publish_api_key_parameter_names.value).toBe('${local.api_key_parameter_names}');
    expect(outputs.publish_api_keys.value).toBe('${concat(aws_ssm_parameter.eventsock_publish_api_key_1[*].value, aws_ssm_parameter.eventsock_publish_api_key_2[*].value)}');
    expect(outputs.publish_api_keys.sensitive).toBe(true);
  });

  it('points the publish policy at publish.event_bus_name and the API log level at appsync_log_level', () => {
    expect(main.resource.aws_iam_role_policy.eventsock_publish_policy.policy).toContain(':event-bus/${var.publish.event_bus_name}"');
    expect(main.resource.aws_appsync_api.eventsock_api.event_config[0].log_config[0].log_level).toBe('${var.appsync_log_level}');
  });

  it('refuses bad values with Terraform validation messages naming the variable', () => {
    const bad: Array<[string, RegExp]> = [
      ['publish={ max_data_bytes = 0 }', /publish\.max_data_bytes must be a whole number between 1 and/],
      [`publish={ max_data_bytes = ${MAX_DATA_BYTES_CEILING + 1} }`, /publish\.max_data_bytes must be/],
      ['publish={ max_data_bytes = 10.5 }', /publish\.max_data_bytes must be/],
      ['publish={ api_key_parameter_names = ["/only/one"] }', /publish\.api_key_parameter_names must be exactly 2/],
      ['publish={ api_key_parameter_names = ["no-slash", "/b"] }', /publish\.api_key_parameter_names must be exactly 2/],
      ['publish={ event_bus_name = "" }', /publish\.event_bus_name must be a non-empty string/],
      ['publish={ cors_allowed_origins = ["https://a.example.com/path"] }', /publish\.cors_allowed_origins must be a list of '\*' or origins/],
      ['publish={ cors_allowed_origins = ["*", "app.example.com"] }', /publish\.cors_allowed_origins must be/],
      ['history={ cors_allowed_origins = [] }', /history\.cors_allowed_origins must be a non-empty list/],
      ['history={ cors_allowed_origins = ["https://a.example.com/path"] }', /history\.cors_allowed_origins must be/],
      ['appsync_log_level=LOUD', /appsync_log_level must be one of NONE, ERROR, INFO, DEBUG, ALL/],
      ['presence={ sweep_seconds = 90 }', /presence\.sweep_seconds must be a whole number of minutes between 60 and 3600/],
      ['presence={ sweep_seconds = 7200 }', /presence\.sweep_seconds must be/],
      [`presence={ heartbeat_seconds = ${LIMITS.presenceHeartbeatMinSeconds - 1} }`, /presence\.heartbeat_seconds must be a whole number between/],
      ['presence={ max_members_per_channel = 0 }', /presence\.max_members_per_channel must be a whole number between 1 and/],
    ];
    for (const [v, msg] of bad) {
      const r = tfConsole(localsDir, [v], 'var.name');
      // terraform console prints the validation error but exits 0, so the message is what counts.
      expect([v, r.out]).toEqual([v, expect.stringMatching(msg)]);
      expect(r.out).toMatch(/Invalid value for variable/);
    }
    // And the boundaries are accepted.
    for (const v of [`publish={ max_data_bytes = ${MAX_DATA_BYTES_CEILING} }`, 'publish={ max_data_bytes = 1 }', 'history={ cors_allowed_origins = ["*", "http://localhost:5173"] }', 'publish={ cors_allowed_origins = [] }', 'publish={ cors_allowed_origins = ["*", "http://localhost:5173"] }', 'appsync_log_level=ALL', 'presence={ heartbeat_seconds = 5, sweep_seconds = 3600, max_members_per_channel = 1000000 }']) {
      expect([v, tfConsole(localsDir, [v], 'var.name').out]).toEqual([v, '"eventsock"']);
    }
  });
});

describe('module namespaces.*.socket_publish', () => {
  it('resolves as resolveConfig does (pipeline by default with client_publish) and is refused without client_publish', () => {
    const cases: Array<[string, Record<string, Record<string, unknown>>]> = [
      ['namespaces={ default = {}, chat = { client_publish = true }, raw = { client_publish = true, socket_publish = "direct" } }', { default: {}, chat: { clientPublish: true }, raw: { clientPublish: true, socketPublish: 'direct' } }],
      ['namespaces={ default = { client_publish = true, socket_publish = "pipeline" } }', { default: { clientPublish: true, socketPublish: 'pipeline' } }],
    ];
    for (const [v, namespaces] of cases) {
      const tf = evaluate([v], 'local.namespace_settings') as Record<string, { socketPublish: string }>;
      const want = resolveConfig({ namespaces }).namespaces;
      expect([v, Object.fromEntries(Object.entries(tf).map(([k, n]) => [k, n.socketPublish]))]).toEqual([v, Object.fromEntries(Object.entries(want).map(([k, n]) => [k, n.socketPublish]))]);
    }
    for (const v of ['namespaces={ default = { socket_publish = "pipeline" } }', 'namespaces={ default = { client_publish = true, socket_publish = "lambda" } }']) {
      const r = tfConsole(localsDir, [v], 'var.name');
      expect([v, r.out]).toEqual([v, expect.stringMatching(/namespaces\.\*\.socket_publish must be direct or pipeline; pipeline needs\s+client_publish/)]);
    }
    expect(() => resolveConfig({ namespaces: { default: { socketPublish: 'pipeline' } } })).toThrow(/socketPublish/);
  });

  it('gives pipeline namespaces the stack\'s handler_configs (a dynamic block on the namespace for_each)', () => {
    const ns = main.resource.aws_appsync_channel_namespace.eventsock_namespace;
    expect(ns.dynamic.handler_configs).toEqual({
      for_each: '${each.value.socketPublish == "pipeline" ? [1] : []}',
      content: { on_publish: [{ behavior: 'DIRECT', integration: [{ data_source_name: '${aws_appsync_datasource.eventsock_socket_publish_ds.name}', lambda_config: [{ invoke_type: 'REQUEST_RESPONSE' }] }] }] },
    });
    const stack = synthStack({ namespaces: { default: {}, chat: { clientPublish: true } } }).tf;
    expect(stack.resource.aws_appsync_channel_namespace.eventsock_namespace_chat.handler_configs).toEqual([ns.dynamic.handler_configs.content]);
    expect(main.resource.aws_appsync_datasource.eventsock_socket_publish_ds).toEqual(stack.resource.aws_appsync_datasource.eventsock_socket_publish_ds);
  });
});

describe('module option rules agree with core/config.ts', () => {
  const accepts = (config: Parameters<typeof resolveConfig>[0]) => {
    try {
      resolveConfig(config);
      return true;
    } catch {
      return false;
    }
  };

  it('accepts and refuses the same SSM parameter names and CORS origins', () => {
    for (const n of ['/a', '/shared/key-1', '/x.y_z/w', 'no-slash', '/has space', '/', `/${'a'.repeat(1010)}`, `/${'a'.repeat(1011)}`]) {
      expect([n, new RegExp(SSM_NAME_REGEX).test(n) && n.length <= SSM_NAME_MAX_LENGTH]).toEqual([n, accepts({ publish: { apiKeyParameterNames: [n, '/b'] } })]);
    }
    for (const o of ['*', 'https://app.example.com', 'http://localhost:3000', 'https://a.example.com/', 'ftp://x', 'app.example.com', '**']) {
      expect([o, new RegExp(ORIGIN_REGEX).test(o)]).toEqual([o, accepts({ history: { corsAllowedOrigins: [o] } })]);
      expect([o, new RegExp(ORIGIN_REGEX).test(o)]).toEqual([o, accepts({ publish: { corsAllowedOrigins: [o] } })]);
    }
    for (const l of [...APPSYNC_LOG_LEVELS, 'LOUD']) {
      expect([l, (APPSYNC_LOG_LEVELS as readonly string[]).includes(l)]).toEqual([l, accepts({ logging: { appSyncLogLevel: l as 'ALL' } })]);
    }
  });
});

// terraform_data is built into Terraform, so a plan runs offline with the module's own
// variables, locals and precondition, without the AWS provider.
function planDir(moduleDir: string): string {
  const dir = localsOnlyCopy(moduleDir);
  const ns = (JSON.parse(readFileSync(join(moduleDir, 'main.tf.json'), 'utf8')) as Json).resource.aws_appsync_channel_namespace.eventsock_namespace;
  writeFileSync(
    join(dir, 'guard.tf.json'),
    JSON.stringify({ resource: { terraform_data: { namespace: { for_each: ns.for_each, input: '${each.key}', lifecycle: ns.lifecycle } } } }),
  );
  return dir;
}
const plan = (dir: string, vars: string[]) => terraform(dir, ['plan', '-input=false', '-no-color', '-lock=false', ...vars.flatMap((v) => ['-var', v])]);


describe('namespace code size at plan time', () => {
  it('puts the code in a local measured by a precondition on the namespace resource', () => {
    const ns = main.resource.aws_appsync_channel_namespace.eventsock_namespace;
    expect(ns.code_handlers).toBe('${local.namespace_code}');
    expect(ns.lifecycle.precondition).toContainEqual(NAMESPACE_CODE_PRECONDITION);
    expect(NAMESPACE_CODE_PRECONDITION.condition).toBe(`\${length(local.namespace_code) <= ${LIMITS.namespaceHandlerMaxChars}}`);
  });

  it('refuses at plan a code that its namespaces push over the limit, and plans one that fits', async () => {
    // Handlers just under the limit on their own (the stack's check passes), so the settings decide.
    const filler = `// ${'x'.repeat(LIMITS.namespaceHandlerMaxChars - PASS_THROUGH.length - 400)}\n`;
    const big = await exportModule({ outDir: join(root, 'module-big'), zips: zips(), namespaceHandlers: PASS_THROUGH + filler, archive: false });
    const dir = planDir(big.dir);
    terraform(dir, ['init', '-input=false', '-no-color', '-backend=false']);
    const fits = plan(dir, []);
    expect([fits.status, fits.out]).toEqual([0, expect.stringContaining('1 to add')]);
    const many = `namespaces={ ${Array.from({ length: 20 }, (_, i) => `ns${i} = {}`).join(', ')} }`;
    const over = plan(dir, [many, 'default_namespace=ns0']);
    expect([over.status, over.out]).toEqual([1, expect.stringContaining(`more than ${LIMITS.namespaceHandlerMaxChars} characters, AppSync's limit for code_handlers`)]);
    expect(over.out).toMatch(/Resource precondition failed/);
  });
});

describe('module default_namespace', () => {
  it('falls back as resolveConfig does: default, else the only namespace, else nothing (refused at plan)', () => {
    expect(evaluate([], 'local.default_namespace')).toBe('default');
    expect(evaluate(['namespaces={ chat = {} }'], 'local.default_namespace')).toBe(resolveConfig({ namespaces: { chat: {} } }).defaultNamespace);
    expect(evaluate(['namespaces={ chat = {}, default = {} }'], 'local.default_namespace')).toBe('default');
    expect(evaluate(['namespaces={ a = {}, b = {} }', 'default_namespace=b'], 'local.default_namespace')).toBe('b');
    expect(() => resolveConfig({ namespaces: { a: {}, b: {} } })).toThrow(/defaultNamespace/);
    expect(evaluate(['namespaces={ a = {}, b = {} }'], 'local.default_namespace')).toBe('');
  });
});

describe('module auth variable', () => {
  const all = 'auth={ api_key = { description = "for kiosks", lifetime_days = 30 }, open_id_connect = { issuer = "https://id.example.com", client_id = "web", auth_ttl_seconds = 600 }, cognito = { user_pool_id = "eu-west-1_abc", aws_region = "eu-west-1" } }';

  it('turns on the providers it names, in the stack\'s order', () => {
    expect(evaluate([], 'local.enabled_auth_modes')).toEqual(['AWS_LAMBDA', 'AWS_IAM']);
    expect(evaluate([], 'local.extra_auth_providers')).toEqual([]);
    expect(evaluate([all], 'local.enabled_auth_modes')).toEqual(['AWS_LAMBDA', 'AWS_IAM', 'API_KEY', 'OPENID_CONNECT', 'AMAZON_COGNITO_USER_POOLS']);
    expect(evaluate(['auth={ cognito = { user_pool_id = "p", aws_region = "us-east-1" } }'], 'local.enabled_auth_modes')).toEqual(['AWS_LAMBDA', 'AWS_IAM', 'AMAZON_COGNITO_USER_POOLS']);
  });

  it('writes each provider\'s settings block with the attributes the stack writes for the same config', () => {
    const ec = main.resource.aws_appsync_api.eventsock_api.event_config[0];
    expect(ec.auth_provider.map((p: Json) => p.auth_type)).toEqual(['AWS_LAMBDA', 'AWS_IAM']);
    expect(ec.connection_auth_mode).toEqual([{ auth_type: 'AWS_LAMBDA' }, { auth_type: 'AWS_IAM' }]);
    expect(ec.dynamic.connection_auth_mode).toEqual({ for_each: '${local.extra_auth_providers}', iterator: 'mode', content: { auth_type: '${mode.value.auth_type}' } });
    const dyn = ec.dynamic.auth_provider;
    expect(dyn.for_each).toBe('${local.extra_auth_providers}');
    const { tf } = synthStack({ auth: { apiKey: {}, openIdConnect: { issuer: 'https://id.example.com', clientId: 'web', authTtlSeconds: 600, iatTtlSeconds: 60 }, cognito: { userPoolId: 'p', awsRegion: 'eu-west-1', appIdClientRegex: 'x' } } });
    const stackProviders = (tf.resource.aws_appsync_api.eventsock_api as Json).event_config[0].auth_provider as Json[];
    const stackBlock = (t: string, b: string) => Object.keys(stackProviders.find((p) => p.auth_type === t)![b][0]).sort();
    expect(Object.keys(dyn.content.dynamic.openid_connect_config.content).sort()).toEqual(stackBlock('OPENID_CONNECT', 'openid_connect_config'));
    expect(Object.keys(dyn.content.dynamic.cognito_config.content).sort()).toEqual(stackBlock('AMAZON_COGNITO_USER_POOLS', 'cognito_config'));
    // Seconds in the config and the variable, milliseconds for AppSync (OpenIDConnectConfig AuthTTL/IatTTL).
    expect(stackProviders.find((p) => p.auth_type === 'OPENID_CONNECT')!.openid_connect_config[0]).toMatchObject({ auth_ttl: 600_000, iat_ttl: 60_000 });
    const oidcVar = (attr: string) => bare(dyn.content.dynamic.openid_connect_config.content[attr]).replace(/oidc\.value\./g, 'var.auth.open_id_connect.');
    expect(evaluate([all], oidcVar('auth_ttl'))).toBe(600_000);
    expect(evaluate([all], oidcVar('iat_ttl'))).toBeNull();
    // The blocks' for_each expressions give one block for the provider that has settings and none for the others.
    // In the dynamic block the iterator's element is provider.value; in a for-expression it is provider.
    const blocks = (forEach: string) => `[for provider in local.extra_auth_providers : { type = provider.auth_type, n = length(${bare(forEach).replace(/provider\.value\./g, 'provider.')}) }]`;
    expect(evaluate([all], blocks(dyn.content.dynamic.openid_connect_config.for_each))).toEqual([{ type: 'API_KEY', n: 0 }, { type: 'OPENID_CONNECT', n: 1 }, { type: 'AMAZON_COGNITO_USER_POOLS', n: 0 }]);
    expect(evaluate([all], blocks(dyn.content.dynamic.cognito_config.for_each))).toEqual([{ type: 'API_KEY', n: 0 }, { type: 'OPENID_CONNECT', n: 0 }, { type: 'AMAZON_COGNITO_USER_POOLS', n: 1 }]);
  });

  it('creates the AppSync API key only with auth.api_key, with its description and expiry', () => {
    const key = main.resource.aws_appsync_api_key.eventsock_api_key;
    expect(evaluate([], bare(key.count))).toBe(0);
    expect(evaluate([all], bare(key.count))).toBe(1);
    expect(evaluate([all], bare(key.description))).toBe('for kiosks');
    expect(evaluate(['name=shop', 'auth={ api_key = {} }'], bare(key.description))).toBe('Eventsock shop');
    expect(evaluate([all], bare(key.expires).replace('plantimestamp()', '"2026-12-06T13:45:10Z"'))).toBe('2027-01-05T00:00:00Z');
    expect(evaluate([], bare(key.expires).replace('plantimestamp()', '"2026-12-06T23:59:59Z"'))).toBe('2027-12-06T00:00:00Z');
    expect(key.lifecycle?.ignore_changes).toBeUndefined();
    expect(outputs.appsync_api_key).toEqual({ description: expect.any(String), sensitive: true, value: '${try(aws_appsync_api_key.eventsock_api_key[0].key, "")}' });
  });

  it('raises the API key expiry alarm before the key lapses, with the key and the alarms only', () => {
    const on = ['alarms={ sns_topic_arns = ["arn:aws:sns:eu-west-1:123456789012:oncall"] }'];
    for (const type of ['aws_cloudwatch_metric_alarm', 'aws_scheduler_schedule', 'aws_iam_role', 'aws_iam_role_policy']) {
      const id = { aws_cloudwatch_metric_alarm: 'eventsock_alarm_api_key_expiry', aws_scheduler_schedule: 'eventsock_api_key_expiry_schedule', aws_iam_role: 'eventsock_api_key_expiry_role', aws_iam_role_policy: 'eventsock_api_key_expiry_policy' }[type]!;
      const r = main.resource[type][id];
      expect([type, evaluate(on, bare(r.count))]).toEqual([type, 0]);
      expect([type, evaluate([...on, 'auth={ api_key = {} }'], bare(r.count))]).toEqual([type, 1]);
      expect([type, evaluate(['auth={ api_key = {} }', 'alarms={ enabled = false }'], bare(r.count))]).toEqual([type, 0]);
    }
    const schedule = main.resource.aws_scheduler_schedule.eventsock_api_key_expiry_schedule;
    const at = (vars: string[], now: string) => evaluate(vars, bare(schedule.schedule_expression).replace(/plantimestamp\(\)/g, JSON.stringify(now)));
    // 30 days before a 365-day key lapses; half the lifetime for short ones.
    expect(at(['auth={ api_key = {} }'], '2026-12-06T13:45:10Z')).toBe('at(2027-11-06T00:00:00)');
    expect(at(['auth={ api_key = { lifetime_days = 10 } }'], '2026-12-06T13:45:10Z')).toBe('at(2026-12-11T00:00:00)');
    expect(at(['auth={ api_key = { lifetime_days = 2 } }'], '2026-12-06T23:59:59Z')).toBe('at(2026-12-07T00:00:00)');
    const alarm = main.resource.aws_cloudwatch_metric_alarm.eventsock_alarm_api_key_expiry;
    expect(alarm.alarm_actions).toBe('${var.alarms.sns_topic_arns}');
    expect(evaluate(['auth={ api_key = { lifetime_days = 10 } }'], JSON.stringify(alarm.alarm_description).replace(/^"|"$/g, '"'))).toMatch(/expires in 5 days or less/);
    expect(outputs.appsync_api_key_expires.value).toBe('${try(aws_appsync_api_key.eventsock_api_key[0].expires, "")}');
  });

  it('refuses bad auth settings naming the field', () => {
    const bad: Array<[string, RegExp]> = [
      ['auth={ api_key = { lifetime_days = 1 } }', /auth\.api_key\.lifetime_days must be a whole number between 2 and 365/],
      ['auth={ api_key = { lifetime_days = 366 } }', /auth\.api_key\.lifetime_days/],
      ['auth={ api_key = { lifetime_days = 30.5 } }', /auth\.api_key\.lifetime_days/],
      ['auth={ api_key = { description = "" } }', /auth\.api_key\.lifetime_days must be a whole number between 2 and 365; description a non-empty string/],
      ['auth={ open_id_connect = { issuer = "http://id.example.com" } }', /auth\.open_id_connect\.issuer must be an https:\/\/ URL/],
      ['auth={ open_id_connect = { issuer = "https://id.example.com", iat_ttl_seconds = -1 } }', /auth\.open_id_connect\.issuer must be/],
      ['auth={ cognito = { user_pool_id = "p", aws_region = "Europe" } }', /auth\.cognito\.user_pool_id must be non-empty, aws_region an AWS region/],
      ['namespaces={ default = { subscribe_auth_modes = ["AWS_IAM", "AWS_IAM"] } }', /must not be empty or list a mode twice/],
      ['namespaces={ default = { subscribe_auth_modes = ["BASIC"] } }', /may only hold AWS_LAMBDA, AWS_IAM, API_KEY/],
    ];
    for (const [v, msg] of bad) {
      // Terraform wraps long messages: compare with the line breaks folded.
      const out = tfConsole(localsDir, [v], 'var.name').out.replace(/\s+/g, ' ');
      expect([v, out]).toEqual([v, expect.stringMatching(msg)]);
    }
    expect(tfConsole(localsDir, [all], 'var.name').out).toBe('"eventsock"');
  });

  it('agrees with core/config.ts on regions', () => {
    for (const r of ['eu-west-1', 'us-gov-west-1', 'Europe', 'eu-west', 'eu-west-12']) {
      let ok = true;
      try {
        resolveConfig({ auth: { cognito: { userPoolId: 'p', awsRegion: r } } });
      } catch {
        ok = false;
      }
      expect([r, new RegExp(AWS_REGION_REGEX).test(r)]).toEqual([r, ok]);
    }
  });

  it('refuses at plan a namespace mode that var.auth does not configure, and plans it when it does', () => {
    expect(main.resource.aws_appsync_channel_namespace.eventsock_namespace.lifecycle.precondition).toContainEqual(NAMESPACE_AUTH_PRECONDITION);
    const dir = planDir(mod.dir);
    terraform(dir, ['init', '-input=false', '-no-color', '-backend=false']);
    const ns = 'namespaces={ default = {}, kiosk = { subscribe_auth_modes = ["API_KEY"] } }';
    const refused = plan(dir, [ns]);
    expect([refused.status, refused.out]).toEqual([1, expect.stringContaining('a namespace lists an auth mode that var.auth does not configure')]);
    const planned = plan(dir, [ns, 'auth={ api_key = {} }']);
    expect([planned.status, planned.out]).toEqual([0, expect.stringContaining('2 to add')]);
  });
});

describe('module presence checks', () => {
  const room = 'namespaces={ default = {}, room = { presence = true } }';
  const configError = (config: Parameters<typeof resolveConfig>[0]) => {
    try {
      resolveConfig(config);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('refuses at plan, as resolveConfig does, a presence namespace without the publish URL or the history URL', () => {
    expect(main.resource.aws_appsync_channel_namespace.eventsock_namespace.lifecycle.precondition).toContainEqual(NAMESPACE_PRESENCE_PRECONDITION);
    const dir = planDir(mod.dir);
    terraform(dir, ['init', '-input=false', '-no-color', '-backend=false']);
    const noPublish = plan(dir, [room, 'publish={ http_endpoint = false }']);
    expect([noPublish.status, noPublish.out]).toEqual([1, expect.stringContaining('a namespace with presence needs publish.http_endpoint = true')]);
    expect(configError({ namespaces: { default: {}, room: { presence: true } }, publish: { httpEndpoint: false } })).toMatch(/needs publish.httpEndpoint/);
    const noHistory = plan(dir, [room, 'history={ enabled = false }']);
    expect([noHistory.status, noHistory.out]).toEqual([1, expect.stringContaining('history.enabled = true')]);
    expect(configError({ namespaces: { default: {}, room: { presence: true } }, history: { enabled: false } })).toMatch(/needs history.enabled/);
    // Without presence the same switches plan; with both URLs presence plans.
    expect(plan(dir, ['publish={ http_endpoint = false }', 'history={ enabled = false }']).status).toBe(0);
    const planned = plan(dir, [room]);
    expect([planned.status, planned.out]).toEqual([0, expect.stringContaining('2 to add')]);
  });

  it('refuses presence_events without presence, as resolveConfig does', () => {
    const dir = planDir(mod.dir);
    terraform(dir, ['init', '-input=false', '-no-color', '-backend=false']);
    const r = plan(dir, ['namespaces={ room = { presence_events = true } }']);
    expect([r.status, r.out]).toEqual([1, expect.stringContaining('presence_events needs presence = true')]);
    expect(configError({ namespaces: { room: { presenceEvents: true } } })).toMatch(/needs presence: true/);
    expect(plan(dir, ['namespaces={ room = { presence = true, presence_events = true } }']).status).toBe(0);
  });
});

describe('module HS256 key slots', () => {
  const tokenCases: Array<[string[], Parameters<typeof resolveConfig>[0]]> = [
    [[], {}],
    [['name=shop', 'tokens={ hs256_keys = [{ kid = "2025-a", parameter_name = "/shared/jwt/a" }, { kid = "2025-b" }] }'], { name: 'shop', tokens: { hs256Keys: [{ kid: '2025-a', parameterName: '/shared/jwt/a' }, { kid: '2025-b' }] } }],
    [['tokens={ algorithms = ["RS256"], jwks_url = "https://id.example.com/jwks.json" }'], { tokens: { algorithms: ['RS256'], jwksUrl: 'https://id.example.com/jwks.json' } }],
  ];

  it('computes the same token settings as the stack, given, generated or absent', () => {
    for (const [vars, config] of tokenCases) {
      const expected = runtimeSettings(resolveConfig(config), { eventApiHttpHost: '', region: '' }).tokens;
      expect([vars, evaluate(vars, 'local.token_settings')]).toEqual([vars, expected]);
    }
  });

  it('generates a secret only for the slots without a parameter name', () => {
    const ssm = main.resource.aws_ssm_parameter.eventsock_token_secret;
    const pw = main.resource.random_password.eventsock_token_secret_value;
    expect(pw.for_each).toBe(ssm.for_each);
    expect(ssm.value).toBe('${random_password.eventsock_token_secret_value[each.key].result}');
    expect(ssm.type).toBe('SecureString');
    for (const [vars, config] of tokenCases) {
      const r = resolveConfig(config);
      const expected = Object.fromEntries(r.tokens.hs256Keys.filter((k) => k.generated).map((k) => [k.kid, { kid: k.kid, parameter_name: k.parameterName, generated: true }]));
      expect([vars, evaluate(vars, bare(ssm.for_each))]).toEqual([vars, expected]);
    }
    for (const fn of ['authorizer', 'publish', 'history']) expect(main.resource.aws_lambda_function[`eventsock_${fn}`].depends_on).toContain('aws_ssm_parameter.eventsock_token_secret');
  });

  it('lets the authorizer, publish (client tokens) and history read every slot\'s parameter, and leaves the statement out without HS256', () => {
    for (const fn of ['authorizer', 'publish', 'history']) {
      const policy = main.resource.aws_iam_role_policy[`eventsock_${fn}_policy`].policy as string;
      expect(policy).toContain('%{ if length(local.token_secret_arns) > 0 },{"Effect":"Allow","Sid":"ReadTokenSecrets","Action":"ssm:GetParameter","Resource":${jsonencode(local.token_secret_arns)}}%{ endif }');
    }
    expect(main.locals.token_secret_arns).toBe(
      '${[for k in local.hs256_keys : "arn:${data.aws_arn.eventsock_account.partition}:ssm:${data.aws_arn.eventsock_account.region}:${data.aws_arn.eventsock_account.account}:parameter${k.parameter_name}"]}',
    );
    expect(evaluate(tokenCases[1][0], '[for k in local.hs256_keys : k.parameter_name]')).toEqual(['/shared/jwt/a', '/shop/token-secret/2025-b']);
    expect(evaluate(tokenCases[2][0], 'local.hs256_keys')).toEqual([]);
    expect(outputs.token_secret_parameter_names.value).toBe('${[for k in local.hs256_keys : k.parameter_name]}');
    expect(outputs.token_secret_kids.value).toBe('${[for k in local.hs256_keys : k.kid]}');
    expect(outputs.token_secrets).toEqual({ description: expect.any(String), sensitive: true, value: '${[for kid, p in aws_ssm_parameter.eventsock_token_secret : p.value]}' });
  });

  it('refuses bad key slots naming tokens.hs256_keys', () => {
    const bad: Array<[string, RegExp]> = [
      ['tokens={ hs256_keys = [{ kid = "a" }, { kid = "b" }, { kid = "c" }] }', /tokens\.hs256_keys must hold at most 2 keys/],
      ['tokens={ hs256_keys = [{ kid = "a" }, { kid = "a" }] }', /tokens\.hs256_keys must hold at most 2 keys with distinct kids/],
      ['tokens={ hs256_keys = [{ kid = "has space" }] }', /tokens\.hs256_keys must hold/],
      ['tokens={ hs256_keys = [{ kid = "a", parameter_name = "no-slash" }] }', /parameter_name an SSM parameter name/],
      ['tokens={ hs256_keys = [] }', /tokens\.hs256_keys must hold at least one key when HS256 is allowed/],
    ];
    for (const [v, msg] of bad) {
      const out = tfConsole(localsDir, [v], 'var.name').out.replace(/\s+/g, ' ');
      expect([v, out]).toEqual([v, expect.stringMatching(msg)]);
    }
    const tokensBad: Array<[string, RegExp]> = [
      ['tokens={ max_token_age_seconds = 0 }', /tokens\.max_token_age_seconds must be a whole number between 1 and 31536000/],
      ['tokens={ clock_tolerance_seconds = 301 }', /clock_tolerance_seconds between 0 and 300/],
      ['tokens={ secrets_cache_seconds = 1.5 }', /secrets_cache_seconds between 0 and 3600/],
      ['tokens={ issuer = [] }', /tokens\.issuer and tokens\.audience must be non-empty lists/],
      ['tokens={ audience = [""] }', /tokens\.issuer and tokens\.audience must be non-empty lists/],
      ['tokens={ algorithms = ["ES256"], jwks = [{ kty = "EC", d = "secret" }] }', /tokens\.jwks must be a non-empty list of public JWKs/],
      ['tokens={ algorithms = ["ES256"], jwks = [{ crv = "P-256" }] }', /each with kty/],
      ['tokens={ algorithms = ["ES256"], jwks_url = "https://" }', /tokens\.jwks_url must be an https:\/\/ URL/],
    ];
    for (const [v, msg] of tokensBad) {
      const out = tfConsole(localsDir, [v], 'var.name').out.replace(/\s+/g, ' ');
      expect([v, out]).toEqual([v, expect.stringMatching(msg)]);
    }
    for (const v of ['tokens={ max_token_age_seconds = 600, clock_tolerance_seconds = 0, secrets_cache_seconds = 3600, issuer = ["a"], audience = ["b"] }', 'tokens={ algorithms = ["ES256"], jwks = [{ kty = "EC", crv = "P-256", x = "x", y = "y" }] }']) {
      expect([v, tfConsole(localsDir, [v], 'var.name').out]).toEqual([v, '"eventsock"']);
    }
    // Core accepts the same boundary cases.
    expect(() => resolveConfig({ tokens: { hs256Keys: [{ kid: 'a' }, { kid: 'a' }] } })).toThrow(/kid a is used twice/);
    expect(() => resolveConfig({ tokens: { hs256Keys: [] } })).toThrow(/at least one key/);
    expect(tfConsole(localsDir, ['tokens={ algorithms = ["RS256"], jwks_url = "https://x.example.com/j", hs256_keys = [] }'], 'var.name').out).toBe('"eventsock"');
  });
});
