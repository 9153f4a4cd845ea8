/**
 * The AppSync API key (API_KEY auth mode), renewed on every apply, and an alarm before
 * it lapses.
 *
 * Lifetime: AppSync takes `expires` 1 to 365 days from creation or update, rounded down to
 * the hour (AWS AppSync API reference, CreateApiKey / UpdateApiKey `expires` and
 * ApiKeyValidityOutOfBoundsException). `expires` is written as the start of the plan's UTC
 * day (`plantimestamp()`, known at plan time, unlike `timestamp()`) plus `lifetimeDays`, so:
 * - plans on the same UTC day show no change;
 * - the first apply on a later day moves `expires` forward in place (UpdateApiKey; the key
 *   value stays the same), the sliding window serverless-appsync-plugin's `expiresAfter`
 *   also uses ("extends after each deployment", its doc/API-keys.md);
 * - a key whose stack is not applied for `lifetimeDays` still lapses: hence the alarm.
 * The earlier `ignore_changes = [expires]` pinned the first expiry forever (7 days).
 *
 * Alarm: CloudWatch has no metric for a key's expiry, so `<name>-api-key-expiry` watches a
 * metric nothing sends (it stays OK) and an EventBridge Scheduler one-time schedule sets it
 * to ALARM `apiKeyWarningDays(lifetimeDays)` days before `expires`, through the Scheduler's
 * universal target for CloudWatch SetAlarmState (Scheduler user guide, "Using universal
 * targets": arn:aws:scheduler:::aws-sdk:cloudwatch:setAlarmState). The alarm notifies the
 * alarm topics like every other alarm; its next evaluation returns it to OK. Each renewal
 * moves the schedule with the key. The Scheduler's role may only set that one alarm.
 */
import type { Construct } from 'constructs';
import type { TerraformElement } from 'cdktf';
import { AppsyncApiKey } from '@cdktf/provider-aws/lib/appsync-api-key';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { SchedulerSchedule } from '@cdktf/provider-aws/lib/scheduler-schedule';
import { API_KEY_LIFETIME_DAYS, apiKeyWarningDays } from '../functions/core/config';
import { policyDocument } from './policy';

/** The metric the expiry alarm watches; nothing sends it, so only the schedule changes the alarm's state. */
export const API_KEY_EXPIRY_METRIC = 'ApiKeyExpiring';

/** HCL: the start of the plan's UTC day. */
export const PLAN_DAY_START = `formatdate("YYYY-MM-DD'T'00:00:00Z", plantimestamp())`;

/** HCL: `expires` for a lifetime given in days (an HCL number expression). */
export function expiresExpr(lifetimeDays: string): string {
  return `timeadd(${PLAN_DAY_START}, "\${(${lifetimeDays}) * 24}h")`;
}

/** HCL: the Scheduler's `at()` expression, `warningDays` (HCL number) before `expires`. */
export function warningAtExpr(lifetimeDays: string, warningDays: string): string {
  return `"at(\${formatdate("YYYY-MM-DD'T'hh:mm:ss", timeadd(${PLAN_DAY_START}, "\${((${lifetimeDays}) - (${warningDays})) * 24}h"))})"`;
}

export interface ApiKeyProps {
  name: string;
  apiId: string;
  description: string;
  lifetimeDays?: number;
  /** Where alarms notify; undefined: no alarm (alarms.enabled false). */
  alarmActions?: string[];
  /** arn:<partition>:cloudwatch:<region>:<account>:alarm: */
  alarmArnPrefix: string;
  account: string;
  tags: Record<string, string>;
  /** Names each resource's logical id as the construct does. */
  named: <T extends TerraformElement>(r: T, logical: string) => T;
}

/** The resources, created directly in `scope` (the Eventsock construct). */
export class EventsockApiKey {
  readonly key: AppsyncApiKey;
  readonly alarm?: CloudwatchMetricAlarm;
  readonly schedule?: SchedulerSchedule;
  readonly schedulerRole?: IamRole;
  readonly schedulerPolicy?: IamRolePolicy;

  constructor(scope: Construct, p: ApiKeyProps) {
    const days = p.lifetimeDays ?? API_KEY_LIFETIME_DAYS.default;
    this.key = p.named(
      new AppsyncApiKey(scope, 'api_key', { apiId: p.apiId, description: p.description, expires: `\${${expiresExpr(String(days))}}` }),
      'api_key',
    );
    if (!p.alarmActions) return;
    const alarmName = `${p.name}-api-key-expiry`;
    this.alarm = p.named(
      new CloudwatchMetricAlarm(scope, 'alarm_api_key_expiry', {
        alarmName,
        alarmDescription: `Eventsock ${p.name}: the AppSync API key (API_KEY auth) expires in ${apiKeyWarningDays(days)} days or less. Run terraform apply (cdktf deploy) to renew it for auth.apiKey.lifetimeDays; clients using it are refused once it lapses.`,
        namespace: `Eventsock/${p.name}`,
        metricName: API_KEY_EXPIRY_METRIC,
        statistic: 'Maximum',
        period: 3600,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: p.alarmActions,
        okActions: p.alarmActions,
        tags: p.tags,
      }),
      'alarm_api_key_expiry',
    );
    this.schedulerRole = p.named(
      new IamRole(scope, 'api_key_expiry_role', {
        name: `${p.name}-api-key-expiry`,
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'scheduler.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': p.account } } }],
        }),
        tags: p.tags,
      }),
      'api_key_expiry_role',
    );
    this.schedulerPolicy = p.named(
      new IamRolePolicy(scope, 'api_key_expiry_policy', {
        name: 'set-api-key-expiry-alarm',
        role: this.schedulerRole.name,
        policy: policyDocument([{ Sid: 'RaiseTheExpiryAlarm', Action: 'cloudwatch:SetAlarmState', Resource: `${p.alarmArnPrefix}${alarmName}` }]),
      }),
      'api_key_expiry_policy',
    );
    this.schedule = p.named(
      new SchedulerSchedule(scope, 'api_key_expiry_schedule', {
        name: `${p.name}-api-key-expiry`,
        description: `Eventsock ${p.name}: raises ${alarmName} before the AppSync API key lapses`,
        scheduleExpression: `\${${warningAtExpr(String(days), String(apiKeyWarningDays(days)))}}`,
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: 'arn:aws:scheduler:::aws-sdk:cloudwatch:setAlarmState',
          roleArn: this.schedulerRole.arn,
          input: JSON.stringify({
            AlarmName: alarmName,
            StateValue: 'ALARM',
            StateReason: 'The AppSync API key lapses soon: run terraform apply (cdktf deploy) to renew it.',
          }),
        },
      }),
      'api_key_expiry_schedule',
    );
  }
}
