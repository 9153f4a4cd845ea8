/**
 * The Eventsock construct: an AppSync Event API with the Eventsock authorizer,
 * the publish and history functions, their tables and secrets, in one CDKTF
 * construct (hashicorp/aws 6.x). `main.ts` uses it with the project config;
 * `export-module.ts` uses it with Terraform variables to write the standalone module.
 *
 * Usage:
 *   const es = new Eventsock(stack, 'eventsock', { config, code });
 *   es.grantPublish(myServiceRole);        // invoke the publish API with IAM
 *   es.grantEventSubscribe(workerRole);    // use the Event API with IAM directly
 */
import { Construct } from 'constructs';
import { Fn, TerraformIterator, TerraformOutput, Token, type TerraformElement } from 'cdktf';
import { AppsyncApi, type AppsyncApiEventConfigAuthProvider } from '@cdktf/provider-aws/lib/appsync-api';
import { AppsyncChannelNamespace } from '@cdktf/provider-aws/lib/appsync-channel-namespace';
import { AppsyncDatasource } from '@cdktf/provider-aws/lib/appsync-datasource';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsArn } from '@cdktf/provider-aws/lib/data-aws-arn';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaFunctionUrl } from '@cdktf/provider-aws/lib/lambda-function-url';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { Password } from '@cdktf/provider-random/lib/password';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuthMode, type EventsockConfig, PRESENCE_SWEEP, type ResolvedConfig, resolveConfig, runtimeSettings, SETTINGS_ENV } from '../functions/core/config';
import { ConfigError } from '../functions/core/errors';
import { hasOwnKey } from '../functions/core/own';
import { LIMITS } from '../functions/core/limits';
import { TOKEN_VALIDATION_EXPRESSION } from '../functions/core/token-format';
import { MESSAGES_BY_NAMESPACE, TABLES, type TableDefinition, type TableName, tableName } from '../functions/core/tables';
import { namespaceHandlerCode, namespaceHandlerConfigs, namespaceHandlerSettings, SETTINGS_LINE_RE, SOCKET_PUBLISH_DATA_SOURCE } from '../functions/namespace/code';
import { FUNCTIONS, FUNCTION_NAMES, type FunctionName, LAMBDA_ARCHITECTURE, LAMBDA_HANDLER, LAMBDA_RUNTIME, NAMESPACE_HANDLERS_FILE } from './functions';
import { EventsockApiKey } from './api-key';
import { ALARM_PERIOD_SECONDS, ALARM_THRESHOLD, alarmDescriptions, alarmMetricNamespace, api5xxDescription, PUBLISH_FAILURES, publishFailuresDescription, SECRET_UNAVAILABLE } from './alarms';
import { APPSYNC_ASSUME_ROLE, appsyncAssumeRoleFor, escapeTemplate, LAMBDA_ASSUME_ROLE, policyDocument, resourceList, type Statement } from './policy';

/** Where a function's zip is and its base64 SHA-256 (`source_code_hash`). */
export interface LambdaCode {
  filename: string;
  sourceCodeHash: string;
}

/**
 * Values that come from Terraform variables instead of the config (the module
 * export). Strings and numbers are cdktf tokens; `namespaces` and `tokens` are HCL
 * expressions (without `${}`) for RuntimeSettings' `namespaces` and `tokens`.
 */
export interface EventsockVariables {
  name: string;
  defaultNamespace: string;
  /** HCL map expression: namespace name => RuntimeSettings namespace object (camelCase). */
  namespaces: string;
  /** HCL object expression: RuntimeSettings `tokens`. */
  tokens: string;
  retentionDays: number;
  tags: Record<string, string>;
  authorizerResultTtlSeconds: number;
  /** HCL object expression: RuntimeSettings `publish`. Default: from the config. */
  publish?: string;
  /** HCL object expression: RuntimeSettings `history`. Default: from the config. */
  history?: string;
  /** HCL object expression: RuntimeSettings `presence`. Default: from the config. */
  presence?: string;
  /** HCL number expression: minutes between presence sweeps. Default: from the config. */
  sweepMinutes?: string;
  /** HCL number expression: the namespace handlers' data size limit. Default: from the config. */
  maxDataBytes?: string;
  /** EventBridge bus name (a token). Default: from the config. */
  eventBusName?: string;
  /** AppSync log level (a token). Default: from the config. */
  appSyncLogLevel?: string;
}

export interface EventsockProps {
  /** The project config; validated here, errors name the field. */
  config: EventsockConfig;
  /** The built zip of each function (modules/build-functions.ts). */
  code: Record<FunctionName, LambdaCode>;
  /**
   * APPSYNC_JS source for every namespace, with its `// @eventsock:settings` line; the
   * config's namespace settings are written into that line. Default: functions/namespace/handlers.js.
   */
  namespaceHandlers?: string;
  /** Module export only: take these values from Terraform variables. */
  variables?: EventsockVariables;
  /** AWS provider >= 6.29 understands `invoked_via_function_url` (see functionUrl()). Default: true. */
  scopeFunctionUrlInvoke?: boolean;
}

/** A role to grant to: anything with the role's name, such as an `IamRole`. */
export interface Grantee {
  name: string;
}

// A name no real config uses; resolveConfig derives parameter and table names from it and
// they are rewritten to the real (possibly Terraform-variable) name afterwards, so default
// names are defined once, in core/config.ts.
const NAME_PLACEHOLDER = 'ESNAMEPLACEHOLDER7Q';

function replaceDeep<T>(value: T, from: string, to: string): T {
  return JSON.parse(JSON.stringify(value).split(from).join(to.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))) as T;
}

/** Reads and checks the APPSYNC_JS handler file. Errors name the file and the limit. */
export function readNamespaceHandlers(root: string = join(__dirname, '..')): string {
  const path = join(root, NAMESPACE_HANDLERS_FILE);
  let code: string;
  try {
    code = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError('namespaceHandlers', `cannot read ${NAMESPACE_HANDLERS_FILE} (the APPSYNC_JS onPublish/onSubscribe handlers every namespace deploys)`);
  }
  return checkNamespaceHandlers(code, NAMESPACE_HANDLERS_FILE);
}

export function checkNamespaceHandlers(code: string, source = 'namespaceHandlers'): string {
  if (code.trim().length === 0) throw new ConfigError('namespaceHandlers', `${source} is empty`);
  if (code.length > LIMITS.namespaceHandlerMaxChars) {
    throw new ConfigError('namespaceHandlers', `${source} has ${code.length} characters; AppSync allows at most ${LIMITS.namespaceHandlerMaxChars} per namespace`);
  }
  if (!/\bexport\s+function\s+onPublish\b|\bexport\s+function\s+onSubscribe\b/.test(code)) {
    throw new ConfigError('namespaceHandlers', `${source} exports neither onPublish nor onSubscribe`);
  }
  if ((code.match(new RegExp(SETTINGS_LINE_RE.source, 'gm')) ?? []).length !== 1) {
    throw new ConfigError('namespaceHandlers', `${source} must hold exactly one \`const SETTINGS = ...; // @eventsock:settings\` line`);
  }
  return code;
}

/**
 * The namespace handler code as a Terraform string: Terraform reads `${` and `%{` in
 * any string as template syntax, so the JavaScript is escaped. With module variables
 * the SETTINGS line becomes a jsonencode() of the namespaces Terraform resolves.
 */
function namespaceCode(resolved: ResolvedConfig, source: string, vars: EventsockVariables | undefined): string {
  if (!vars) return escapeTemplate(namespaceHandlerCode(resolved, source));
  // The per-namespace fields the handler reads, derived from the function that writes them.
  const sample = namespaceHandlerSettings(resolved);
  const nsFields = Object.keys(Object.values(sample.namespaces)[0] ?? {});
  const perNs = nsFields.map((f) => `${f} = v.${f}`).join(', ');
  const expr = `{ namespaces = { for k, v in ${vars.namespaces} : k => { ${perNs} } }, maxDataBytes = ${vars.maxDataBytes ?? sample.maxDataBytes} }`;
  return escapeTemplate(source).replace(SETTINGS_LINE_RE, () => `const SETTINGS = \${jsonencode(${expr})}; // @eventsock:settings`);
}

export class Eventsock extends Construct {
  readonly config: ResolvedConfig;
  readonly api: AppsyncApi;
  readonly functions: Record<FunctionName, LambdaFunction>;
  readonly roles: Record<FunctionName, IamRole>;
  readonly tables: Record<TableName, DynamodbTable>;
  /** Channel namespace resources (one with for_each in the module export). */
  readonly namespaces: AppsyncChannelNamespace[];
  /** The socket-publish function as the Event API's Lambda data source, and the role AppSync invokes it with. */
  readonly socketPublishDataSource: AppsyncDatasource;
  readonly socketPublishDataSourceRole: IamRole;
  readonly publishUrl?: LambdaFunctionUrl;
  readonly historyUrl?: LambdaFunctionUrl;
  /** The API's HTTP and realtime host names (from its `dns` map). */
  readonly httpHost: string;
  readonly realtimeHost: string;
  /** SSM parameter names: the two publish API keys and the HS256 token secrets. */
  readonly apiKeyParameterNames: [string, string];
  readonly tokenSecretParameterNames: string[];
  /**
   * CloudWatch alarms by logical name (`authorizer_errors`, `publish_failures`, `api_5xx`, ...);
   * empty when `alarms.enabled` is false. The log metric filters feeding some of them are in `metricFilters`.
   */
  readonly alarms: Record<string, CloudwatchMetricAlarm> = {};
  readonly metricFilters: Record<string, CloudwatchLogMetricFilter> = {};
  /** The AppSync API key, its expiry alarm and schedule (auth.apiKey set). */
  apiKey?: EventsockApiKey;
  /** The presence sweep's schedule (a namespace with presence; always in the module export, disabled there when none has it). */
  presenceSweep?: CloudwatchEventRule;

  private readonly prefix: string;
  private readonly tags: Record<string, string>;
  private readonly namespaceArns: string | string[];
  private grants = 0;

  constructor(scope: Construct, id: string, props: EventsockProps) {
    super(scope, id);
    const vars = props.variables;
    // Validate with a placeholder name when the real one is a Terraform variable.
    const input = vars ? { ...props.config, name: NAME_PLACEHOLDER } : props.config;
    const resolved = resolveConfig(input);
    const name = vars ? vars.name : resolved.name;
    this.config = replaceDeep(resolved, NAME_PLACEHOLDER, name);
    const cfg = this.config;
    const handlersSource = props.namespaceHandlers !== undefined ? checkNamespaceHandlers(props.namespaceHandlers) : readNamespaceHandlers();
    const handlersCode = namespaceCode(resolved, handlersSource, vars);
    for (const fn of FUNCTION_NAMES) {
      const c = props.code?.[fn];
      if (!c || !c.filename || !c.sourceCodeHash) throw new ConfigError(`code.${fn}`, `needs filename and sourceCodeHash of the built zip (run npm run build)`);
    }
    this.prefix = id.replace(/[^A-Za-z0-9_]/g, '_');
    // Literal tag text must not be read as Terraform template syntax.
    this.tags = vars ? vars.tags : Object.fromEntries(Object.entries(cfg.tags).map(([k, v]) => [escapeTemplate(k), escapeTemplate(v)]));
    const retentionDays = vars ? vars.retentionDays : cfg.logging.retentionDays;
    const tags = this.tags;

    // --- secrets: SSM SecureStrings, generated unless the config names existing parameters.
    const secret = (logical: string, parameterName: string, description: string) => {
      const pw = this.named(new Password(this, `${logical}_value`, { length: 48, special: false }), `${logical}_value`);
      return this.named(
        new SsmParameter(this, logical, { name: parameterName, type: 'SecureString', value: pw.result, description, tags }),
        logical,
      );
    };
    const apiKeyParams = cfg.publish.apiKeysGenerated
      ? cfg.publish.apiKeyParameterNames.map((n, i) => secret(`publish_api_key_${i + 1}`, n, `Eventsock ${name}: publish API bearer key ${i + 1} of 2`))
      : [];
    const tokenParams = cfg.tokens.hs256Keys
      .filter((k) => k.generated)
      .map((k) => secret(`token_secret_${k.kid.replace(/[^A-Za-z0-9_]/g, '_')}`, k.parameterName, `Eventsock ${name}: HS256 token secret, kid ${k.kid}`));
    this.apiKeyParameterNames = cfg.publish.apiKeyParameterNames;
    this.tokenSecretParameterNames = cfg.tokens.hs256Keys.map((k) => k.parameterName);

    // --- tables
    this.tables = {} as Record<TableName, DynamodbTable>;
    for (const t of Object.keys(TABLES) as TableName[]) {
      const def: TableDefinition = TABLES[t];
      const indexes = def.indexes ?? [];
      const keyNames = [def.partitionKey, def.sortKey, ...indexes.flatMap((ix) => [ix.partitionKey, ix.sortKey])].filter((k): k is string => !!k);
      const attrs = [...new Set(keyNames)].map((n) => ({ name: n, type: 'S' }));
      this.tables[t] = this.named(
        new DynamodbTable(this, `table_${t}`, {
          name: tableName(name, t),
          billingMode: 'PAY_PER_REQUEST',
          hashKey: def.partitionKey,
          rangeKey: def.sortKey,
          attribute: attrs,
          ...(indexes.length > 0
            ? { globalSecondaryIndex: indexes.map((ix) => ({ name: ix.name, hashKey: ix.partitionKey, rangeKey: ix.sortKey, projectionType: 'ALL' })) }
            : {}),
          ttl: { attributeName: def.ttlAttribute, enabled: true },
          pointInTimeRecovery: { enabled: true },
          // Encrypted with the AWS managed key (aws/dynamodb): callers need no kms:Decrypt.
          serverSideEncryption: { enabled: true },
          tags,
        }),
        `table_${t}`,
      );
    }

    // --- roles and log groups, one per function
    this.roles = {} as Record<FunctionName, IamRole>;
    const logGroups = {} as Record<FunctionName, CloudwatchLogGroup>;
    for (const fn of FUNCTION_NAMES) {
      this.roles[fn] = this.named(new IamRole(this, `${fn}_role`, { name: `${name}-${fn}`, assumeRolePolicy: LAMBDA_ASSUME_ROLE, tags }), `${fn}_role`);
      logGroups[fn] = this.named(new CloudwatchLogGroup(this, `${fn}_logs`, { name: `/aws/lambda/${name}-${fn}`, retentionInDays: retentionDays, tags }), `${fn}_logs`);
    }

    // Partition, region and account, read from a resource that exists before any function:
    // the API's own ARN cannot serve, since the API depends on the authorizer.
    const where = this.named(new DataAwsArn(this, 'account', { arn: logGroups.authorizer.arn }), 'account');
    // ARNs of parameters given in the config (not created here) are built from their names.
    const paramArn = (n: string, made: SsmParameter | undefined) => made?.arn ?? `arn:${where.partition}:ssm:${where.region}:${where.account}:parameter${n}`;
    const generatedToken = new Map(cfg.tokens.hs256Keys.filter((k) => k.generated).map((k, i) => [k.kid, tokenParams[i]]));
    const tokenSecretArns = cfg.tokens.hs256Keys.map((k) => paramArn(k.parameterName, generatedToken.get(k.kid)));

    // --- the authorizer first: the API names it as its Lambda auth provider.
    const authorizerSettings = this.settingsJson(resolved, vars, { host: '', region: '' });
    const authorizerPolicy = this.policy('authorizer', [
      this.logStatement(logGroups.authorizer),
      ...(cfg.tokens.hs256Keys.length > 0
        ? [{ Sid: 'ReadTokenSecrets', Action: 'ssm:GetParameter', Resource: tokenSecretArns }]
        : []),
      // Revoked uids / jtis (functions/shared/revocations.ts): reads only.
      { Sid: 'ReadRevocations', Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'], Resource: this.tables.revocations.arn },
    ]);
    const authorizer = this.lambda('authorizer', props.code.authorizer, authorizerSettings, logGroups.authorizer, [authorizerPolicy]);

    // --- the Event API
    const providers: AppsyncApiEventConfigAuthProvider[] = [
      {
        authType: 'AWS_LAMBDA',
        lambdaAuthorizerConfig: [
          {
            authorizerUri: authorizer.arn,
            authorizerResultTtlInSeconds: vars ? vars.authorizerResultTtlSeconds : cfg.authorizerResultTtlSeconds,
            // Junk never invokes the authorizer (#11.5): the service matches every token against it first
            // (LambdaAuthorizerConfig.identityValidationExpression, AppSync API reference; the provider's
            // aws_appsync_api event_config.auth_provider.lambda_authorizer_config.identity_validation_expression).
            identityValidationExpression: escapeTemplate(TOKEN_VALIDATION_EXPRESSION),
          },
        ],
      },
      { authType: 'AWS_IAM' },
    ];
    const enabled: AuthMode[] = ['AWS_LAMBDA', 'AWS_IAM'];
    if (cfg.auth.apiKey) {
      providers.push({ authType: 'API_KEY' });
      enabled.push('API_KEY');
    }
    if (cfg.auth.openIdConnect) {
      const o = cfg.auth.openIdConnect;
      // The config speaks seconds; AppSync's OpenIDConnectConfig takes AuthTTL and IatTTL in
      // milliseconds (AppSync API reference, OpenIDConnectConfig; the provider passes them through).
      const millis = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
      providers.push({
        authType: 'OPENID_CONNECT',
        openidConnectConfig: [{ issuer: escapeTemplate(o.issuer), clientId: o.clientId && escapeTemplate(o.clientId), authTtl: millis(o.authTtlSeconds), iatTtl: millis(o.iatTtlSeconds) }],
      });
      enabled.push('OPENID_CONNECT');
    }
    if (cfg.auth.cognito) {
      const c = cfg.auth.cognito;
      providers.push({
        authType: 'AMAZON_COGNITO_USER_POOLS',
        cognitoConfig: [{ userPoolId: escapeTemplate(c.userPoolId), awsRegion: c.awsRegion, appIdClientRegex: c.appIdClientRegex && escapeTemplate(c.appIdClientRegex) }],
      });
      enabled.push('AMAZON_COGNITO_USER_POOLS');
    }
    const appsyncLogRole = this.named(new IamRole(this, 'appsync_logs_role', { name: `${name}-appsync-logs`, assumeRolePolicy: APPSYNC_ASSUME_ROLE, tags }), 'appsync_logs_role');
    const mode = (m: string) => ({ authType: m });
    this.api = this.named(
      new AppsyncApi(this, 'api', {
        name,
        eventConfig: [
          {
            authProvider: providers,
            connectionAuthMode: enabled.map(mode),
            // Backends publish through the publish API (IAM); namespaces open client publish themselves.
            defaultPublishAuthMode: [mode('AWS_IAM')],
            defaultSubscribeAuthMode: [mode('AWS_LAMBDA'), mode('AWS_IAM')],
            logConfig: [{ cloudwatchLogsRoleArn: appsyncLogRole.arn, logLevel: vars?.appSyncLogLevel ?? cfg.logging.appSyncLogLevel }],
          },
        ],
        tags,
      }),
      'api',
    );
    this.httpHost = this.api.dns.lookup('HTTP');
    this.realtimeHost = this.api.dns.lookup('REALTIME');

    // AppSync writes to the group we create, with retention. Its managed logging policy also
    // calls CreateLogGroup; that is allowed for this one group name only, which already exists.
    const apiLogs = this.named(new CloudwatchLogGroup(this, 'api_logs', { name: `/aws/appsync/apis/${this.api.apiId}`, retentionInDays: retentionDays, tags }), 'api_logs');
    this.named(
      new IamRolePolicy(this, 'appsync_logs_policy', {
        name: 'write-api-logs',
        role: appsyncLogRole.name,
        policy: policyDocument([
          { Sid: 'ApiLogGroup', Action: 'logs:CreateLogGroup', Resource: apiLogs.arn },
          { Sid: 'WriteApiLogs', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${apiLogs.arn}:*` },
        ]),
      }),
      'appsync_logs_policy',
    );

    // Only this API may invoke the authorizer.
    this.named(
      new LambdaPermission(this, 'authorizer_invoke', {
        statementId: 'appsync-invoke-authorizer',
        action: 'lambda:InvokeFunction',
        functionName: authorizer.functionName,
        principal: 'appsync.amazonaws.com',
        sourceArn: this.api.apiArn,
      }),
      'authorizer_invoke',
    );

    if (cfg.auth.apiKey) {
      // Renewed on every apply, with an alarm before it lapses (modules/api-key.ts).
      this.apiKey = new EventsockApiKey(this, {
        name,
        apiId: this.api.apiId,
        description: cfg.auth.apiKey.description !== undefined ? escapeTemplate(cfg.auth.apiKey.description) : `Eventsock ${name}`,
        lifetimeDays: cfg.auth.apiKey.lifetimeDays,
        alarmActions: cfg.alarms.enabled ? cfg.alarms.snsTopicArns : undefined,
        alarmArnPrefix: `arn:${where.partition}:cloudwatch:${where.region}:${where.account}:alarm:`,
        account: where.account,
        tags,
        named: (r, logical) => this.named(r, logical),
      });
      this.output('appsync_api_key', this.apiKey.key.key, 'The AppSync API key (API_KEY auth mode).', true);
      this.output('appsync_api_key_expires', this.apiKey.key.expires, 'When the AppSync API key lapses unless the stack is applied again (RFC 3339).');
    }

    // --- the socket-publish function and its data source (namespaces with socketPublish: 'pipeline')
    const settings = this.settingsJson(resolved, vars, { host: this.httpHost, region: where.region });
    const t = this.tables;
    const pubSubEvents: Statement = { Sid: 'PubSubEvents', Action: 'events:PutEvents', Resource: `arn:${where.partition}:events:${where.region}:${where.account}:event-bus/${vars?.eventBusName ?? escapeTemplate(cfg.publish.eventBusName)}` };
    const tableWrites = {
      // Ids and dedup are conditional single-item writes; a failed delivery deletes what it stored.
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      Resource: [t.messages.arn, t.heads.arn, t.dedup.arn],
    };
    // No appsync:EventPublish (the data-source answer is the delivery), no secrets; EventBridge
    // (the publish function's bus only) for namespaces with socketPublishEvents.
    const socketPolicy = this.policy('socket-publish', [this.logStatement(logGroups['socket-publish']), { Sid: 'OwnTables', ...tableWrites }, pubSubEvents]);
    const socketPublish = this.lambda('socket-publish', props.code['socket-publish'], settings, logGroups['socket-publish'], [socketPolicy]);
    // AppSync assumes this role to invoke the function: trusted for this account's API only
    // (aws:SourceAccount / aws:SourceArn, the confused-deputy conditions), allowed that one function.
    this.socketPublishDataSourceRole = this.named(
      new IamRole(this, 'socket_publish_ds_role', { name: `${name}-socket-publish-ds`, assumeRolePolicy: appsyncAssumeRoleFor(where.account, this.api.apiArn), tags }),
      'socket_publish_ds_role',
    );
    const dsPolicy = this.named(
      new IamRolePolicy(this, 'socket_publish_ds_policy', {
        name: 'invoke-socket-publish',
        role: this.socketPublishDataSourceRole.name,
        policy: policyDocument([{ Sid: 'InvokeSocketPublish', Action: 'lambda:InvokeFunction', Resource: socketPublish.arn }]),
      }),
      'socket_publish_ds_policy',
    );
    // aws_appsync_datasource (terraform-provider-aws): type AWS_LAMBDA, lambda_config { function_arn }, service_role_arn.
    this.socketPublishDataSource = this.named(
      new AppsyncDatasource(this, 'socket_publish_ds', {
        apiId: this.api.apiId,
        name: SOCKET_PUBLISH_DATA_SOURCE,
        description: 'Eventsock socket-publish: client WebSocket publishes through the publish pipeline',
        type: 'AWS_LAMBDA',
        serviceRoleArn: this.socketPublishDataSourceRole.arn,
        lambdaConfig: { functionArn: socketPublish.arn },
        dependsOn: [dsPolicy],
      }),
      'socket_publish_ds',
    );
    const dsName = this.socketPublishDataSource.name;
    // handler_configs as channel_namespace.go spells them: on_publish { behavior, integration { data_source_name, lambda_config { invoke_type } } }.
    const pipelineOnPublish = () => {
      const c = namespaceHandlerConfigs({ socketPublish: 'pipeline' })!.onPublish!;
      return { behavior: c.behavior, integration: { dataSourceName: dsName, invokeType: c.integration.lambdaConfig!.invokeType } };
    };

    // --- channel namespaces
    const nsCommon = { apiId: this.api.apiId, codeHandlers: handlersCode, tags };
    if (vars) {
      const it = TerraformIterator.fromMap(Token.asAnyMap(`\${${vars.namespaces}}`));
      const pub = TerraformIterator.fromList(it.getList('publishAuthModes'));
      const sub = TerraformIterator.fromList(it.getList('subscribeAuthModes'));
      const ns = this.named(
        new AppsyncChannelNamespace(this, 'namespace', {
          forEach: it,
          ...nsCommon,
          name: it.key,
          publishAuthMode: pub.dynamic({ auth_type: pub.value }),
          subscribeAuthMode: sub.dynamic({ auth_type: sub.value }),
        }),
        'namespace',
      );
      const p = pipelineOnPublish();
      ns.addOverride('dynamic.handler_configs', {
        for_each: `\${each.value.socketPublish == "pipeline" ? [1] : []}`,
        content: { on_publish: [{ behavior: p.behavior, integration: [{ data_source_name: p.integration.dataSourceName, lambda_config: [{ invoke_type: p.integration.invokeType }] }] }] },
      });
      this.namespaces = [ns];
      this.namespaceArns = resourceList(`[for k, ns in ${ns.terraformResourceType}.${ns.friendlyUniqueId} : ns.channel_namespace_arn]`);
    } else {
      this.namespaces = Object.values(cfg.namespaces).map((n) =>
        this.named(
          new AppsyncChannelNamespace(this, `namespace_${n.name}`, {
            ...nsCommon,
            name: n.name,
            publishAuthMode: n.publishAuthModes.map(mode),
            subscribeAuthMode: n.subscribeAuthModes.map(mode),
            ...(namespaceHandlerConfigs(n)
              ? (() => {
                  const p = pipelineOnPublish();
                  return { handlerConfigs: [{ onPublish: [{ behavior: p.behavior, integration: [{ dataSourceName: p.integration.dataSourceName, lambdaConfig: [{ invokeType: p.integration.invokeType }] }] }] }] };
                })()
              : {}),
          }),
          `namespace_${n.name.replace(/-/g, '_')}`,
        ),
      );
      this.namespaceArns = this.namespaces.map((n) => n.channelNamespaceArn);
    }

    // --- publish and history
    const publishPolicy = this.policy('publish', [
      this.logStatement(logGroups.publish),
      // HTTP publish to AppSync Events needs EventPublish only; EventConnect is for WebSocket connections.
      { Sid: 'PublishEvents', Action: 'appsync:EventPublish', Resource: this.namespaceArns },
      { Sid: 'OwnTables', ...tableWrites },
      // Presence members (functions/presence/members.ts): heartbeats, joins, leaves, lists and the sweep's Scan.
      { Sid: 'PresenceTable', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan'], Resource: t.presence.arn },
      // POST /revoke writes revocations; every token it verifies is checked against them.
      { Sid: 'Revocations', Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'], Resource: t.revocations.arn },
      { Sid: 'ReadApiKeys', Action: 'ssm:GetParameter', Resource: cfg.publish.apiKeyParameterNames.map((n, i) => paramArn(n, apiKeyParams[i])) },
      // Client publishes with a JWT (POST /publish) are verified as the history function verifies them.
      ...(cfg.tokens.hs256Keys.length > 0
        ? [{ Sid: 'ReadTokenSecrets', Action: 'ssm:GetParameter', Resource: tokenSecretArns }]
        : []),
      pubSubEvents,
    ]);
    const publish = this.lambda('publish', props.code.publish, settings, logGroups.publish, [publishPolicy]);

    const historyPolicy = this.policy('history', [
      this.logStatement(logGroups.history),
      // The table (one channel) and its namespace index (wildcard patterns), nothing else.
      { Sid: 'ReadMessages', Action: 'dynamodb:Query', Resource: [t.messages.arn, `${t.messages.arn}/index/${MESSAGES_BY_NAMESPACE.name}`] },
      { Sid: 'ReadPresence', Action: ['dynamodb:Query', 'dynamodb:GetItem'], Resource: t.presence.arn },
      { Sid: 'ReadRevocations', Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'], Resource: t.revocations.arn },
      ...(cfg.tokens.hs256Keys.length > 0
        ? [{ Sid: 'ReadTokenSecrets', Action: 'ssm:GetParameter', Resource: tokenSecretArns }]
        : []),
    ]);
    const history = this.lambda('history', props.code.history, settings, logGroups.history, [historyPolicy]);
    this.functions = { authorizer, publish, history, 'socket-publish': socketPublish };

    const scoped = props.scopeFunctionUrlInvoke ?? true;
    if (cfg.publish.httpEndpoint) {
      // No CORS unless publish.corsAllowedOrigins lists origins: browsers then publish stored messages with their JWT.
      const origins = cfg.publish.corsAllowedOrigins;
      this.publishUrl = this.functionUrl(
        'publish',
        publish,
        origins.length > 0 ? { allowOrigins: origins, allowMethods: ['POST'], allowHeaders: ['authorization', 'content-type'], maxAge: 300 } : undefined,
        scoped,
      );
    }
    if (cfg.history.enabled) {
      this.historyUrl = this.functionUrl(
        'history',
        history,
        // Bearer tokens in a header, no cookies: credentials stay off, any listed origin may read.
        { allowOrigins: cfg.history.corsAllowedOrigins, allowMethods: ['GET'], allowHeaders: ['authorization', 'content-type'], maxAge: 300 },
        scoped,
      );
    }

    this.presenceSweep = this.createPresenceSweep(name, publish, vars);

    if (cfg.alarms.enabled) this.createAlarms(name, logGroups);

    // --- outputs
    this.output('http_endpoint', `https://${this.httpHost}/event`, 'Event API HTTP endpoint (POST /event).');
    this.output('realtime_endpoint', `wss://${this.realtimeHost}/event/realtime`, 'Event API WebSocket endpoint.');
    this.output('http_host', this.httpHost, 'Event API HTTP host name.');
    this.output('realtime_host', this.realtimeHost, 'Event API realtime host name.');
    this.output('api_id', this.api.apiId, 'Event API id.');
    this.output('api_arn', this.api.apiArn, 'Event API ARN.');
    this.output('publish_function_arn', publish.arn, 'Publish function ARN (invoke it with IAM to publish).');
    this.output('publish_function_name', publish.functionName, 'Publish function name.');
    // Function URLs end in '/'; the handlers serve /publish and /history.
    this.output('publish_url', this.publishUrl ? `${this.publishUrl.functionUrl}publish` : '', 'Publish API endpoint: POST with Authorization: Bearer <API key> (backends) or <JWT> (clients, stored publishes). Empty when the publish HTTP endpoint is off (publish.httpEndpoint in the config, publish.http_endpoint in the module).');
    this.output('history_url', this.historyUrl ? `${this.historyUrl.functionUrl}history` : '', 'History API endpoint: GET ?channel=&after=&limit= with Authorization: Bearer <JWT>. Empty when history is off.');
    this.output('publish_api_key_parameter_names', cfg.publish.apiKeyParameterNames, 'SSM parameters holding the two publish API keys.');
    this.output('token_secret_parameter_names', this.tokenSecretParameterNames, 'SSM parameters holding the HS256 token secrets, in kid order.');
    this.output('token_secret_kids', cfg.tokens.hs256Keys.map((k) => k.kid), 'The kid of each HS256 token secret.');
    this.output('table_names', Object.fromEntries(Object.entries(this.tables).map(([k, v]) => [k, v.name])), 'DynamoDB table names.');
    this.output('publish_api_keys', apiKeyParams.map((p) => p.value), 'The generated publish API keys (sensitive).', true);
    this.output('token_secrets', tokenParams.map((p) => p.value), 'The generated HS256 token secrets (sensitive).', true);
  }

  /** Lets `role` invoke the publish function (the IAM path of the publish API). */
  grantPublish(role: Grantee): IamRolePolicy {
    return this.grant(role, 'publish', [{ Sid: 'InvokeEventsockPublish', Action: 'lambda:InvokeFunction', Resource: this.functions.publish.arn }]);
  }

  /** Lets `role` open WebSocket connections to the Event API with IAM (SigV4). */
  grantEventConnect(role: Grantee): IamRolePolicy {
    return this.grant(role, 'connect', [{ Sid: 'EventConnect', Action: 'appsync:EventConnect', Resource: this.api.apiArn }]);
  }

  /** Lets `role` subscribe with IAM, on every namespace or only those listed. */
  grantEventSubscribe(role: Grantee, namespaces?: string[]): IamRolePolicy {
    return this.grant(role, 'subscribe', [{ Sid: 'EventSubscribe', Action: 'appsync:EventSubscribe', Resource: this.namespaceResources(namespaces) }]);
  }

  /** Lets `role` publish to the Event API directly with IAM (bypassing the publish API: no ids, dedup or storage). */
  grantEventPublish(role: Grantee, namespaces?: string[]): IamRolePolicy {
    return this.grant(role, 'publish_direct', [{ Sid: 'EventPublish', Action: 'appsync:EventPublish', Resource: this.namespaceResources(namespaces) }]);
  }

  // ---------------------------------------------------------------------------

  /** Errors and throttles per function, failed publishes and unreadable secrets from the logs, the Event API's 5XX (modules/alarms.ts). */
  private createAlarms(name: string, logGroups: Record<FunctionName, CloudwatchLogGroup>): void {
    const actions = this.config.alarms.snsTopicArns;
    const ns = alarmMetricNamespace(name);
    const alarm = (key: string, alarmName: string, description: string, metric: { namespace: string; metricName: string; dimensions?: Record<string, string> }) => {
      this.alarms[key] = this.named(
        new CloudwatchMetricAlarm(this, `alarm_${key}`, {
          alarmName: `${name}-${alarmName}`,
          alarmDescription: description,
          ...metric,
          statistic: 'Sum',
          period: ALARM_PERIOD_SECONDS,
          evaluationPeriods: 1,
          threshold: ALARM_THRESHOLD,
          comparisonOperator: 'GreaterThanThreshold',
          treatMissingData: 'notBreaching',
          alarmActions: actions,
          okActions: actions,
          tags: this.tags,
        }),
        `alarm_${key}`,
      );
    };
    const filter = (key: string, fn: FunctionName, pattern: string, metricName: string, value: string) => {
      this.metricFilters[key] = this.named(
        new CloudwatchLogMetricFilter(this, `metric_filter_${key}`, {
          name: `${name}-${key.replace(/_/g, '-')}`,
          logGroupName: logGroups[fn].name,
          pattern,
          metricTransformation: { name: metricName, namespace: ns, value },
        }),
        `metric_filter_${key}`,
      );
    };
    const fns = FUNCTION_NAMES.filter((fn) => fn !== 'history' || this.config.history.enabled);
    for (const fn of fns) {
      const d = alarmDescriptions(name, fn);
      const dimensions = { FunctionName: this.functions[fn].functionName };
      const key = fn.replace(/-/g, '_');
      alarm(`${key}_errors`, `${fn}-errors`, d.errors, { namespace: 'AWS/Lambda', metricName: 'Errors', dimensions });
      alarm(`${key}_throttles`, `${fn}-throttles`, d.throttles, { namespace: 'AWS/Lambda', metricName: 'Throttles', dimensions });
    }
    filter('publish_failures', 'publish', PUBLISH_FAILURES.pattern, PUBLISH_FAILURES.metricName, PUBLISH_FAILURES.value);
    alarm('publish_failures', 'publish-failures', publishFailuresDescription(name), { namespace: ns, metricName: PUBLISH_FAILURES.metricName });
    // The socket-publish function reads no secret.
    for (const fn of fns.filter((f) => f !== 'socket-publish')) {
      const metricName = SECRET_UNAVAILABLE.metricName(fn);
      filter(`${fn}_secret_unavailable`, fn, SECRET_UNAVAILABLE.pattern, metricName, SECRET_UNAVAILABLE.value);
      alarm(`${fn}_secret_unavailable`, `${fn}-secret-unavailable`, alarmDescriptions(name, fn).secretUnavailable, { namespace: ns, metricName });
    }
    // AppSync Event APIs publish their HTTP endpoint metrics (4XXError, 5XXError, ...) with the EventAPIId dimension.
    alarm('api_5xx', 'api-5xx', api5xxDescription(name), { namespace: 'AWS/AppSync', metricName: '5XXError', dimensions: { EventAPIId: this.api.apiId } });
  }

  /**
   * The presence sweep (functions/presence/members.ts): an EventBridge rule invoking the publish
   * function with `{ "eventsock": "presence-sweep" }` every presence.sweepSeconds, so a member whose
   * heartbeats stopped is removed within the timeout plus this interval. Only when a namespace has
   * presence; the module export always declares it, DISABLED unless var.namespaces turns presence on.
   */
  private createPresenceSweep(name: string, publish: LambdaFunction, vars: EventsockVariables | undefined): CloudwatchEventRule | undefined {
    const on = Object.values(this.config.namespaces).some((n) => n.presence);
    if (!vars && !on) return undefined;
    const n = this.config.presence.sweepSeconds / 60;
    const minutes = vars?.sweepMinutes;
    const rule = this.named(
      new CloudwatchEventRule(this, 'presence_sweep', {
        name: `${name}-presence-sweep`,
        description: `Eventsock ${name}: removes presence members whose heartbeats stopped`,
        // EventBridge wants the singular unit for 1: rate(1 minute).
        scheduleExpression: minutes ? `rate(\${${minutes}} \${${minutes} == 1 ? "minute" : "minutes"})` : `rate(${n} ${n === 1 ? 'minute' : 'minutes'})`,
        state: vars ? `\${anytrue([for k, v in ${vars.namespaces} : v.presence]) ? "ENABLED" : "DISABLED"}` : 'ENABLED',
        tags: this.tags,
      }),
      'presence_sweep',
    );
    this.named(
      new CloudwatchEventTarget(this, 'presence_sweep_target', { rule: rule.name, targetId: 'publish', arn: publish.arn, input: JSON.stringify({ eventsock: PRESENCE_SWEEP }) }),
      'presence_sweep_target',
    );
    this.named(
      new LambdaPermission(this, 'presence_sweep_invoke', {
        statementId: 'eventsock-presence-sweep',
        action: 'lambda:InvokeFunction',
        functionName: publish.functionName,
        principal: 'events.amazonaws.com',
        sourceArn: rule.arn,
      }),
      'presence_sweep_invoke',
    );
    return rule;
  }

  private namespaceResources(only?: string[]): string | string[] {
    if (!only) return this.namespaceArns;
    for (const n of only) {
      if (!hasOwnKey(this.config.namespaces, n)) throw new ConfigError('namespaces', `grant names namespace ${n}, which is not configured (${Object.keys(this.config.namespaces).join(', ')})`);
    }
    return only.map((n) => `${this.api.apiArn}/channelNamespace/${n}`);
  }

  private grant(role: Grantee, what: string, statements: Statement[]): IamRolePolicy {
    const n = ++this.grants;
    return this.named(
      new IamRolePolicy(this, `grant_${n}_${what}`, { name: `eventsock-${what.replace(/_/g, '-')}-${n}`, role: role.name, policy: policyDocument(statements) }),
      `grant_${n}_${what}`,
    );
  }

  /** Gives the resource a readable, stable address: `<construct id>_<name>`. */
  private named<T extends TerraformElement>(r: T, logical: string): T {
    r.overrideLogicalId(`${this.prefix}_${logical.replace(/-/g, '_')}`);
    return r;
  }

  private logStatement(group: CloudwatchLogGroup): Statement {
    return { Sid: 'WriteOwnLogs', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${group.arn}:*` };
  }

  private policy(fn: FunctionName, statements: Statement[]): IamRolePolicy {
    return this.named(new IamRolePolicy(this, `${fn}_policy`, { name: `${fn}-least-privilege`, role: this.roles[fn].name, policy: policyDocument(statements) }), `${fn}_policy`);
  }

  private lambda(fn: FunctionName, code: LambdaCode, settings: string, logs: CloudwatchLogGroup, dependsOn: IamRolePolicy[]): LambdaFunction {
    const spec = FUNCTIONS[fn];
    return this.named(
      new LambdaFunction(this, fn, {
        functionName: `${this.config.name}-${fn}`,
        role: this.roles[fn].arn,
        handler: LAMBDA_HANDLER,
        runtime: LAMBDA_RUNTIME,
        architectures: [LAMBDA_ARCHITECTURE],
        memorySize: spec.memoryMb,
        timeout: spec.timeoutSeconds,
        filename: code.filename,
        sourceCodeHash: code.sourceCodeHash,
        environment: { variables: { [SETTINGS_ENV]: settings, NODE_OPTIONS: '--enable-source-maps' } },
        loggingConfig: { logFormat: 'Text', logGroup: logs.name },
        tags: this.tags,
        // The role's policy and the log group must exist before the first cold start logs.
        dependsOn: [logs, ...dependsOn],
      }),
      fn,
    );
  }

  private functionUrl(fn: FunctionName, target: LambdaFunction, cors: { allowOrigins: string[]; allowMethods: string[]; allowHeaders: string[]; maxAge: number } | undefined, scoped: boolean): LambdaFunctionUrl {
    // Auth NONE: the functions check bearer API keys and JWTs themselves.
    const url = this.named(new LambdaFunctionUrl(this, `${fn}_url`, { functionName: target.functionName, authorizationType: 'NONE', cors }), `${fn}_url`);
    this.named(
      new LambdaPermission(this, `${fn}_url_public`, {
        statementId: 'eventsock-url-public',
        action: 'lambda:InvokeFunctionUrl',
        functionName: target.functionName,
        principal: '*',
        functionUrlAuthType: 'NONE',
      }),
      `${fn}_url_public`,
    );
    if (scoped) {
      // Since October 2025 a public function URL also needs lambda:InvokeFunction, and it must be
      // limited to calls through the URL: unconditioned, anyone could invoke the function directly,
      // and a direct invoke is the publish API's trusted IAM path.
      const invoke = this.named(
        new LambdaPermission(this, `${fn}_url_invoke`, { statementId: 'eventsock-url-invoke', action: 'lambda:InvokeFunction', functionName: target.functionName, principal: '*' }),
        `${fn}_url_invoke`,
      );
      invoke.addOverride('invoked_via_function_url', true);
    }
    return url;
  }

  /** The EVENTSOCK_SETTINGS value: RuntimeSettings as JSON, with Terraform references where values are only known at apply. */
  private settingsJson(resolved: ResolvedConfig, vars: EventsockVariables | undefined, deployed: { host: string; region: string }): string {
    const s = runtimeSettings(resolved, { eventApiHttpHost: '__ES_HOST__', region: '__ES_REGION__' }) as unknown as Record<string, unknown>;
    if (vars) {
      s.namespaces = '__ES_NAMESPACES__';
      s.tokens = '__ES_TOKENS__';
      s.defaultNamespace = '__ES_DEFAULT_NS__';
      if (vars.publish) s.publish = '__ES_PUBLISH__';
      if (vars.history) s.history = '__ES_HISTORY__';
      if (vars.presence) s.presence = '__ES_PRESENCE__';
    }
    let json = escapeTemplate(JSON.stringify(s));
    json = json.split(NAME_PLACEHOLDER).join(this.config.name);
    json = json.replace('"__ES_HOST__"', JSON.stringify(deployed.host)).replace('"__ES_REGION__"', JSON.stringify(deployed.region));
    if (vars) {
      json = json
        .replace('"__ES_NAMESPACES__"', `\${jsonencode(${vars.namespaces})}`)
        .replace('"__ES_TOKENS__"', `\${jsonencode(${vars.tokens})}`)
        .replace('"__ES_DEFAULT_NS__"', JSON.stringify(vars.defaultNamespace));
      if (vars.publish) json = json.replace('"__ES_PUBLISH__"', `\${jsonencode(${vars.publish})}`);
      if (vars.history) json = json.replace('"__ES_HISTORY__"', `\${jsonencode(${vars.history})}`);
      if (vars.presence) json = json.replace('"__ES_PRESENCE__"', `\${jsonencode(${vars.presence})}`);
    }
    return json;
  }

  private output(name: string, value: unknown, description: string, sensitive = false): TerraformOutput {
    const o = new TerraformOutput(this, `out_${name}`, { value, description, sensitive });
    o.overrideLogicalId(this.prefix === 'eventsock' ? name : `${this.prefix}_${name}`);
    return o;
  }
}
