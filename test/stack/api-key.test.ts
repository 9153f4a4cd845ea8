/**
 * The AppSync API key is renewed on every apply (expires = start of the plan's UTC day +
 * lifetimeDays, no ignore_changes) and an EventBridge Scheduler one-time schedule raises
 * an alarm before it lapses (modules/api-key.ts). Before #11 the key was created with
 * timeadd(timestamp(), 7 days) and ignore_changes = [expires]: it died a week after deploy.
 */
import { apiKeyWarningDays, resolveConfig } from '../../functions/core/config';
import { resources, synthStack } from './synth-support';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const res = (tf: Parameters<typeof resources>[0], type: string) => resources(tf, type) as Array<[string, any]>;

type Stmt = { Effect: string; Action: string | string[]; Resource: string | string[]; Principal?: unknown; Condition?: unknown };
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:oncall';

describe('AppSync API key lifetime', () => {
  it('defaults to the service maximum, 365 days, renewed from the plan day, never pinned', () => {
    const { tf, json } = synthStack({ auth: { apiKey: {} } });
    const [, key] = res(tf, 'aws_appsync_api_key')[0];
    expect(key.expires).toBe('${timeadd(formatdate("YYYY-MM-DD\'T\'00:00:00Z", plantimestamp()), "${(365) * 24}h")}');
    expect(key.lifecycle).toBeUndefined();
    expect(JSON.parse(json).output.appsync_api_key_expires.value).toBe('${aws_appsync_api_key.eventsock_api_key.expires}');
  });

  it('takes lifetimeDays between 2 and 365 and names the old expiresInDays', () => {
    expect(resolveConfig({ auth: { apiKey: { lifetimeDays: 2 } } }).auth.apiKey).toEqual({ lifetimeDays: 2 });
    expect(() => resolveConfig({ auth: { apiKey: { lifetimeDays: 1 } } })).toThrow(/auth\.apiKey\.lifetimeDays/);
    expect(() => resolveConfig({ auth: { apiKey: { lifetimeDays: 366 } } })).toThrow(/auth\.apiKey\.lifetimeDays/);
    expect(() => resolveConfig({ auth: { apiKey: { expiresInDays: 7 } } } as never)).toThrow(/auth\.apiKey\.expiresInDays: is now auth\.apiKey\.lifetimeDays/);
  });

  it('raises an alarm through a one-time schedule before the key lapses, with a role that can set only that alarm', () => {
    const { tf } = synthStack({ auth: { apiKey: { lifetimeDays: 90 } }, alarms: { snsTopicArns: [TOPIC] } });
    const [, alarm] = res(tf, 'aws_cloudwatch_metric_alarm').find(([id]) => id === 'eventsock_alarm_api_key_expiry')!;
    expect(alarm).toMatchObject({ alarm_name: 'eventsock-api-key-expiry', alarm_actions: [TOPIC], ok_actions: [TOPIC], treat_missing_data: 'notBreaching' });
    expect(alarm.alarm_description).toContain(`expires in ${apiKeyWarningDays(90)} days or less`);
    const [, schedule] = res(tf, 'aws_scheduler_schedule')[0];
    expect(schedule.schedule_expression).toContain(`"\${((90) - (${apiKeyWarningDays(90)})) * 24}h"`);
    expect(schedule.schedule_expression).toMatch(/^\$\{"at\(/);
    expect(schedule.target.arn).toBe('arn:aws:scheduler:::aws-sdk:cloudwatch:setAlarmState');
    expect(JSON.parse(schedule.target.input)).toMatchObject({ AlarmName: 'eventsock-api-key-expiry', StateValue: 'ALARM' });

    const role = Object.fromEntries(res(tf, 'aws_iam_role')).eventsock_api_key_expiry_role;
    expect(schedule.target.role_arn).toBe('${aws_iam_role.eventsock_api_key_expiry_role.arn}');
    const trust = JSON.parse(role.assume_role_policy).Statement as Stmt[];
    expect(trust).toEqual([{ Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': '${data.aws_arn.eventsock_account.account}' } } }]);
    const policy = res(tf, 'aws_iam_role_policy').find(([, p]) => p.role === '${aws_iam_role.eventsock_api_key_expiry_role.name}')![1] as { policy: string };
    const stmts = JSON.parse(policy.policy).Statement as Stmt[];
    expect(stmts).toHaveLength(1);
    expect(stmts[0].Action).toBe('cloudwatch:SetAlarmState');
    expect(stmts[0].Resource).toMatch(/:cloudwatch:.*:alarm:eventsock-api-key-expiry$/);
  });

  it('creates no alarm, schedule or role without alarms, nor anything without an API key', () => {
    const off = synthStack({ auth: { apiKey: {} }, alarms: { enabled: false } }).tf;
    expect(res(off, 'aws_scheduler_schedule')).toHaveLength(0);
    expect(res(off, 'aws_iam_role').map(([id]) => id)).not.toContain('eventsock_api_key_expiry_role');
    expect(res(off, 'aws_appsync_api_key')).toHaveLength(1);
    const none = synthStack({}).tf;
    expect(res(none, 'aws_appsync_api_key')).toHaveLength(0);
    expect(res(none, 'aws_scheduler_schedule')).toHaveLength(0);
  });
});
