/**
 * What the Eventsock alarms watch, described once: the construct (eventsock.ts) creates
 * them, docs/errors.md explains them, and test/stack/alarms.test.ts runs the log filter
 * patterns against the lines the functions really write.
 *
 * Every alarm: Sum over 5 minutes > 0, one period, missing data is not breaching (no
 * traffic is no failure), actions from `alarms.snsTopicArns` on ALARM and on OK.
 */
import type { FunctionName } from './functions';

export const ALARM_PERIOD_SECONDS = 300;
export const ALARM_THRESHOLD = 0;

/** CloudWatch namespace of the metrics the log filters publish. */
export const alarmMetricNamespace = (name: string) => `Eventsock/${name}`;

/**
 * The publish function's summary line, written once per publish after delivery:
 * `{"level":"info","msg":"publish","messages":2,"failed":1,...}` (functions/publish/handler.ts).
 * `failed` counts the messages answered with an error after the request was accepted:
 * delivery to the Event API failed (DELIVERY_FAILED after its retries, DELIVERY_REFUSED),
 * storing or id allocation failed, or a duplicate was still in flight. The metric adds
 * up `failed`, so it counts messages, not requests.
 */
export const PUBLISH_SUMMARY_MSG = 'publish';
export const PUBLISH_FAILURES = {
  metricName: 'PublishFailedMessages',
  pattern: `{ ($.msg = "${PUBLISH_SUMMARY_MSG}") && ($.failed > 0) }`,
  value: '$.failed',
} as const;

/**
 * A secret (HS256 token secret, publish API key) that cannot be served, in any function:
 * the secret cache's own line (functions/shared/secrets.ts, when SSM fails and no earlier
 * value may be served), and the request lines that answer SECRET_UNAVAILABLE: the
 * publish and history handlers log it as `code`, the authorizer's deny as `reason`.
 */
export const SECRET_READ_FAILED_MSG = 'secret read failed; no value to serve';
export const SECRET_UNAVAILABLE = {
  metricName: (fn: FunctionName) => `${fn.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('')}SecretUnavailable`,
  pattern: `{ ($.msg = "${SECRET_READ_FAILED_MSG}") || ($.code = "SECRET_UNAVAILABLE") || ($.reason = "SECRET_UNAVAILABLE") }`,
  value: '1',
} as const;

/** Where docs/errors.md explains the alarms; every description ends with it. */
export const ALARMS_DOC = 'docs/errors.md, section Alarms';

const WHAT: Record<FunctionName, string> = {
  authorizer: 'WebSocket connects, subscribes and client publishes are refused while it fails',
  publish: 'publish API calls fail (500 INTERNAL, or the IAM invoke errors)',
  history: 'history API calls fail',
  'socket-publish': 'client WebSocket publishes to socketPublish: pipeline namespaces fail (the publisher gets an error, nothing is delivered)',
};

export function alarmDescriptions(name: string, fn: FunctionName) {
  const logs = `/aws/lambda/${name}-${fn}`;
  return {
    errors: `Eventsock ${name}: the ${fn} function failed (Lambda Errors > 0 in 5 minutes: an unhandled error, a timeout or out of memory); ${WHAT[fn]}. Look in ${logs} for level "error" lines and "Task timed out"; roll back a recent deploy if it started then. See ${ALARMS_DOC}.`,
    throttles: `Eventsock ${name}: Lambda throttled the ${fn} function (Throttles > 0 in 5 minutes: the account's or the function's concurrency limit was reached); ${WHAT[fn]}. Check ConcurrentExecutions and the traffic that spiked; ask for a higher concurrency quota or lower reserved concurrency elsewhere. See ${ALARMS_DOC}.`,
    secretUnavailable: `Eventsock ${name}: the ${fn} function could not read a secret from SSM and answered SECRET_UNAVAILABLE. Search ${logs} for "secret read failed" (parameterName, error, httpStatus): check that the parameter exists and is not empty, that the function's role may ssm:GetParameter it (and kms:Decrypt for a customer key), and SSM throttling. See ${ALARMS_DOC}.`,
  };
}

export function publishFailuresDescription(name: string): string {
  return `Eventsock ${name}: the publish API answered messages with an error after accepting them (most often DELIVERY_FAILED or DELIVERY_REFUSED: the Event API did not take the event). Search /aws/lambda/${name}-publish for { $.msg = "publish" && $.failed > 0 } and the error lines with the same requestId; check the API 5XX alarm and the AppSync service health. Publishers should retry with the same deduplicationId. See ${ALARMS_DOC}.`;
}

export function api5xxDescription(name: string): string {
  return `Eventsock ${name}: the Event API answered 5XX to HTTP publishes (AWS/AppSync 5XXError for its EventAPIId > 0 in 5 minutes), an error on the AppSync side; the publish function retries these and reports what still fails in its own alarm. Check the API's log group /aws/appsync/apis/<api id>, and the AWS Health Dashboard for AppSync. See ${ALARMS_DOC}.`;
}
