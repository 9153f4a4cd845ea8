/**
 * Policy suite over the synthesized Terraform JSON: least privilege, encryption,
 * retention, one role per function, and who may invoke what. Runs over several
 * configs so that options cannot widen a policy unnoticed.
 */
import { resolveConfig, type EventsockConfig } from '../../functions/core/config';
import { MESSAGES_BY_NAMESPACE, TABLES } from '../../functions/core/tables';
import projectConfig from '../../eventsock.config';
import { resources, synthStack } from './synth-support';

type Stmt = { Sid?: string; Effect: string; Action: string | string[]; Resource: string | string[]; Principal?: unknown; Condition?: unknown };
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/**
 * Statements allowed a wildcard Action or Resource, and why AWS requires it. Empty:
 * every Eventsock statement names its actions and ARNs. (The public function URL
 * permissions are resource policies with Principal "*", checked separately below.)
 */
const WILDCARD_EXCEPTIONS: Record<string, string> = {};

/** Each role's complete action list: adding an action must be a deliberate change here. */
const ALLOWED_ACTIONS: Record<string, string[]> = {
  eventsock_authorizer_policy: ['logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameter', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'],
  eventsock_publish_policy: [
    'logs:CreateLogStream', 'logs:PutLogEvents', 'appsync:EventPublish',
    'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem',
    // presence: the sweep scans, lists query; revocations are batch-read.
    'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchGetItem',
    'ssm:GetParameter', 'events:PutEvents',
  ],
  eventsock_history_policy: ['logs:CreateLogStream', 'logs:PutLogEvents', 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'ssm:GetParameter'],
  eventsock_appsync_logs_policy: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
  // EventBridge Scheduler raising the API key expiry alarm (modules/api-key.ts): that one alarm.
  eventsock_api_key_expiry_policy: ['cloudwatch:SetAlarmState'],
  // The namespaces' data source: no appsync:EventPublish (its answer is the delivery), no secrets, no EventBridge.
  eventsock_socket_publish_policy: ['logs:CreateLogStream', 'logs:PutLogEvents', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'events:PutEvents'],
  // The role AppSync assumes to invoke it.
  eventsock_socket_publish_ds_policy: ['lambda:InvokeFunction'],
};

const configs: Array<[string, EventsockConfig]> = [
  ['default', {}],
  ['project', projectConfig],
  [
    'every option',
    {
      name: 'rt-prod',
      namespaces: { default: {}, chat: { clientPublish: true }, feed: { subscribeAuthModes: ['AWS_LAMBDA', 'API_KEY'] }, room: { presence: true, presenceEvents: true } },
      presence: { heartbeatSeconds: 20, sweepSeconds: 120, maxMembersPerChannel: 500 },
      auth: { apiKey: {}, openIdConnect: { issuer: 'https://id.example.com' }, cognito: { userPoolId: 'eu-west-1_x', awsRegion: 'eu-west-1' } },
      tokens: { algorithms: ['HS256', 'ES256'], jwksUrl: 'https://id.example.com/jwks', hs256Keys: [{ kid: 'a' }, { kid: 'b', parameterName: '/corp/b' }] },
      publish: { apiKeyParameterNames: ['/corp/k1', '/corp/k2'], eventBusName: 'bus-1' },
      history: { corsAllowedOrigins: ['https://app.example.com'] },
      logging: { retentionDays: 90 },
    },
  ],
];

describe.each(configs)('policy suite, %s config', (_label, config) => {
  const { tf } = synthStack(config);
  const policies = resources(tf, 'aws_iam_role_policy').map(([id, r]) => ({ id, role: r.role as string, doc: JSON.parse(r.policy as string) as { Statement: Stmt[] } }));

  it('has no IAM statement with Action or Resource "*" (or a service-wide wildcard) unless listed as an exception', () => {
    for (const p of policies) {
      for (const s of p.doc.Statement) {
        const wild = list(s.Action).some((a) => a === '*' || a.endsWith(':*')) || list(s.Resource).some((r) => r === '*' || r === 'arn:aws:*');
        if (wild) expect(WILDCARD_EXCEPTIONS).toHaveProperty(`${p.id}.${s.Sid}`);
        expect(s.Effect).toBe('Allow');
      }
    }
  });

  it('scopes every resource to something this stack creates or names (no other account, region or API)', () => {
    for (const p of policies) {
      for (const s of p.doc.Statement) {
        for (const r of list(s.Resource)) {
          expect([p.id, r]).toEqual([p.id, expect.stringMatching(/^(\$\{aws_[a-z_]+\.[a-z0-9_]+\.[a-z_]+\}|arn:\$\{data\.aws_arn\.eventsock_account\.partition\}:[a-z]+:\$\{data\.aws_arn\.eventsock_account\.region\}:\$\{data\.aws_arn\.eventsock_account\.account\}:)/)]);
        }
      }
    }
  });

  it('gives each role only its listed actions, and no kms:Decrypt (all keys are AWS managed)', () => {
    for (const p of policies) {
      const actions = p.doc.Statement.flatMap((s) => list(s.Action));
      expect(ALLOWED_ACTIONS).toHaveProperty([p.id]);
      for (const a of actions) expect([p.id, ALLOWED_ACTIONS[p.id].includes(a) ? 'allowed' : a]).toEqual([p.id, 'allowed']);
      expect(actions).not.toContain('kms:Decrypt');
    }
  });

  it('lets the publish function publish only to this API\'s namespaces, and touch only its own tables', () => {
    const pub = policies.find((p) => p.id === 'eventsock_publish_policy')!.doc.Statement;
    const publishTo = list(pub.find((s) => s.Action === 'appsync:EventPublish')!.Resource);
    const namespaces = resources(tf, 'aws_appsync_channel_namespace').map(([id]) => `\${aws_appsync_channel_namespace.${id}.channel_namespace_arn}`);
    expect(publishTo.sort()).toEqual(namespaces.sort());
    const dynamo = pub.filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:'))).flatMap((s) => list(s.Resource));
    expect(dynamo.sort()).toEqual(Object.keys(TABLES).map((t) => `\${aws_dynamodb_table.eventsock_table_${t}.arn}`).sort());
    const history = policies.find((p) => p.id === 'eventsock_history_policy')!.doc.Statement;
    // SSM: its two API keys, plus exactly the token secrets the history function reads (client JWT publishes), nothing else.
    const tokenSecrets = (stmts: Stmt[]) => stmts.filter((s) => s.Sid === 'ReadTokenSecrets').flatMap((s) => list(s.Resource));
    expect(tokenSecrets(pub)).toEqual(tokenSecrets(history));
    expect(pub.filter((s) => list(s.Action).includes('ssm:GetParameter')).flatMap((s) => list(s.Resource))).toHaveLength(2 + tokenSecrets(history).length);
    // History queries the messages table and its namespace index (wildcard patterns), nothing else.
    expect(history.filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')))).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:Query',
        Resource: ['${aws_dynamodb_table.eventsock_table_messages.arn}', `\${aws_dynamodb_table.eventsock_table_messages.arn}/index/${MESSAGES_BY_NAMESPACE.name}`],
      }),
      // GET /presence reads members; every token is checked against revocations. Reads only.
      expect.objectContaining({ Action: ['dynamodb:Query', 'dynamodb:GetItem'], Resource: '${aws_dynamodb_table.eventsock_table_presence.arn}' }),
      expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'], Resource: '${aws_dynamodb_table.eventsock_table_revocations.arn}' }),
    ]);
  });

  it('gives the messages table its namespace index (namespace + id, projection ALL) and no other table an index', () => {
    const tables = Object.fromEntries(resources(tf, 'aws_dynamodb_table'));
    expect(tables.eventsock_table_messages.global_secondary_index).toEqual([{ name: MESSAGES_BY_NAMESPACE.name, hash_key: 'namespace', range_key: 'id', projection_type: 'ALL' }]);
    expect(tables.eventsock_table_messages.attribute).toEqual([{ name: 'channel', type: 'S' }, { name: 'id', type: 'S' }, { name: 'namespace', type: 'S' }]);
    expect(tables.eventsock_table_heads.global_secondary_index).toBeUndefined();
    expect(tables.eventsock_table_dedup.global_secondary_index).toBeUndefined();
  });

  it('encrypts every table, with point-in-time recovery and the TTL attribute from core/tables.ts', () => {
    const tables = resources(tf, 'aws_dynamodb_table');
    expect(tables).toHaveLength(Object.keys(TABLES).length);
    for (const [id, t] of tables) {
      const def = TABLES[id.replace('eventsock_table_', '') as keyof typeof TABLES];
      expect(t.server_side_encryption).toEqual({ enabled: true });
      expect(t.point_in_time_recovery).toEqual({ enabled: true });
      expect(t.ttl).toEqual({ attribute_name: def.ttlAttribute, enabled: true });
    }
  });

  it('gives every log group a retention, and every function (and the API) a log group of its own', () => {
    const groups = resources(tf, 'aws_cloudwatch_log_group');
    for (const [, g] of groups) expect(g.retention_in_days).toEqual(expect.any(Number));
    const fns = resources(tf, 'aws_lambda_function');
    const used = fns.map(([, f]) => (f.logging_config as { log_group: string }).log_group);
    expect(new Set(used).size).toBe(fns.length);
    for (const ref of used) expect(groups.map(([id]) => `\${aws_cloudwatch_log_group.${id}.name}`)).toContain(ref);
    expect(groups.map(([, g]) => g.name)).toContain('/aws/appsync/apis/${aws_appsync_api.eventsock_api.api_id}');
  });

  it('gives every function a role of its own, whose policy is attached to that role only', () => {
    const fns = resources(tf, 'aws_lambda_function');
    const roles = fns.map(([, f]) => f.role as string);
    expect(new Set(roles).size).toBe(fns.length);
    for (const [id, f] of fns) {
      const roleName = (f.role as string).replace('.arn}', '.name}');
      expect(policies.filter((p) => p.role === roleName).map((p) => p.id)).toEqual([`${id}_policy`]);
    }
    for (const [, r] of resources(tf, 'aws_iam_role')) {
      const trust = JSON.parse(r.assume_role_policy as string).Statement as Stmt[];
      expect(trust).toHaveLength(1);
      expect(trust[0].Principal).toEqual({ Service: expect.stringMatching(/^(lambda|appsync|scheduler)\.amazonaws\.com$/) });
    }
  });

  it('lets only this API invoke the authorizer', () => {
    const perms = resources(tf, 'aws_lambda_permission');
    const onAuthorizer = perms.filter(([, p]) => p.function_name === '${aws_lambda_function.eventsock_authorizer.function_name}');
    expect(onAuthorizer).toHaveLength(1);
    expect(onAuthorizer[0][1]).toMatchObject({ action: 'lambda:InvokeFunction', principal: 'appsync.amazonaws.com', source_arn: '${aws_appsync_api.eventsock_api.api_arn}' });
    expect(resources(tf, 'aws_lambda_function_url').map(([id]) => id)).not.toContain('eventsock_authorizer_url');
  });

  it('lets only its own presence sweep schedule invoke the publish function, and has one only when a namespace has presence', () => {
    const resolved = resolveConfig(config);
    const presence = Object.values(resolved.namespaces).some((n) => n.presence);
    const rules = resources(tf, 'aws_cloudwatch_event_rule');
    const fromEvents = resources(tf, 'aws_lambda_permission').filter(([, p]) => p.principal === 'events.amazonaws.com');
    if (!presence) {
      expect(rules).toEqual([]);
      expect(fromEvents).toEqual([]);
      return;
    }
    const minutes = resolved.presence.sweepSeconds / 60;
    expect(rules).toEqual([['eventsock_presence_sweep', expect.objectContaining({ schedule_expression: `rate(${minutes} minute${minutes === 1 ? '' : 's'})`, state: 'ENABLED' })]]);
    expect(fromEvents).toEqual([
      ['eventsock_presence_sweep_invoke', expect.objectContaining({ action: 'lambda:InvokeFunction', function_name: '${aws_lambda_function.eventsock_publish.function_name}', source_arn: '${aws_cloudwatch_event_rule.eventsock_presence_sweep.arn}' })],
    ]);
    expect(resources(tf, 'aws_cloudwatch_event_target')).toEqual([
      ['eventsock_presence_sweep_target', expect.objectContaining({ rule: '${aws_cloudwatch_event_rule.eventsock_presence_sweep.name}', arn: '${aws_lambda_function.eventsock_publish.arn}', input: '{"eventsock":"presence-sweep"}' })],
    ]);
  });

  it('opens public invocation only through function URLs (auth NONE), never a bare lambda:InvokeFunction for "*"', () => {
    for (const [id, p] of resources(tf, 'aws_lambda_permission')) {
      if (p.principal !== '*') continue;
      expect(p.function_name).not.toBe('${aws_lambda_function.eventsock_authorizer.function_name}');
      if (p.action === 'lambda:InvokeFunctionUrl') expect([id, p.function_url_auth_type]).toEqual([id, 'NONE']);
      else expect([id, p.action, p.invoked_via_function_url]).toEqual([id, 'lambda:InvokeFunction', true]);
    }
  });

  it('makes the socket-publish function the API\'s Lambda data source, invoked with a role for this API and that function only', () => {
    const [[, ds], ...more] = resources(tf, 'aws_appsync_datasource');
    expect(more).toEqual([]);
    expect(ds).toMatchObject({
      api_id: '${aws_appsync_api.eventsock_api.api_id}',
      name: 'eventsock_socket_publish',
      type: 'AWS_LAMBDA',
      service_role_arn: '${aws_iam_role.eventsock_socket_publish_ds_role.arn}',
      lambda_config: { function_arn: '${aws_lambda_function.eventsock_socket_publish.arn}' },
    });
    const role = Object.fromEntries(resources(tf, 'aws_iam_role')).eventsock_socket_publish_ds_role;
    expect(JSON.parse(role.assume_role_policy as string).Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'appsync.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': '${data.aws_arn.eventsock_account.account}' }, ArnLike: { 'aws:SourceArn': '${aws_appsync_api.eventsock_api.api_arn}' } },
      },
    ]);
    const invoke = policies.filter((p) => p.role === '${aws_iam_role.eventsock_socket_publish_ds_role.name}');
    expect(invoke.map((p) => p.doc.Statement)).toEqual([[{ Sid: 'InvokeSocketPublish', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '${aws_lambda_function.eventsock_socket_publish.arn}' }]]);
    const sock = policies.find((p) => p.id === 'eventsock_socket_publish_policy')!.doc.Statement;
    // No presence or revocations: the data source verifies no tokens.
    expect(sock.filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:'))).flatMap((s) => list(s.Resource)).sort()).toEqual(
      Object.keys(TABLES).filter((t) => t !== 'presence' && t !== 'revocations').map((t) => `\${aws_dynamodb_table.eventsock_table_${t}.arn}`).sort(),
    );
    // EventBridge (socketPublishEvents) on the publish function's bus only.
    expect(sock.filter((s) => list(s.Action).includes('events:PutEvents')).flatMap((s) => list(s.Resource))).toEqual(
      policies.find((p) => p.id === 'eventsock_publish_policy')!.doc.Statement.filter((s) => list(s.Action).includes('events:PutEvents')).flatMap((s) => list(s.Resource)),
    );
  });

  it('sends onPublish of exactly the socketPublish: pipeline namespaces DIRECT to the data source, waiting for its answer', () => {
    const resolved = resolveConfig(config);
    for (const [id, ns] of resources(tf, 'aws_appsync_channel_namespace')) {
      const pipeline = resolved.namespaces[ns.name as string].socketPublish === 'pipeline';
      if (!pipeline) expect([id, ns.handler_configs]).toEqual([id, undefined]);
      else {
        expect([id, ns.handler_configs]).toEqual([
          id,
          [{ on_publish: [{ behavior: 'DIRECT', integration: [{ data_source_name: '${aws_appsync_datasource.eventsock_socket_publish_ds.name}', lambda_config: [{ invoke_type: 'REQUEST_RESPONSE' }] }] }] }],
        ]);
        // onSubscribe stays the namespace code's.
        expect(ns.code_handlers).toEqual(expect.stringContaining('export function onSubscribe'));
      }
    }
  });

  it('stores every secret as a SecureString', () => {
    for (const [, p] of resources(tf, 'aws_ssm_parameter')) expect(p.type).toBe('SecureString');
  });
});
