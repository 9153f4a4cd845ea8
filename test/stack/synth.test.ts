import { TerraformStack, Testing } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest';
import { AppsyncApi } from '@cdktf/provider-aws/lib/appsync-api';
import { AppsyncChannelNamespace } from '@cdktf/provider-aws/lib/appsync-channel-namespace';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaFunctionUrl } from '@cdktf/provider-aws/lib/lambda-function-url';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { Password } from '@cdktf/provider-random/lib/password';
import { resolveConfig, runtimeSettings, type EventsockConfig } from '../../functions/core/config';
import { ConfigError } from '../../functions/core/errors';
import { LIMITS } from '../../functions/core/limits';
import { TABLES } from '../../functions/core/tables';
import { TOKEN_VALIDATION_EXPRESSION } from '../../functions/core/token-format';
import projectConfig from '../../eventsock.config';
import { checkNamespaceHandlers, Eventsock, readNamespaceHandlers } from '../../modules/eventsock';
import { namespaceHandlerCode, namespaceHandlerSettings } from '../../functions/namespace/code';
import { parseTemplateJson, PASS_THROUGH, resources, synthStack } from './synth-support';

Testing.setupJest();

describe('Eventsock stack, default config', () => {
  const { json, tf } = synthStack({});

  it('creates an Event API with the Lambda authorizer and IAM, and logging', () => {
    expect(json).toHaveResourceWithProperties(AppsyncApi, {
      name: 'eventsock',
      event_config: [
        expect.objectContaining({
          auth_provider: [
            { auth_type: 'AWS_LAMBDA', lambda_authorizer_config: [{ authorizer_uri: '${aws_lambda_function.eventsock_authorizer.arn}', authorizer_result_ttl_in_seconds: 0, identity_validation_expression: TOKEN_VALIDATION_EXPRESSION }] },
            { auth_type: 'AWS_IAM' },
          ],
          connection_auth_mode: [{ auth_type: 'AWS_LAMBDA' }, { auth_type: 'AWS_IAM' }],
          default_publish_auth_mode: [{ auth_type: 'AWS_IAM' }],
          default_subscribe_auth_mode: [{ auth_type: 'AWS_LAMBDA' }, { auth_type: 'AWS_IAM' }],
          log_config: [{ cloudwatch_logs_role_arn: '${aws_iam_role.eventsock_appsync_logs_role.arn}', log_level: 'ERROR' }],
        }),
      ],
    });
  });

  it('creates one channel namespace, default, with the handler code and its auth modes', () => {
    const ns = resources(tf, 'aws_appsync_channel_namespace');
    expect(ns).toHaveLength(1);
    expect(ns[0][1]).toMatchObject({
      name: 'default',
      api_id: '${aws_appsync_api.eventsock_api.api_id}',
      code_handlers: PASS_THROUGH.replace('{ namespaces: null, maxDataBytes: 32768 }', JSON.stringify(namespaceHandlerSettings(resolveConfig({})))),
      publish_auth_mode: [{ auth_type: 'AWS_IAM' }],
      subscribe_auth_mode: [{ auth_type: 'AWS_LAMBDA' }, { auth_type: 'AWS_IAM' }],
    });
  });

  it('creates the three functions on arm64 nodejs22.x with the built zip and their settings', () => {
    for (const fn of ['authorizer', 'publish', 'history']) {
      expect(json).toHaveResourceWithProperties(LambdaFunction, {
        function_name: `eventsock-${fn}`,
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        handler: 'index.handler',
        source_code_hash: 'c2FtZS1ieXRlcw==',
        role: `\${aws_iam_role.eventsock_${fn}_role.arn}`,
      });
    }
    const fns = Object.fromEntries(resources(tf, 'aws_lambda_function'));
    expect(fns.eventsock_publish.filename).toMatch(/^assets\/publish_zip\/.+\/fn\.zip$/);
  });

  it('passes RuntimeSettings as EVENTSOCK_SETTINGS: the host from the dns map for publish, empty for the authorizer', () => {
    const fns = Object.fromEntries(resources(tf, 'aws_lambda_function')) as Record<string, { environment: { variables: Record<string, string> } }>;
    const expected = runtimeSettings(resolveConfig({}), { eventApiHttpHost: 'HOST', region: 'REGION' });
    const pub = parseTemplateJson(fns.eventsock_publish.environment.variables.EVENTSOCK_SETTINGS);
    expect(pub).toEqual({ ...expected, eventApiHttpHost: '${aws_appsync_api.eventsock_api.dns["HTTP"]}', region: '${data.aws_arn.eventsock_account.region}' });
    const auth = parseTemplateJson(fns.eventsock_authorizer.environment.variables.EVENTSOCK_SETTINGS);
    expect(auth).toEqual({ ...expected, eventApiHttpHost: '', region: '' });
  });

  it('serves publish and history on function URLs with auth NONE, CORS on history only by default', () => {
    expect(json).toHaveResourceWithProperties(LambdaFunctionUrl, { function_name: '${aws_lambda_function.eventsock_publish.function_name}', authorization_type: 'NONE' });
    expect(json).toHaveResourceWithProperties(LambdaFunctionUrl, {
      function_name: '${aws_lambda_function.eventsock_history.function_name}',
      authorization_type: 'NONE',
      cors: { allow_origins: ['*'], allow_methods: ['GET'], allow_headers: ['authorization', 'content-type'], max_age: 300 },
    });
    const urls = Object.fromEntries(resources(tf, 'aws_lambda_function_url'));
    expect(urls.eventsock_publish_url.cors).toBeUndefined();
  });

  it('gives the publish Function URL a CORS block for POST when publish.corsAllowedOrigins lists origins', () => {
    const { tf: withOrigins } = synthStack({ publish: { corsAllowedOrigins: ['https://app.example.com', 'http://localhost:5173'] } });
    const urls = Object.fromEntries(resources(withOrigins, 'aws_lambda_function_url')) as Record<string, { cors?: unknown }>;
    expect(urls.eventsock_publish_url.cors).toEqual({ allow_origins: ['https://app.example.com', 'http://localhost:5173'], allow_methods: ['POST'], allow_headers: ['authorization', 'content-type'], max_age: 300 });
    // History keeps its own origins.
    expect(urls.eventsock_history_url.cors).toEqual({ allow_origins: ['*'], allow_methods: ['GET'], allow_headers: ['authorization', 'content-type'], max_age: 300 });
    // An explicit empty list is the default: no CORS block at all.
    const { tf: empty } = synthStack({ publish: { corsAllowedOrigins: [] } });
    expect((Object.fromEntries(resources(empty, 'aws_lambda_function_url')) as Record<string, { cors?: unknown }>).eventsock_publish_url.cors).toBeUndefined();
    // No publish URL, nothing to configure.
    const { tf: off } = synthStack({ publish: { httpEndpoint: false, corsAllowedOrigins: ['*'] } });
    expect(Object.keys(Object.fromEntries(resources(off, 'aws_lambda_function_url')))).toEqual(['eventsock_history_url']);
  });

  it('creates the tables from core/tables.ts, on demand, keyed as the handlers expect', () => {
    for (const t of Object.values(TABLES)) {
      const def = t as { suffix: string; partitionKey: string; sortKey?: string; ttlAttribute: string };
      expect(json).toHaveResourceWithProperties(DynamodbTable, {
        name: `eventsock-${def.suffix}`,
        billing_mode: 'PAY_PER_REQUEST',
        hash_key: def.partitionKey,
        ...(def.sortKey ? { range_key: def.sortKey } : {}),
        ttl: { attribute_name: def.ttlAttribute, enabled: true },
      });
    }
  });

  it('generates the publish API keys and the two HS256 secrets into SSM SecureStrings', () => {
    for (const name of ['/eventsock/publish-api-key/1', '/eventsock/publish-api-key/2', '/eventsock/token-secret/k1', '/eventsock/token-secret/k2']) {
      expect(json).toHaveResourceWithProperties(SsmParameter, { name, type: 'SecureString' });
    }
    expect(resources(tf, 'random_password')).toHaveLength(4);
    expect(json).toHaveResourceWithProperties(Password, { length: 48, special: false });
  });

  it('outputs the endpoints, ids, URLs and parameter names; secrets only as sensitive outputs', () => {
    expect(Object.keys(tf.output).sort()).toEqual(
      [
        'api_arn', 'api_id', 'history_url', 'http_endpoint', 'http_host', 'publish_api_key_parameter_names', 'publish_api_keys', 'publish_function_arn',
        'publish_function_name', 'publish_url', 'realtime_endpoint', 'realtime_host', 'table_names', 'token_secret_kids', 'token_secret_parameter_names', 'token_secrets',
      ].sort(),
    );
    expect(tf.output.http_endpoint.value).toBe('https://${aws_appsync_api.eventsock_api.dns["HTTP"]}/event');
    expect(tf.output.realtime_endpoint.value).toBe('wss://${aws_appsync_api.eventsock_api.dns["REALTIME"]}/event/realtime');
    expect(tf.output.publish_url.value).toBe('${aws_lambda_function_url.eventsock_publish_url.function_url}publish');
    expect(tf.output.history_url.value).toBe('${aws_lambda_function_url.eventsock_history_url.function_url}history');
    for (const [name, o] of Object.entries(tf.output)) {
      const carriesSecret = JSON.stringify(o.value).includes('aws_ssm_parameter.') && JSON.stringify(o.value).includes('.value');
      expect([name, Boolean(o.sensitive)]).toEqual([name, carriesSecret]);
    }
  });

  it('relaxes the provider pin of the prebuilt bindings', () => {
    expect(tf.terraform.required_providers).toMatchObject({ aws: { version: '>= 6.29, < 7.0' }, random: { version: '>= 3.6, < 4.0' } });
  });
});

describe('Eventsock stack, project config and options', () => {
  it('gives clientPublish namespaces AWS_LAMBDA publish (the project config has chat)', () => {
    const { tf } = synthStack(projectConfig);
    const ns = Object.fromEntries(resources(tf, 'aws_appsync_channel_namespace').map(([, r]) => [r.name, r]));
    expect(Object.keys(ns).sort()).toEqual(['chat', 'default']);
    expect(ns.chat.publish_auth_mode).toEqual([{ auth_type: 'AWS_IAM' }, { auth_type: 'AWS_LAMBDA' }]);
    expect(ns.default.publish_auth_mode).toEqual([{ auth_type: 'AWS_IAM' }]);
  });

  it('adds API_KEY, OIDC and Cognito providers and connection modes when configured', () => {
    const { json, tf } = synthStack({
      auth: { apiKey: { lifetimeDays: 30 }, openIdConnect: { issuer: 'https://id.example.com', clientId: 'web' }, cognito: { userPoolId: 'eu-west-1_abc', awsRegion: 'eu-west-1' } },
      namespaces: { default: { subscribeAuthModes: ['AWS_LAMBDA', 'OPENID_CONNECT'] } },
    });
    const api = resources(tf, 'aws_appsync_api')[0][1] as { event_config: Array<{ auth_provider: Array<Record<string, unknown>>; connection_auth_mode: unknown }> };
    expect(api.event_config[0].auth_provider.map((p) => p.auth_type)).toEqual(['AWS_LAMBDA', 'AWS_IAM', 'API_KEY', 'OPENID_CONNECT', 'AMAZON_COGNITO_USER_POOLS']);
    expect(api.event_config[0].auth_provider[3]).toMatchObject({ openid_connect_config: [{ issuer: 'https://id.example.com', client_id: 'web' }] });
    expect(api.event_config[0].auth_provider[4]).toMatchObject({ cognito_config: [{ user_pool_id: 'eu-west-1_abc', aws_region: 'eu-west-1' }] });
    expect(api.event_config[0].connection_auth_mode).toHaveLength(5);
    expect(resources(tf, 'aws_appsync_channel_namespace')[0][1].subscribe_auth_mode).toEqual([{ auth_type: 'AWS_LAMBDA' }, { auth_type: 'OPENID_CONNECT' }]);
    const key = resources(tf, 'aws_appsync_api_key')[0][1] as { expires: string; lifecycle?: unknown };
    // Renewed by every apply (test/stack/api-key.test.ts evaluates it): no ignore_changes.
    expect(key.expires).toBe('${timeadd(formatdate("YYYY-MM-DD\'T\'00:00:00Z", plantimestamp()), "${(30) * 24}h")}');
    expect(key.lifecycle).toBeUndefined();
    expect(JSON.parse(json).output.appsync_api_key.sensitive).toBe(true);
  });

  it('leaves out the function URLs when the publish endpoint and history are off', () => {
    const { tf } = synthStack({ publish: { httpEndpoint: false }, history: { enabled: false } });
    expect(resources(tf, 'aws_lambda_function_url')).toHaveLength(0);
    expect(resources(tf, 'aws_lambda_permission').map(([id]) => id)).toEqual(['eventsock_authorizer_invoke']);
    expect(tf.output.publish_url.value).toBe('');
  });

  it('uses given SSM parameters instead of generating them, and grants read on exactly those', () => {
    const { tf } = synthStack({
      tokens: { hs256Keys: [{ kid: 'main', parameterName: '/corp/jwt/main' }] },
      publish: { apiKeyParameterNames: ['/corp/pub/a', '/corp/pub/b'] },
    });
    expect(resources(tf, 'aws_ssm_parameter')).toHaveLength(0);
    expect(resources(tf, 'random_password')).toHaveLength(0);
    const pol = Object.fromEntries(resources(tf, 'aws_iam_role_policy').map(([id, r]) => [id, JSON.parse(r.policy as string)]));
    const ssm = (id: string) => pol[id].Statement.find((s: { Action: string }) => s.Action === 'ssm:GetParameter').Resource;
    const acct = '${data.aws_arn.eventsock_account.partition}:ssm:${data.aws_arn.eventsock_account.region}:${data.aws_arn.eventsock_account.account}';
    expect(ssm('eventsock_authorizer_policy')).toEqual([`arn:${acct}:parameter/corp/jwt/main`]);
    expect(ssm('eventsock_publish_policy')).toEqual([`arn:${acct}:parameter/corp/pub/a`, `arn:${acct}:parameter/corp/pub/b`]);
    expect(tf.output.token_secrets.value).toEqual([]);
  });

  it('drops the SSM read from the authorizer when only JWKs are allowed', () => {
    const { tf } = synthStack({ tokens: { algorithms: ['ES256'], jwksUrl: 'https://id.example.com/jwks.json' } });
    const pol = JSON.parse(Object.fromEntries(resources(tf, 'aws_iam_role_policy')).eventsock_authorizer_policy.policy as string);
    expect(pol.Statement.map((s: { Action: unknown }) => s.Action)).toEqual([['logs:CreateLogStream', 'logs:PutLogEvents'], ['dynamodb:GetItem', 'dynamodb:BatchGetItem']]);
  });

  it('applies tags and log retention from the config', () => {
    const { tf } = synthStack({ tags: { team: 'rt' }, logging: { retentionDays: 7, appSyncLogLevel: 'ALL' } });
    for (const [, g] of resources(tf, 'aws_cloudwatch_log_group')) expect(g.retention_in_days).toBe(7);
    for (const [, f] of resources(tf, 'aws_lambda_function')) expect(f.tags).toEqual({ team: 'rt' });
    expect((resources(tf, 'aws_appsync_api')[0][1].event_config as Array<{ log_config: Array<{ log_level: string }> }>)[0].log_config[0].log_level).toBe('ALL');
  });

  it('deploys functions/namespace/handlers.js with the config written into its SETTINGS line', () => {
    const { tf } = synthStack(projectConfig, { namespaceHandlers: readNamespaceHandlers() });
    const expected = namespaceHandlerCode(resolveConfig(projectConfig), readNamespaceHandlers());
    for (const [, ns] of resources(tf, 'aws_appsync_channel_namespace')) {
      // Terraform reads the code as a template: every literal ${ and %{ is escaped.
      expect((ns.code_handlers as string).replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')).toBe(expected);
      expect(ns.code_handlers as string).toContain('"chat":{"clientPublish":true');
    }
  });

  it('escapes ${ in the JavaScript so Terraform does not read it as an interpolation', () => {
    const src = PASS_THROUGH.replace('return ctx.events;', 'const s = `${ctx.info.channel.path}`;\n  return ctx.events;');
    const { tf } = synthStack({}, { namespaceHandlers: src });
    expect(resources(tf, 'aws_appsync_channel_namespace')[0][1].code_handlers).toContain('const s = `$${ctx.info.channel.path}`;');
  });

  it('escapes template syntax in literal config values inside the settings JSON', () => {
    const { tf } = synthStack({ tokens: { issuer: 'https://id.example.com/${tenant}' } });
    const fn = Object.fromEntries(resources(tf, 'aws_lambda_function')).eventsock_publish as { environment: { variables: Record<string, string> } };
    expect(fn.environment.variables.EVENTSOCK_SETTINGS).toContain('"issuer":"https://id.example.com/$${tenant}"');
    const tagged = synthStack({ tags: { cost: '100%{off}', ref: '${nope}' } }).tf;
    expect(resources(tagged, 'aws_dynamodb_table')[0][1].tags).toEqual({ cost: '100%%{off}', ref: '$${nope}' });
  });
});

describe('grants', () => {
  it('grantPublish lets a role invoke the publish function; grantEvent* give the Event API actions on this API', () => {
    const { stack } = synthStack({});
    const role = new IamRole(stack, 'svc', { name: 'svc', assumeRolePolicy: '{}' });
    stack.eventsock.grantPublish(role);
    stack.eventsock.grantEventConnect(role);
    stack.eventsock.grantEventSubscribe(role, ['default']);
    stack.eventsock.grantEventPublish(role);
    const tf = JSON.parse(Testing.synth(stack));
    const grants = Object.entries(tf.resource.aws_iam_role_policy as Record<string, { role: string; policy: string }>).filter(([id]) => id.includes('grant_'));
    const stmts = grants.map(([, g]) => ({ role: g.role, ...JSON.parse(g.policy).Statement[0] }));
    expect(stmts).toEqual([
      { role: '${aws_iam_role.svc.name}', Effect: 'Allow', Sid: 'InvokeEventsockPublish', Action: 'lambda:InvokeFunction', Resource: '${aws_lambda_function.eventsock_publish.arn}' },
      { role: '${aws_iam_role.svc.name}', Effect: 'Allow', Sid: 'EventConnect', Action: 'appsync:EventConnect', Resource: '${aws_appsync_api.eventsock_api.api_arn}' },
      { role: '${aws_iam_role.svc.name}', Effect: 'Allow', Sid: 'EventSubscribe', Action: 'appsync:EventSubscribe', Resource: ['${aws_appsync_api.eventsock_api.api_arn}/channelNamespace/default'] },
      { role: '${aws_iam_role.svc.name}', Effect: 'Allow', Sid: 'EventPublish', Action: 'appsync:EventPublish', Resource: ['${aws_appsync_channel_namespace.eventsock_namespace_default.channel_namespace_arn}'] },
    ]);
  });

  it('refuses a grant on a namespace that is not configured', () => {
    const { stack } = synthStack({});
    expect(() => stack.eventsock.grantEventSubscribe({ name: 'r' }, ['nope'])).toThrow(/namespace nope, which is not configured/);
  });
});

describe('invalid input to the construct', () => {
  it('rejects a bad config with an error naming the field', () => {
    const bad: Array<[EventsockConfig, string]> = [
      [{ name: 'has space' }, 'name'],
      [{ namespaces: { 'bad_ns': {} } }, 'namespaces.bad_ns'],
      [{ logging: { retentionDays: 8 } }, 'logging.retentionDays'],
      [{ namespaces: { default: { publishAuthModes: ['AWS_LAMBDA'] } } }, 'namespaces.default.publishAuthModes'],
      [{ tokens: { algorithms: ['RS256'] } }, 'tokens.algorithms'],
      [{ publish: { maxDataBytes: 10_000_000 } }, 'publish.maxDataBytes'],
      [{ history: { corsAllowedOrigins: ['example.com'] } }, 'history.corsAllowedOrigins[0]'],
      [{ publish: { corsAllowedOrigins: ['example.com'] } }, 'publish.corsAllowedOrigins[0]'],
    ];
    for (const [config, field] of bad) {
      let err: unknown;
      try {
        synthStack(config);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe(field);
    }
  });

  it('rejects namespace handler code over the AppSync limit, naming the limit', () => {
    const big = PASS_THROUGH + '//' + 'x'.repeat(LIMITS.namespaceHandlerMaxChars);
    expect(() => synthStack({}, { namespaceHandlers: big })).toThrow(new RegExp(`at most ${LIMITS.namespaceHandlerMaxChars}`));
    expect(() => checkNamespaceHandlers('export const x = 1;')).toThrow(/neither onPublish nor onSubscribe/);
    expect(() => checkNamespaceHandlers('  ')).toThrow(/is empty/);
    expect(() => checkNamespaceHandlers('export function onPublish(ctx) { return ctx.events; }')).toThrow(/@eventsock:settings/);
    // The limit also holds after the config is written in.
    const nearly = PASS_THROUGH + '//' + 'x'.repeat(LIMITS.namespaceHandlerMaxChars - PASS_THROUGH.length - 10) + '\n';
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`ns-${i}`, {}]));
    expect(() => synthStack({ namespaces: { default: {}, ...many } }, { namespaceHandlers: nearly })).toThrow(/at most 32768/);
  });

  it('names the function whose built zip is missing', () => {
    const stack = new TerraformStack(Testing.app(), 's');
    const code = { filename: 'a.zip', sourceCodeHash: 'x' };
    expect(() => new Eventsock(stack, 'eventsock', { config: {}, code: { authorizer: code, publish: code } as never, namespaceHandlers: PASS_THROUGH })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', field: 'code.history' }),
    );
  });

  it('reads the project handler file and names it when it is missing', () => {
    expect(readNamespaceHandlers()).toMatch(/export function onPublish/);
    expect(() => readNamespaceHandlers('/nonexistent-root')).toThrow(/cannot read functions\/namespace\/handlers\.js/);
  });
});
