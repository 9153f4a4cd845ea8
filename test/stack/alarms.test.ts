/**
 * The CloudWatch alarms: present by default with the right metrics, dimensions and
 * thresholds, none with alarms.enabled false, SNS actions wired; and the log metric
 * filter patterns matched (by a small evaluator of CloudWatch's JSON filter syntax)
 * against the lines the real handlers write through the real logger.
 */
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { createLogger } from '../../functions/shared/log';
import { ssmSecretSource } from '../../functions/shared/secrets';
import { PUBLISH_FAILURES, PUBLISH_SUMMARY_MSG, SECRET_READ_FAILED_MSG, SECRET_UNAVAILABLE } from '../../modules/alarms';
import { httpEvent, rigPublishHandler, startRig, type Rig } from '../publish/support';
import { event, NOW_MS, settingsFor, sign } from '../tokens/fixtures';
import { resources, synthStack, type Synth } from './synth-support';

type Json = Record<string, any>;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:on-call';

const alarms = (tf: Synth) => Object.fromEntries(resources(tf, 'aws_cloudwatch_metric_alarm').map(([, r]) => [r.alarm_name as string, r as Json]));
const filters = (tf: Synth) => resources(tf, 'aws_cloudwatch_log_metric_filter').map(([, r]) => r as Json);

describe('alarms in the stack', () => {
  it('are there by default: errors and throttles per function, failed publishes, unreadable secrets, API 5XX', () => {
    const { tf } = synthStack({ name: 'shop' });
    const a = alarms(tf);
    expect(Object.keys(a).sort()).toEqual(
      [
        'shop-api-5xx',
        'shop-authorizer-errors',
        'shop-authorizer-secret-unavailable',
        'shop-authorizer-throttles',
        'shop-history-errors',
        'shop-history-secret-unavailable',
        'shop-history-throttles',
        'shop-publish-errors',
        'shop-publish-failures',
        'shop-publish-secret-unavailable',
        'shop-publish-throttles',
        // The socket-publish function reads no secret: errors and throttles only.
        'shop-socket-publish-errors',
        'shop-socket-publish-throttles',
      ].sort(),
    );
    for (const alarm of Object.values(a)) {
      expect(alarm).toMatchObject({ statistic: 'Sum', period: 300, evaluation_periods: 1, threshold: 0, comparison_operator: 'GreaterThanThreshold', treat_missing_data: 'notBreaching', alarm_actions: [], ok_actions: [] });
      expect(alarm.alarm_description).toMatch(/docs\/errors\.md, section Alarms\.$/);
      expect(alarm.alarm_description.length).toBeLessThanOrEqual(1024);
    }
    for (const fn of ['authorizer', 'publish', 'history', 'socket-publish']) {
      const dimensions = { FunctionName: `\${aws_lambda_function.eventsock_${fn.replace('-', '_')}.function_name}` };
      expect(a[`shop-${fn}-errors`]).toMatchObject({ namespace: 'AWS/Lambda', metric_name: 'Errors', dimensions });
      expect(a[`shop-${fn}-throttles`]).toMatchObject({ namespace: 'AWS/Lambda', metric_name: 'Throttles', dimensions });
    }
    expect(a['shop-api-5xx']).toMatchObject({ namespace: 'AWS/AppSync', metric_name: '5XXError', dimensions: { EventAPIId: '${aws_appsync_api.eventsock_api.api_id}' } });
    expect(a['shop-publish-failures']).toMatchObject({ namespace: 'Eventsock/shop', metric_name: 'PublishFailedMessages' });
    expect(a['shop-publish-failures'].dimensions).toBeUndefined();
    expect(a['shop-history-secret-unavailable']).toMatchObject({ namespace: 'Eventsock/shop', metric_name: 'HistorySecretUnavailable' });

    // Each log-based alarm has a filter on its function's log group publishing exactly its metric.
    const f = filters(tf);
    expect(f).toHaveLength(4);
    for (const alarm of Object.values(a).filter((x) => x.namespace === 'Eventsock/shop')) {
      const feeding = f.filter((x) => x.metric_transformation.name === alarm.metric_name);
      expect(feeding).toHaveLength(1);
      expect(feeding[0].metric_transformation.namespace).toBe('Eventsock/shop');
      const fn = alarm.alarm_name.split('-')[1];
      expect(feeding[0].log_group_name).toBe(`\${aws_cloudwatch_log_group.eventsock_${fn}_logs.name}`);
    }
    const publishFilter = f.find((x) => x.metric_transformation.name === 'PublishFailedMessages')!;
    expect(publishFilter).toMatchObject({ pattern: PUBLISH_FAILURES.pattern, metric_transformation: { value: '$.failed' } });
  });

  it('creates none with alarms.enabled false, and none for history when history is off', () => {
    const { tf } = synthStack({ alarms: { enabled: false } });
    expect(resources(tf, 'aws_cloudwatch_metric_alarm')).toEqual([]);
    expect(resources(tf, 'aws_cloudwatch_log_metric_filter')).toEqual([]);
    const noHistory = synthStack({ history: { enabled: false } }).tf;
    expect(Object.keys(alarms(noHistory)).filter((n) => n.includes('history'))).toEqual([]);
    expect(Object.keys(alarms(noHistory))).toHaveLength(10);
    expect(filters(noHistory)).toHaveLength(3);
  });

  it('notifies the SNS topics on ALARM and on OK', () => {
    const other = 'arn:aws:sns:eu-west-1:123456789012:ops';
    const { tf } = synthStack({ alarms: { snsTopicArns: [TOPIC, other] } });
    const a = Object.values(alarms(tf));
    expect(a).toHaveLength(13);
    for (const alarm of a) expect(alarm).toMatchObject({ alarm_actions: [TOPIC, other], ok_actions: [TOPIC, other] });
  });
});

// ---- CloudWatch Logs JSON filter patterns: the subset the alarms use.
// `{ <expr> }` where <expr> is `$.field = "string"`, `$.field > number` (=, !=, <, >, <=, >=),
// parenthesized, joined by && and ||. Strings match exactly (the patterns use no `*`).

type Pred = (o: Json) => boolean;

function compileFilter(pattern: string): Pred {
  const m = /^\{\s*([\s\S]*?)\s*\}$/.exec(pattern);
  if (!m) throw new Error(`not a JSON filter pattern: ${pattern}`);
  const tokens = m[1].match(/\(|\)|&&|\|\||\$\.[A-Za-z0-9_.]+|!=|<=|>=|=|<|>|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?/g) ?? [];
  if (tokens.join('').replace(/\s/g, '') !== m[1].replace(/\s/g, '')) throw new Error(`unsupported syntax in ${pattern}`);
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`expected ${want ?? 'a token'} at ${i} in ${pattern}`);
    return t;
  };
  const primary = (): Pred => {
    if (peek() === '(') {
      take('(');
      const e = or();
      take(')');
      return e;
    }
    const sel = take();
    if (!sel.startsWith('$.')) throw new Error(`expected a selector, got ${sel}`);
    const path = sel.slice(2).split('.');
    const op = take();
    const lit = take();
    const want: string | number = lit.startsWith('"') ? (JSON.parse(lit) as string) : Number(lit);
    return (o) => {
      const v = path.reduce<any>((x, k) => (x == null ? undefined : x[k]), o);
      if (v === undefined || v === null) return false;
      if (typeof want === 'string') return op === '=' ? String(v) === want : op === '!=' ? String(v) !== want : false;
      if (typeof v !== 'number') return false;
      return { '=': v === want, '!=': v !== want, '<': v < want, '>': v > want, '<=': v <= want, '>=': v >= want }[op] ?? false;
    };
  };
  const and = (): Pred => {
    let left = primary();
    while (peek() === '&&') {
      take();
      const l = left;
      const r = primary();
      left = (o) => l(o) && r(o);
    }
    return left;
  };
  const or = (): Pred => {
    let left = and();
    while (peek() === '||') {
      take();
      const l = left;
      const r = and();
      left = (o) => l(o) || r(o);
    }
    return left;
  };
  const p = or();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${pattern}`);
  return p;
}

/** The value the metric filter publishes for a matching line: a literal, or `$.field`. */
const metricValue = (value: string, o: Json) => (value.startsWith('$.') ? Number(o[value.slice(2)]) : Number(value));

/** A real logger writing JSON lines, as the functions do on Lambda (stdout, one line each). */
function capture(fields: Record<string, unknown>) {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', fields, write: (l) => lines.push(l) }), parsed: () => lines.map((l) => JSON.parse(l) as Json) };
}

/** An SSM client that always fails as SSM does when throttled or unreachable. */
const failingSsm = {
  send: async () => {
    throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
  },
} as never;

describe('the log filter patterns, against the lines the functions write', () => {
  const publishFailures = compileFilter(PUBLISH_FAILURES.pattern);
  const secretUnavailable = compileFilter(SECRET_UNAVAILABLE.pattern);

  it('the evaluator reads the syntax as CloudWatch does', () => {
    const p = compileFilter('{ ($.a = "x y") && ($.n > 0) }');
    expect(p({ a: 'x y', n: 1 })).toBe(true);
    expect(p({ a: 'x y', n: 0 })).toBe(false);
    expect(p({ a: 'x', n: 1 })).toBe(false);
    expect(p({ n: 1 })).toBe(false);
    expect(compileFilter('{ ($.a = "1") || ($.b = "2") }')({ b: '2' })).toBe(true);
    expect(() => compileFilter('{ $.a ~ "x" }')).toThrow(/unsupported/);
  });

  describe('on the publish function', () => {
    let rig: Rig;
    beforeAll(async () => {
      rig = await startRig();
    }, 60_000);
    afterAll(() => rig.close());
    afterEach(() => {
      rig.endpoint.respond = undefined;
    });
    const KEYS = () => new Map(rig.settings.publish.apiKeyParameterNames.map((n, i) => [n, `publish-key-${i}-0123456789abcdef`]));
    const post = (body: unknown) => httpEvent({ path: '/publish', body: JSON.stringify(body), headers: { authorization: 'Bearer publish-key-0-0123456789abcdef' } });

    it('counts the messages whose delivery to the Event API failed for good, and not a publish that went through', async () => {
      const log = capture({ fn: 'publish' });
      const handler = rigPublishHandler(rig, KEYS(), { logger: log.logger });
      rig.endpoint.respond = () => ({ status: 500 });
      const failed = (await handler(post({ messages: [{ channel: 'room-1', event: 'e', data: 1 }, { channel: 'room-2', event: 'e', data: 2 }] }))) as { statusCode: number; body: string };
      expect(failed.statusCode).toBe(502);
      expect(JSON.parse(failed.body).results.map((r: Json) => r.error?.code)).toEqual(['DELIVERY_FAILED', 'DELIVERY_FAILED']);
      rig.endpoint.respond = () => ({ status: 400, body: { errors: [{ errorType: 'BadRequestException' }] }, headers: { 'x-amzn-ErrorType': 'BadRequestException' } });
      await handler(post({ channel: 'room-3', event: 'e', data: 3 }));
      rig.endpoint.respond = undefined;
      const ok = (await handler(post({ channel: 'room-4', event: 'e', data: 4 }))) as { statusCode: number };
      expect(ok.statusCode).toBe(202);

      const lines = log.parsed();
      const matched = lines.filter(publishFailures);
      expect(matched.map((l) => l.msg)).toEqual([PUBLISH_SUMMARY_MSG, PUBLISH_SUMMARY_MSG]);
      expect(matched.map((l) => metricValue(PUBLISH_FAILURES.value, l))).toEqual([2, 1]);
      // The successful publish wrote the same summary line with failed 0: not counted.
      expect(lines.filter((l) => l.msg === PUBLISH_SUMMARY_MSG)).toHaveLength(3);
      expect(lines.filter(secretUnavailable)).toEqual([]);
    });

    it('counts a publish answered SECRET_UNAVAILABLE because SSM failed', async () => {
      const log = capture({ fn: 'publish' });
      const secrets = ssmSecretSource(failingSsm, { ttlSeconds: 300, logger: log.logger.child({ component: 'secrets' }) });
      const handler = rigPublishHandler(rig, new Map(), { logger: log.logger, secrets });
      const res = (await handler(post({ channel: 'room-1', event: 'e', data: 1 }))) as { statusCode: number; body: string };
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body).error.code).toBe('SECRET_UNAVAILABLE');
      const matched = log.parsed().filter(secretUnavailable);
      expect(matched.map((l) => l.msg)).toEqual(expect.arrayContaining([SECRET_READ_FAILED_MSG, 'publish API keys could not be read']));
      expect(log.lines.join('\n')).not.toContain('publish-key-');
      expect(log.parsed().filter(publishFailures)).toEqual([]);
    });
  });

  it('counts an authorizer denial for SECRET_UNAVAILABLE, and not an ordinary denial', async () => {
    const log = capture({ fn: 'authorizer' });
    const secrets = ssmSecretSource(failingSsm, { ttlSeconds: 300, logger: log.logger.child({ component: 'secrets' }) });
    const authorize = createAuthorizerHandler({ settings: settingsFor(), secrets, logger: log.logger, now: () => NOW_MS });
    expect((await authorize(event('EVENT_CONNECT', await sign({ scope: ['connect'] })))).isAuthorized).toBe(false);
    const lines = log.parsed();
    const deny = lines.find((l) => l.msg === 'authorizer decision');
    expect(deny).toMatchObject({ decision: 'deny', reason: 'SECRET_UNAVAILABLE' });
    expect(secretUnavailable(deny!)).toBe(true);
    expect(lines.filter(secretUnavailable).map((l) => l.msg)).toEqual(expect.arrayContaining([SECRET_READ_FAILED_MSG, 'authorizer decision']));

    const ordinary = capture({ fn: 'authorizer' });
    const working = createAuthorizerHandler({ settings: settingsFor(), secrets: ssmSecretSource({ send: async () => ({ Parameter: { Value: 'x' } }) } as never, { ttlSeconds: 300 }), logger: ordinary.logger, now: () => NOW_MS });
    await working(event('EVENT_CONNECT', 'not-a-token'));
    expect(ordinary.parsed().some((l) => l.decision === 'deny')).toBe(true);
    expect(ordinary.parsed().filter(secretUnavailable)).toEqual([]);
  });
});
