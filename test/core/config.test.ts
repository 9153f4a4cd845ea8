import { resolveConfig, runtimeSettings, settingsFromEnv, SETTINGS_ENV } from '../../functions/core/config';
import { ConfigError } from '../../functions/core/errors';
import projectConfig from '../../eventsock.config';

function fieldOf(input: unknown): string | undefined {
  try {
    resolveConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).field;
  }
  return undefined;
}

describe('resolveConfig', () => {
  it('gives a working default: one namespace, HS256 with two generated keys, secure defaults', () => {
    const c = resolveConfig({});
    expect(c.name).toBe('eventsock');
    expect(Object.keys(c.namespaces)).toEqual(['default']);
    expect(c.defaultNamespace).toBe('default');
    expect(c.namespaces.default).toMatchObject({ clientPublish: false, publishAuthModes: ['AWS_IAM'], subscribeAuthModes: ['AWS_LAMBDA', 'AWS_IAM'], defaultStoreSeconds: 0, ordering: 'channel' });
    expect(c.tokens.algorithms).toEqual(['HS256']);
    expect(c.tokens.hs256Keys.map((k) => k.parameterName)).toEqual(['/eventsock/token-secret/k1', '/eventsock/token-secret/k2']);
    expect(c.publish.maxDataBytes).toBe(32768);
    expect(c.logging.retentionDays).toBe(30);
  });

  it('accepts the project config', () => {
    const c = resolveConfig(projectConfig);
    expect(c.namespaces.chat.clientPublish).toBe(true);
    expect(c.namespaces.chat.publishAuthModes).toEqual(['AWS_IAM', 'AWS_LAMBDA']);
  });

  it.each([
    [{ name: '-bad' }, 'name'],
    [{ nmae: 'x' }, 'nmae'],
    [{ namespaces: {} }, 'namespaces'],
    [{ namespaces: { 'bad_ns': {} } }, 'namespaces.bad_ns'],
    [{ namespaces: { default: { clientPublish: 'yes' } } }, 'namespaces.default.clientPublish'],
    [{ namespaces: { default: { publishAuthModes: ['API_KEY'] } } }, 'namespaces.default.publishAuthModes[0]'],
    [{ namespaces: { default: { publishAuthModes: ['AWS_LAMBDA'] } } }, 'namespaces.default.publishAuthModes'],
    [{ namespaces: { default: { defaultStoreSeconds: 3155695201 } } }, 'namespaces.default.defaultStoreSeconds'],
    [{ namespaces: { a: {}, b: {} } }, 'defaultNamespace'],
    [{ defaultNamespace: 'nope' }, 'defaultNamespace'],
    [{ tokens: { algorithms: ['none'] } }, 'tokens.algorithms[0]'],
    [{ tokens: { algorithms: ['RS256'] } }, 'tokens.algorithms'],
    [{ tokens: { hs256Keys: [{ kid: 'a' }, { kid: 'b' }, { kid: 'c' }] } }, 'tokens.hs256Keys'],
    [{ tokens: { hs256Keys: [{ kid: 'a' }, { kid: 'a' }] } }, 'tokens.hs256Keys[1].kid'],
    [{ tokens: { jwksUrl: 'http://insecure' , algorithms: ['ES256'] } }, 'tokens.jwksUrl'],
    [{ tokens: { jwks: [{ kty: 'EC', d: 'secret' }], algorithms: ['ES256'] } }, 'tokens.jwks[0]'],
    [{ publish: { maxDataBytes: 10 * 1024 * 1024 } }, 'publish.maxDataBytes'],
    [{ publish: { apiKeyParameterNames: ['/a'] } }, 'publish.apiKeyParameterNames'],
    [{ history: { corsAllowedOrigins: ['not an origin'] } }, 'history.corsAllowedOrigins[0]'],
    [{ publish: { corsAllowedOrigins: ['https://app.example.com', 'app.example.com'] } }, 'publish.corsAllowedOrigins[1]'],
    [{ publish: { corsAllowedOrigins: ['https://app.example.com/path'] } }, 'publish.corsAllowedOrigins[0]'],
    [{ publish: { corsAllowedOrigins: 'https://app.example.com' } }, 'publish.corsAllowedOrigins'],
    [{ logging: { retentionDays: 10 } }, 'logging.retentionDays'],
    [{ tags: { team: 5 } }, 'tags.team'],
    [{ authorizerResultTtlSeconds: 7200 }, 'authorizerResultTtlSeconds'],
    [{ alarms: true }, 'alarms'],
    [{ alarms: { enabled: 'yes' } }, 'alarms.enabled'],
    [{ alarms: { topics: [] } }, 'alarms.topics'],
    [{ alarms: { snsTopicArns: 'arn:aws:sns:eu-west-1:123456789012:on-call' } }, 'alarms.snsTopicArns'],
    [{ alarms: { snsTopicArns: ['arn:aws:sns:eu-west-1:123456789012:on-call', 'arn:aws:sns:eu-west-1:123456789012:on-call'] } }, 'alarms.snsTopicArns'],
  ])('refuses %j naming %s', (input, field) => {
    expect(fieldOf(input)).toBe(field);
  });

  it('gives the publish Function URL no CORS by default, and the origins given (checked as history checks its own)', () => {
    expect(resolveConfig({}).publish.corsAllowedOrigins).toEqual([]);
    expect(resolveConfig({ publish: { corsAllowedOrigins: [] } }).publish.corsAllowedOrigins).toEqual([]);
    expect(resolveConfig({ publish: { corsAllowedOrigins: ['https://app.example.com', 'http://localhost:5173'] } }).publish.corsAllowedOrigins).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(resolveConfig({ publish: { corsAllowedOrigins: ['*'] } }).publish.corsAllowedOrigins).toEqual(['*']);
    // The same message as history's rule, naming the publish option.
    expect(() => resolveConfig({ publish: { corsAllowedOrigins: ['ftp://x'] } })).toThrow(/publish\.corsAllowedOrigins\[0\].*must be '\*' or an origin such as https:\/\/app\.example\.com/);
    // History keeps its own default and still refuses an empty list.
    expect(resolveConfig({}).history.corsAllowedOrigins).toEqual(['*']);
    expect(fieldOf({ history: { corsAllowedOrigins: [] } })).toBe('history.corsAllowedOrigins');
  });

  it('turns the alarms on by default with no actions, and takes SNS topic ARNs only', () => {
    expect(resolveConfig({}).alarms).toEqual({ enabled: true, snsTopicArns: [] });
    expect(resolveConfig({ alarms: { enabled: false } }).alarms).toEqual({ enabled: false, snsTopicArns: [] });
    const topics = ['arn:aws:sns:eu-west-1:123456789012:on-call', 'arn:aws-us-gov:sns:us-gov-west-1:123456789012:ops_pager', 'arn:aws:sns:eu-west-1:123456789012:alerts.fifo'];
    expect(resolveConfig({ alarms: { snsTopicArns: topics } }).alarms.snsTopicArns).toEqual(topics);
    for (const bad of ['on-call', 'arn:aws:sqs:eu-west-1:123456789012:on-call', 'arn:aws:sns:eu-west-1:12345:on-call', 'arn:aws:sns:eu-west-1:123456789012:', 'arn:aws:sns:eu-west-1:123456789012:a/b']) {
      expect(() => resolveConfig({ alarms: { snsTopicArns: ['arn:aws:sns:eu-west-1:123456789012:ok', bad] } })).toThrow(/alarms\.snsTopicArns\[1\].*must be an SNS topic ARN/);
    }
  });

  it('round-trips runtime settings through the environment', () => {
    const s = runtimeSettings(resolveConfig(projectConfig), { eventApiHttpHost: 'x.appsync-api.eu-west-1.amazonaws.com', region: 'eu-west-1' });
    expect(s.tables).toEqual({ messages: 'eventsock-messages', heads: 'eventsock-heads', dedup: 'eventsock-dedup', presence: 'eventsock-presence', revocations: 'eventsock-revocations' });
    expect(settingsFromEnv({ [SETTINGS_ENV]: JSON.stringify(s) })).toEqual(s);
    expect(() => settingsFromEnv({})).toThrow(SETTINGS_ENV);
  });
});
