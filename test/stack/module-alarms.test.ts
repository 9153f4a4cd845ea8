/**
 * The module's alarms variable: its default is resolveConfig's, it switches every alarm
 * and log metric filter with count (history's also with history.enabled), it wires the
 * SNS topics as alarm and OK actions, the module writes the stack's alarms, and bad topic
 * ARNs are refused naming alarms.sns_topic_arns by the same rule as core/config.ts.
 * Expressions are evaluated with terraform console (offline, no provider).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { FUNCTION_NAMES, type FunctionName } from '../../modules/functions';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../functions/core/config';
import { exportModule, type ExportedModule } from '../../modules/export-module';
import { MODULE_VARIABLES, SNS_TOPIC_ARN_REGEX } from '../../modules/module-variables';
import { PASS_THROUGH, synthStack } from './synth-support';
import { localsOnlyCopy, terraform } from './terraform-support';

type Json = Record<string, any>;
const root = mkdtempSync(join(tmpdir(), 'eventsock-module-alarms-'));
let mod: ExportedModule;
let main: Json;
let localsDir: string;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:on-call';

beforeAll(async () => {
  const zips = {} as Record<FunctionName, string>;
  for (const fn of FUNCTION_NAMES) {
    zips[fn] = join(root, `${fn}.zip`);
    writeFileSync(zips[fn], `stand-in zip for ${fn}`);
  }
  mod = await exportModule({ outDir: join(root, 'module'), zips, namespaceHandlers: PASS_THROUGH, archive: false });
  main = JSON.parse(readFileSync(join(mod.dir, 'main.tf.json'), 'utf8')) as Json;
  localsDir = localsOnlyCopy(mod.dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tfConsole(vars: string[], expr: string): { status: number | null; out: string } {
  const r = terraform(localsDir, ['console', '-no-color', ...vars.flatMap((v) => ['-var', v])], `${expr}\n`);
  return { status: r.status, out: r.out.trim() };
}
function evaluate(vars: string[], expr: string): unknown {
  const r = tfConsole(vars, `jsonencode(${expr})`);
  if (r.status !== 0) throw new Error(r.out);
  return JSON.parse(JSON.parse(r.out) as string);
}
const bare = (s: string) => {
  expect(s).toMatch(/^\$\{[\s\S]*\}$/);
  return s.slice(2, -1);
};

// The API key expiry alarm follows var.auth.api_key too (and exists in the stack only with an API key):
// test/stack/module-options.test.ts and api-key.test.ts cover it.
const moduleAlarms = () => (Object.entries(main.resource.aws_cloudwatch_metric_alarm as Json) as Array<[string, Json]>).filter(([k]) => k !== 'eventsock_alarm_api_key_expiry');
const moduleFilters = () => Object.entries(main.resource.aws_cloudwatch_log_metric_filter as Json) as Array<[string, Json]>;

describe('module alarms variable', () => {
  it('is declared with the defaults resolveConfig gives', () => {
    expect(MODULE_VARIABLES.map((v) => v.name)).toContain('alarms');
    const d = resolveConfig({}).alarms;
    expect(evaluate([], 'var.alarms')).toEqual({ enabled: d.enabled, sns_topic_arns: d.snsTopicArns });
  });

  it('writes the alarms and filters the stack writes, with the name from var.name', () => {
    const { tf } = synthStack({});
    const stackAlarms = tf.resource.aws_cloudwatch_metric_alarm as Record<string, Json>;
    const stackFilters = tf.resource.aws_cloudwatch_log_metric_filter as Record<string, Json>;
    expect(moduleAlarms().map(([k]) => k).sort()).toEqual(Object.keys(stackAlarms).sort());
    expect(moduleFilters().map(([k]) => k).sort()).toEqual(Object.keys(stackFilters).sort());
    const asStack = (r: Json) => {
      const { count: _c, alarm_actions: _a, ok_actions: _o, tags: _t, ...rest } = r;
      return JSON.parse(JSON.stringify(rest).split('${var.name}').join('eventsock'));
    };
    const withoutTags = ({ tags: _t, alarm_actions: _a, ok_actions: _o, ...rest }: Json) => rest;
    for (const [k, r] of moduleAlarms()) expect([k, asStack(r)]).toEqual([k, withoutTags(stackAlarms[k])]);
    for (const [k, r] of moduleFilters()) expect([k, asStack(r)]).toEqual([k, stackFilters[k]]);
  });

  it('switches every alarm and filter with alarms.enabled, history\'s also with history.enabled', () => {
    const all = [...moduleAlarms(), ...moduleFilters()];
    expect(all.length).toBe(17);
    // Each distinct count expression, evaluated once per case.
    const counts = [...new Set(all.map(([, r]) => bare(r.count)))];
    expect(counts).toHaveLength(2);
    const cases: Array<[string[], (key: string) => number]> = [
      [[], () => 1],
      [['alarms={ enabled = false }'], () => 0],
      [['history={ enabled = false }'], (k) => (k.includes('history') ? 0 : 1)],
      [['alarms={ enabled = false }', 'history={ enabled = false }'], () => 0],
    ];
    for (const [vars, expected] of cases) {
      const value = Object.fromEntries(counts.map((c) => [c, evaluate(vars, c)]));
      for (const [k, r] of all) expect([vars, k, value[bare(r.count)]]).toEqual([vars, k, expected(k)]);
    }
  });

  it('notifies alarms.sns_topic_arns on ALARM and on OK (none by default)', () => {
    const other = 'arn:aws-us-gov:sns:us-gov-west-1:123456789012:ops_pager';
    for (const [, r] of moduleAlarms()) {
      expect(r.alarm_actions).toBe('${var.alarms.sns_topic_arns}');
      expect(r.ok_actions).toBe('${var.alarms.sns_topic_arns}');
    }
    const expr = bare(moduleAlarms()[0][1].alarm_actions);
    expect(evaluate([], expr)).toEqual([]);
    expect(evaluate([`alarms={ sns_topic_arns = ["${TOPIC}", "${other}"] }`], expr)).toEqual([TOPIC, other]);
  });

  it('refuses bad topic ARNs naming alarms.sns_topic_arns, and accepts good ones', () => {
    const bad = ['on-call', 'arn:aws:sqs:eu-west-1:123456789012:on-call', 'arn:aws:sns:eu-west-1:12345:on-call', 'arn:aws:sns:eu-west-1:123456789012:a/b'];
    for (const t of bad) {
      const v = `alarms={ sns_topic_arns = ["${TOPIC}", "${t}"] }`;
      const r = tfConsole([v], 'var.name');
      // terraform console prints the validation error but exits 0, so the message is what counts.
      expect([v, r.out]).toEqual([v, expect.stringMatching(/alarms\.sns_topic_arns must be a list of distinct SNS topic ARNs/)]);
      expect(r.out).toMatch(/Invalid value for variable/);
    }
    expect(tfConsole([`alarms={ sns_topic_arns = ["${TOPIC}", "${TOPIC}"] }`], 'var.name').out).toMatch(/alarms\.sns_topic_arns must be a list of distinct/);
    for (const v of ['alarms={ enabled = false }', `alarms={ sns_topic_arns = ["${TOPIC}", "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"] }`]) {
      expect([v, tfConsole([v], 'var.name').out]).toEqual([v, '"eventsock"']);
    }
  });

  it('agrees with core/config.ts on SNS topic ARNs', () => {
    const accepts = (t: string) => {
      try {
        resolveConfig({ alarms: { snsTopicArns: [t] } });
        return true;
      } catch {
        return false;
      }
    };
    const samples = [TOPIC, 'arn:aws-cn:sns:cn-north-1:123456789012:x', 'arn:aws:sns:eu-west-1:123456789012:a.fifo', 'arn:aws:sns:eu-west-1:123456789012:a.b', 'arn:aws:sns:eu-west-1:123456789012:', 'arn:aws:sns:eu-west:123456789012:x', `arn:aws:sns:eu-west-1:123456789012:${'a'.repeat(256)}`, `arn:aws:sns:eu-west-1:123456789012:${'a'.repeat(257)}`, 'x'];
    for (const t of samples) expect([t, new RegExp(SNS_TOPIC_ARN_REGEX).test(t)]).toEqual([t, accepts(t)]);
  });
});
