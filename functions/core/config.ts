/**
 * The one Eventsock configuration. `eventsock.config.ts` at the project root
 * exports a `defineConfig({...})`; `resolveConfig` validates it (errors name the
 * field) and fills in the secure defaults. The CDKTF stack and the local emulator
 * both read the resolved config, and both hand the handlers the same
 * `RuntimeSettings` derived from it, so there is one description of each fact.
 */
import { ConfigError } from './errors';
import { LIMITS } from './limits';
import { isValidSegment } from './channels';
import { own, ownRecord } from './own';
import { TABLES, type TableName, tableName } from './tables';

export type AuthMode = 'AWS_LAMBDA' | 'AWS_IAM' | 'API_KEY' | 'OPENID_CONNECT' | 'AMAZON_COGNITO_USER_POOLS';
export const AUTH_MODES: readonly AuthMode[] = ['AWS_LAMBDA', 'AWS_IAM', 'API_KEY', 'OPENID_CONNECT', 'AMAZON_COGNITO_USER_POOLS'];

export type TokenAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
export const TOKEN_ALGORITHMS: readonly TokenAlgorithm[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];

/** CloudWatch Logs' allowed retention values, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

export interface NamespaceConfig {
  /** Auth modes allowed to publish. Default: `['AWS_IAM']`, plus `AWS_LAMBDA` when `clientPublish`. */
  publishAuthModes?: AuthMode[];
  /** Auth modes allowed to subscribe. Default: `['AWS_LAMBDA', 'AWS_IAM']`. */
  subscribeAuthModes?: AuthMode[];
  /** Clients whose token grants `publish` may publish over their WebSocket. Default: false. */
  clientPublish?: boolean;
  /** Seconds to keep a message published without `store` (0 = not stored, -1 = forever). Default: 0. */
  defaultStoreSeconds?: number;
  /** `channel`: ids strictly increase within a channel, also under concurrent publishers. `none`: ids are only time-ordered. Default: `channel`. */
  ordering?: 'channel' | 'none';
  /** Allow `/*` wildcard subscriptions in this namespace. Default: true. */
  allowWildcardSubscribe?: boolean;
  /**
   * With `clientPublish`: how a client's WebSocket publish is handled. `pipeline`: through
   * the socket-publish function (a Lambda data source on the namespace: grants, dedup, ids in
   * channel order with the publish API's, storage, meta from the token). `direct`: by the
   * APPSYNC_JS handler alone (not stored, ids from its clock). Default: `pipeline` when
   * `clientPublish`, else `direct` (nothing to route).
   */
  socketPublish?: SocketPublishMode;
  /**
   * With `socketPublish: 'pipeline'`: each client WebSocket publish the pipeline accepts also
   * goes to EventBridge (`eventsock.pubsub`, as the publish API's `emitPubSubEvent`), which a
   * client cannot ask for itself. Default: false.
   */
  socketPublishEvents?: boolean;
  /**
   * Presence on this namespace's channels: a client whose token grants `subscribe` and carries a
   * `uid` joins with heartbeats (`POST /presence` on the publish URL), subscribers get
   * `eventsock.member_added` / `eventsock.member_removed`, and `GET /presence` on the history URL
   * lists members. Default: false.
   */
  presence?: boolean;
  /** With `presence`: joins and leaves also go to EventBridge (`eventsock.presence.member_added` / `_removed`). Default: false. */
  presenceEvents?: boolean;
}

export type SocketPublishMode = 'direct' | 'pipeline';

/** An HS256 secret slot: the token's `kid` header picks it; its value lives in SSM. */
export interface Hs256Key {
  kid: string;
  /** SSM SecureString parameter holding the secret. Default: `/<name>/token-secret/<kid>`, generated at deploy. */
  parameterName?: string;
}

export interface TokenConfig {
  /** Allowed JWT algorithms. Default: `['HS256']`. */
  algorithms?: TokenAlgorithm[];
  /** At most two HS256 secrets (rotation without downtime). Default: kids `k1` and `k2`, both generated. */
  hs256Keys?: Hs256Key[];
  /** Inline public JWKs for RS256/ES256/EdDSA (each with a `kid`). */
  jwks?: Array<Record<string, unknown>>;
  /** An https JWKS URL for RS256/ES256/EdDSA. */
  jwksUrl?: string;
  /** Required `iss` (one or a list). Default: not checked. */
  issuer?: string | string[];
  /** Required `aud` (one or a list). Default: not checked. */
  audience?: string | string[];
  /** Refuse tokens whose `iat` is older than this (seconds). Default: not checked. */
  maxTokenAgeSeconds?: number;
  /** Clock skew allowed on exp/nbf/iat, seconds. Default: 5. */
  clockToleranceSeconds?: number;
  /** How long HS256 secrets read from SSM are cached before a refresh, seconds. Default: 300. */
  secretsCacheSeconds?: number;
}

export interface PublishConfig {
  /** Serve the publish API on a Function URL with bearer API keys. Default: true. */
  httpEndpoint?: boolean;
  /** Largest serialized `data`, bytes. Default: 32768; at most what fits in one AppSync event with its envelope. */
  maxDataBytes?: number;
  /** Two SSM SecureString parameters holding the publish API keys. Default: `/<name>/publish-api-key/1` and `/2`, generated. */
  apiKeyParameterNames?: [string, string];
  /** EventBridge bus for `emitPubSubEvent`. Default: `default`. */
  eventBusName?: string;
  /**
   * Origins allowed by CORS on the publish Function URL, so browsers can publish stored
   * messages with their JWT. Default: `[]`, no CORS (browsers cannot call it). Same rule as
   * `history.corsAllowedOrigins`: `'*'` or origins such as `https://app.example.com`.
   */
  corsAllowedOrigins?: string[];
}

export interface PresenceConfig {
  /** Seconds between a member's heartbeats (the client sends them). A member is removed after missing two. Default: 30. */
  heartbeatSeconds?: number;
  /** Seconds between sweeps that remove members whose heartbeats stopped (a whole number of minutes: EventBridge's smallest rate is 1 minute). Default: 60. */
  sweepSeconds?: number;
  /** Members one channel may have; a join past it is refused with MEMBER_LIMIT. Default: 10000. */
  maxMembersPerChannel?: number;
}

export interface HistoryConfig {
  /** Serve the history API. Default: true. */
  enabled?: boolean;
  /** Origins allowed by CORS on the history Function URL. Default: `['*']` (it is bearer-token authenticated, no cookies). */
  corsAllowedOrigins?: string[];
}

/** Optional extra AppSync auth providers, beside AWS_LAMBDA (the authorizer) and AWS_IAM. */
/**
 * AppSync API key lifetime: the service takes 1 to 365 days from creation or update
 * (CreateApiKey / UpdateApiKey `expires`, ApiKeyValidityOutOfBoundsException; the AWS
 * AppSync API reference), rounded down to the hour. The key is renewed from the start
 * of the apply's UTC day, so at least 2 days keep it over 1 day from the apply.
 */
export const API_KEY_LIFETIME_DAYS = { min: 2, max: 365, default: 365 } as const;
/** The expiry alarm fires this many days before the key lapses (half the lifetime for shorter ones). */
export const API_KEY_WARNING_DAYS = 30;
export function apiKeyWarningDays(lifetimeDays: number): number {
  return Math.min(API_KEY_WARNING_DAYS, Math.floor(lifetimeDays / 2));
}

export interface ExtraAuthConfig {
  /**
   * Create an AppSync API key (API_KEY mode). It is valid for `lifetimeDays` (2-365,
   * default 365) from the UTC day of the latest apply: every apply on a later day renews
   * it, and an alarm fires `API_KEY_WARNING_DAYS` before it lapses (modules/api-key.ts).
   */
  apiKey?: { description?: string; lifetimeDays?: number };
  openIdConnect?: { issuer: string; clientId?: string; authTtlSeconds?: number; iatTtlSeconds?: number };
  cognito?: { userPoolId: string; awsRegion: string; appIdClientRegex?: string };
}

export interface EventsockConfig {
  /** API name and prefix of every resource. 1-40 letters, digits or '-'. Default: `eventsock`. */
  name?: string;
  /** Namespace for bare channel names in the publish API. Default: `default`. */
  defaultNamespace?: string;
  /** Channel namespaces. Default: `{ default: {} }`. */
  namespaces?: Record<string, NamespaceConfig>;
  tokens?: TokenConfig;
  publish?: PublishConfig;
  history?: HistoryConfig;
  /** Presence timings and limits (namespaces turn it on with `presence: true`). */
  presence?: PresenceConfig;
  auth?: ExtraAuthConfig;
  /** Seconds AppSync caches an authorizer answer when the authorizer sets no ttlOverride (0-3600). Default: 0. */
  authorizerResultTtlSeconds?: number;
  /** Log retention (days, a CloudWatch value) and AppSync's field log level. Default: 30 days, `ERROR`. */
  logging?: { retentionDays?: number; appSyncLogLevel?: 'NONE' | 'ERROR' | 'INFO' | 'DEBUG' | 'ALL' };
  /** Tags on every resource. */
  tags?: Record<string, string>;
  /**
   * CloudWatch alarms on the functions (errors, throttles), on failed publishes, on unreadable
   * secrets and on the Event API's 5XXError. Default: enabled, with no actions (`snsTopicArns: []`).
   */
  alarms?: AlarmsConfig;
}

export interface AlarmsConfig {
  /** Create the alarms. Default: true. */
  enabled?: boolean;
  /** SNS topics notified when an alarm fires and when it recovers (alarm_actions and ok_actions). Default: `[]`. */
  snsTopicArns?: string[];
}

export interface ResolvedNamespace {
  name: string;
  publishAuthModes: AuthMode[];
  subscribeAuthModes: AuthMode[];
  clientPublish: boolean;
  defaultStoreSeconds: number;
  ordering: 'channel' | 'none';
  allowWildcardSubscribe: boolean;
  socketPublish: SocketPublishMode;
  socketPublishEvents: boolean;
  presence: boolean;
  presenceEvents: boolean;
}

export interface ResolvedPresence {
  heartbeatSeconds: number;
  sweepSeconds: number;
  maxMembersPerChannel: number;
  /** A member whose last heartbeat is older than this is removed: two missed heartbeats plus a grace (presenceTimeoutSeconds). */
  timeoutSeconds: number;
}

/**
 * Two missed heartbeats plus a grace for a slow network: `2 * heartbeat + min(5, heartbeat / 2)`
 * (whole seconds, at least 1 of grace). 30 s heartbeats: 65 s.
 */
/** `{ eventsock: PRESENCE_SWEEP }` invokes the publish function's presence sweep (the stack's schedule, the emulator's timer). */
export const PRESENCE_SWEEP = 'presence-sweep';

export function presenceTimeoutSeconds(heartbeatSeconds: number): number {
  return 2 * heartbeatSeconds + Math.max(1, Math.min(5, Math.floor(heartbeatSeconds / 2)));
}

export interface ResolvedConfig {
  name: string;
  defaultNamespace: string;
  namespaces: Record<string, ResolvedNamespace>;
  tokens: Required<Pick<TokenConfig, 'algorithms' | 'clockToleranceSeconds' | 'secretsCacheSeconds'>> &
    Omit<TokenConfig, 'algorithms' | 'clockToleranceSeconds' | 'secretsCacheSeconds' | 'hs256Keys'> & {
      hs256Keys: Array<Required<Hs256Key> & { generated: boolean }>;
    };
  publish: { httpEndpoint: boolean; maxDataBytes: number; apiKeyParameterNames: [string, string]; apiKeysGenerated: boolean; eventBusName: string; corsAllowedOrigins: string[] };
  history: { enabled: boolean; corsAllowedOrigins: string[] };
  presence: ResolvedPresence;
  auth: ExtraAuthConfig;
  authorizerResultTtlSeconds: number;
  logging: { retentionDays: number; appSyncLogLevel: 'NONE' | 'ERROR' | 'INFO' | 'DEBUG' | 'ALL' };
  tags: Record<string, string>;
  alarms: { enabled: boolean; snsTopicArns: string[] };
}

/** Identity helper that gives `eventsock.config.ts` its types. */
export function defineConfig(config: EventsockConfig): EventsockConfig {
  return config;
}

/** The largest `publish.maxDataBytes`: one AppSync event minus room for the envelope around `data`. */
export const MAX_DATA_BYTES_CEILING = LIMITS.eventMaxBytes - 4096;

const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?$/;
const KID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const SSM_NAME_RE = /^\/[A-Za-z0-9_.\-/]{1,1010}$/;
/** An SNS topic ARN: arn:<partition>:sns:<region>:<account>:<topic>. The module's SNS_TOPIC_ARN_REGEX is the same rule. */
export const SNS_TOPIC_ARN_RE = /^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], at: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(at ? `${at}.${k}` : k, `unknown option; expected one of ${allowed.join(', ')}`);
  }
}

function optObject(v: unknown, field: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isObject(v)) throw new ConfigError(field, 'must be an object');
  return v;
}

function bool(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(field, 'must be true or false');
  return v;
}

function int(v: unknown, field: string, dflt: number | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(field, 'must be a whole number');
  if (v < min || v > max) throw new ConfigError(field, `must be between ${min} and ${max} (got ${v})`);
  return v;
}

/** Function URL CORS origins (history and publish): each `'*'` or an origin; the module's ORIGIN_REGEX is the same rule. */
function corsOrigins(v: unknown, field: string, allowEmpty: boolean): string[] {
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0)) throw new ConfigError(field, allowEmpty ? 'must be a list of origins' : 'must be a non-empty list of origins');
  return v.map((o, i) => str(o, `${field}[${i}]`, /^(\*|https?:\/\/[^/\s]+)$/, "must be '*' or an origin such as https://app.example.com"));
}

function str(v: unknown, field: string, re?: RegExp, hint?: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(field, 'must be a non-empty string');
  if (re && !re.test(v)) throw new ConfigError(field, hint ?? `must match ${re}`);
  return v;
}

function strOrList(v: unknown, field: string): string | string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && v.length > 0) return v;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.length > 0)) return v as string[];
  throw new ConfigError(field, 'must be a non-empty string or a non-empty list of strings');
}

function authModes(v: unknown, field: string, dflt: AuthMode[], enabled: Set<AuthMode>): AuthMode[] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(field, `must be a non-empty list of ${AUTH_MODES.join(', ')}`);
  const seen = new Set<AuthMode>();
  v.forEach((m, i) => {
    if (!(AUTH_MODES as readonly unknown[]).includes(m)) throw new ConfigError(`${field}[${i}]`, `must be one of ${AUTH_MODES.join(', ')}`);
    if (!enabled.has(m as AuthMode)) throw new ConfigError(`${field}[${i}]`, `${m} is not configured on the API (see config.auth)`);
    if (seen.has(m as AuthMode)) throw new ConfigError(`${field}[${i}]`, `${m} is listed twice`);
    seen.add(m as AuthMode);
  });
  return [...seen];
}

/** Validates a config and fills in the defaults. Throws ConfigError naming the field. */
export function resolveConfig(input: unknown = {}): ResolvedConfig {
  const c = optObject(input, '(root)');
  checkKeys(c, ['name', 'defaultNamespace', 'namespaces', 'tokens', 'publish', 'history', 'presence', 'auth', 'authorizerResultTtlSeconds', 'logging', 'tags', 'alarms'], '');
  const name = c.name === undefined ? 'eventsock' : str(c.name, 'name', NAME_RE, "must be 1-40 letters, digits or '-', not starting or ending with '-'");

  // Extra auth providers decide which modes namespaces may use.
  const auth = optObject(c.auth, 'auth');
  checkKeys(auth, ['apiKey', 'openIdConnect', 'cognito'], 'auth');
  const enabled = new Set<AuthMode>(['AWS_LAMBDA', 'AWS_IAM']);
  if (auth.apiKey !== undefined) {
    const k = optObject(auth.apiKey, 'auth.apiKey');
    if (k.expiresInDays !== undefined) {
      throw new ConfigError('auth.apiKey.expiresInDays', 'is now auth.apiKey.lifetimeDays: the key is renewed on every apply to that many days (2-365, default 365)');
    }
    checkKeys(k, ['description', 'lifetimeDays'], 'auth.apiKey');
    if (k.description !== undefined) str(k.description, 'auth.apiKey.description');
    int(k.lifetimeDays, 'auth.apiKey.lifetimeDays', undefined, API_KEY_LIFETIME_DAYS.min, API_KEY_LIFETIME_DAYS.max);
    enabled.add('API_KEY');
  }
  if (auth.openIdConnect !== undefined) {
    const o = optObject(auth.openIdConnect, 'auth.openIdConnect');
    checkKeys(o, ['issuer', 'clientId', 'authTtlSeconds', 'iatTtlSeconds'], 'auth.openIdConnect');
    str(o.issuer, 'auth.openIdConnect.issuer', /^https:\/\//, 'must be an https:// URL');
    if (o.clientId !== undefined) str(o.clientId, 'auth.openIdConnect.clientId');
    int(o.authTtlSeconds, 'auth.openIdConnect.authTtlSeconds', undefined, 0, 31_536_000);
    int(o.iatTtlSeconds, 'auth.openIdConnect.iatTtlSeconds', undefined, 0, 31_536_000);
    enabled.add('OPENID_CONNECT');
  }
  if (auth.cognito !== undefined) {
    const o = optObject(auth.cognito, 'auth.cognito');
    checkKeys(o, ['userPoolId', 'awsRegion', 'appIdClientRegex'], 'auth.cognito');
    str(o.userPoolId, 'auth.cognito.userPoolId');
    str(o.awsRegion, 'auth.cognito.awsRegion', /^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1');
    if (o.appIdClientRegex !== undefined) str(o.appIdClientRegex, 'auth.cognito.appIdClientRegex');
    enabled.add('AMAZON_COGNITO_USER_POOLS');
  }

  const rawNs = c.namespaces === undefined ? { default: {} } : c.namespaces;
  if (!isObject(rawNs) || Object.keys(rawNs).length === 0) throw new ConfigError('namespaces', 'must be an object with at least one namespace');
  const namespaces: Record<string, ResolvedNamespace> = {};
  for (const [ns, raw] of Object.entries(rawNs)) {
    const at = `namespaces.${ns}`;
    if (!isValidSegment(ns)) throw new ConfigError(at, `namespace name must be 1-${LIMITS.segmentMaxLength} letters, digits or '-', not starting or ending with '-'`);
    const n = optObject(raw, at);
    checkKeys(n, ['publishAuthModes', 'subscribeAuthModes', 'clientPublish', 'defaultStoreSeconds', 'ordering', 'allowWildcardSubscribe', 'socketPublish', 'socketPublishEvents', 'presence', 'presenceEvents'], at);
    const clientPublish = bool(n.clientPublish, `${at}.clientPublish`, false);
    const publishAuthModes = authModes(n.publishAuthModes, `${at}.publishAuthModes`, clientPublish ? ['AWS_IAM', 'AWS_LAMBDA'] : ['AWS_IAM'], enabled);
    if (!publishAuthModes.includes('AWS_IAM')) {
      throw new ConfigError(`${at}.publishAuthModes`, 'must include AWS_IAM: the publish API delivers with IAM');
    }
    if (clientPublish && !publishAuthModes.includes('AWS_LAMBDA')) {
      throw new ConfigError(`${at}.publishAuthModes`, 'must include AWS_LAMBDA when clientPublish is true');
    }
    const store = n.defaultStoreSeconds;
    if (store !== undefined && store !== -1) int(store, `${at}.defaultStoreSeconds`, 0, 0, LIMITS.storeMaxSeconds);
    if (n.ordering !== undefined && n.ordering !== 'channel' && n.ordering !== 'none') throw new ConfigError(`${at}.ordering`, "must be 'channel' or 'none'");
    if (n.socketPublish !== undefined && n.socketPublish !== 'direct' && n.socketPublish !== 'pipeline') throw new ConfigError(`${at}.socketPublish`, "must be 'direct' or 'pipeline'");
    if (n.socketPublish === 'pipeline' && !clientPublish) throw new ConfigError(`${at}.socketPublish`, "'pipeline' needs clientPublish: true (only client publishes go through it)");
    const socketPublish = (n.socketPublish as SocketPublishMode | undefined) ?? (clientPublish ? 'pipeline' : 'direct');
    const socketPublishEvents = bool(n.socketPublishEvents, `${at}.socketPublishEvents`, false);
    if (socketPublishEvents && socketPublish !== 'pipeline') throw new ConfigError(`${at}.socketPublishEvents`, "needs socketPublish: 'pipeline' (only the pipeline sees client publishes)");
    const presence = bool(n.presence, `${at}.presence`, false);
    const presenceEvents = bool(n.presenceEvents, `${at}.presenceEvents`, false);
    if (presenceEvents && !presence) throw new ConfigError(`${at}.presenceEvents`, 'needs presence: true (there are no joins and leaves to send)');
    namespaces[ns] = {
      name: ns,
      publishAuthModes,
      subscribeAuthModes: authModes(n.subscribeAuthModes, `${at}.subscribeAuthModes`, ['AWS_LAMBDA', 'AWS_IAM'], enabled),
      clientPublish,
      defaultStoreSeconds: (store as number | undefined) ?? 0,
      ordering: (n.ordering as 'channel' | 'none' | undefined) ?? 'channel',
      allowWildcardSubscribe: bool(n.allowWildcardSubscribe, `${at}.allowWildcardSubscribe`, true),
      socketPublish,
      socketPublishEvents,
      presence,
      presenceEvents,
    };
  }
  let defaultNs: string;
  if (c.defaultNamespace !== undefined) defaultNs = str(c.defaultNamespace, 'defaultNamespace');
  else if (own(namespaces, 'default')) defaultNs = 'default';
  else if (Object.keys(namespaces).length === 1) defaultNs = Object.keys(namespaces)[0];
  else throw new ConfigError('defaultNamespace', 'must be set when there are several namespaces and none is called default');
  if (!own(namespaces, defaultNs)) throw new ConfigError('defaultNamespace', `names no configured namespace (${Object.keys(namespaces).join(', ')})`);

  const t = optObject(c.tokens, 'tokens');
  checkKeys(t, ['algorithms', 'hs256Keys', 'jwks', 'jwksUrl', 'issuer', 'audience', 'maxTokenAgeSeconds', 'clockToleranceSeconds', 'secretsCacheSeconds'], 'tokens');
  let algorithms: TokenAlgorithm[] = ['HS256'];
  if (t.algorithms !== undefined) {
    if (!Array.isArray(t.algorithms) || t.algorithms.length === 0) throw new ConfigError('tokens.algorithms', `must be a non-empty list of ${TOKEN_ALGORITHMS.join(', ')}`);
    t.algorithms.forEach((a, i) => {
      if (!(TOKEN_ALGORITHMS as readonly unknown[]).includes(a)) throw new ConfigError(`tokens.algorithms[${i}]`, `must be one of ${TOKEN_ALGORITHMS.join(', ')} (got ${JSON.stringify(a)})`);
    });
    algorithms = [...new Set(t.algorithms as TokenAlgorithm[])];
  }
  const hsEnabled = algorithms.includes('HS256');
  const rawKeys = t.hs256Keys === undefined ? (hsEnabled ? [{ kid: 'k1' }, { kid: 'k2' }] : []) : t.hs256Keys;
  if (!Array.isArray(rawKeys) || rawKeys.length > 2) throw new ConfigError('tokens.hs256Keys', 'must be a list of at most 2 keys (current and next)');
  if (hsEnabled && rawKeys.length === 0) throw new ConfigError('tokens.hs256Keys', 'must hold at least one key when HS256 is allowed');
  const kids = new Set<string>();
  const hs256Keys = rawKeys.map((k, i) => {
    const at = `tokens.hs256Keys[${i}]`;
    const o = optObject(k, at);
    checkKeys(o, ['kid', 'parameterName'], at);
    const kid = str(o.kid, `${at}.kid`, KID_RE, "must be 1-64 letters, digits, '.', '_' or '-'");
    if (kids.has(kid)) throw new ConfigError(`${at}.kid`, `kid ${kid} is used twice`);
    kids.add(kid);
    const parameterName = o.parameterName === undefined ? `/${name}/token-secret/${kid}` : str(o.parameterName, `${at}.parameterName`, SSM_NAME_RE, 'must be an SSM parameter name starting with /');
    return { kid, parameterName, generated: o.parameterName === undefined };
  });
  if (t.jwks !== undefined) {
    if (!Array.isArray(t.jwks) || t.jwks.length === 0) throw new ConfigError('tokens.jwks', 'must be a non-empty list of JWK objects');
    t.jwks.forEach((k, i) => {
      if (!isObject(k) || typeof k.kty !== 'string') throw new ConfigError(`tokens.jwks[${i}]`, 'must be a JWK object with kty');
      if ('d' in k) throw new ConfigError(`tokens.jwks[${i}]`, 'is a private key (has d); give the public key only');
    });
  }
  if (t.jwksUrl !== undefined) str(t.jwksUrl, 'tokens.jwksUrl', /^https:\/\/\S+$/, 'must be an https:// URL');
  const asymmetric = algorithms.some((a) => a !== 'HS256');
  if (asymmetric && t.jwks === undefined && t.jwksUrl === undefined) {
    throw new ConfigError('tokens.algorithms', 'RS256, ES256 and EdDSA need tokens.jwks or tokens.jwksUrl');
  }
  const tokens: ResolvedConfig['tokens'] = {
    algorithms,
    hs256Keys,
    jwks: t.jwks as Array<Record<string, unknown>> | undefined,
    jwksUrl: t.jwksUrl as string | undefined,
    issuer: strOrList(t.issuer, 'tokens.issuer'),
    audience: strOrList(t.audience, 'tokens.audience'),
    maxTokenAgeSeconds: int(t.maxTokenAgeSeconds, 'tokens.maxTokenAgeSeconds', undefined, 1, 31_536_000),
    clockToleranceSeconds: int(t.clockToleranceSeconds, 'tokens.clockToleranceSeconds', 5, 0, 300)!,
    secretsCacheSeconds: int(t.secretsCacheSeconds, 'tokens.secretsCacheSeconds', 300, 0, 3600)!,
  };

  const p = optObject(c.publish, 'publish');
  checkKeys(p, ['httpEndpoint', 'maxDataBytes', 'apiKeyParameterNames', 'eventBusName', 'corsAllowedOrigins'], 'publish');
  let apiKeyParameterNames: [string, string] = [`/${name}/publish-api-key/1`, `/${name}/publish-api-key/2`];
  if (p.apiKeyParameterNames !== undefined) {
    if (!Array.isArray(p.apiKeyParameterNames) || p.apiKeyParameterNames.length !== 2) throw new ConfigError('publish.apiKeyParameterNames', 'must be a list of exactly 2 SSM parameter names');
    apiKeyParameterNames = p.apiKeyParameterNames.map((n, i) => str(n, `publish.apiKeyParameterNames[${i}]`, SSM_NAME_RE, 'must be an SSM parameter name starting with /')) as [string, string];
  }
  const publish: ResolvedConfig['publish'] = {
    httpEndpoint: bool(p.httpEndpoint, 'publish.httpEndpoint', true),
    maxDataBytes: int(p.maxDataBytes, 'publish.maxDataBytes', LIMITS.defaultMaxDataBytes, 1, MAX_DATA_BYTES_CEILING)!,
    apiKeyParameterNames,
    apiKeysGenerated: p.apiKeyParameterNames === undefined,
    eventBusName: p.eventBusName === undefined ? 'default' : str(p.eventBusName, 'publish.eventBusName'),
    // No CORS unless asked: an empty list leaves the Function URL without a cors block.
    corsAllowedOrigins: p.corsAllowedOrigins === undefined ? [] : corsOrigins(p.corsAllowedOrigins, 'publish.corsAllowedOrigins', true),
  };

  for (const ns of Object.values(namespaces)) {
    if (ns.presence && !publish.httpEndpoint) throw new ConfigError(`namespaces.${ns.name}.presence`, 'needs publish.httpEndpoint: heartbeats go to POST /presence on the publish Function URL');
  }

  const h = optObject(c.history, 'history');
  checkKeys(h, ['enabled', 'corsAllowedOrigins'], 'history');
  const corsAllowedOrigins = h.corsAllowedOrigins === undefined ? ['*'] : corsOrigins(h.corsAllowedOrigins, 'history.corsAllowedOrigins', false);
  for (const ns of Object.values(namespaces)) {
    if (ns.presence && h.enabled === false) throw new ConfigError(`namespaces.${ns.name}.presence`, 'needs history.enabled: members are listed by GET /presence on the history Function URL');
  }

  const pr = optObject(c.presence, 'presence');
  checkKeys(pr, ['heartbeatSeconds', 'sweepSeconds', 'maxMembersPerChannel'], 'presence');
  const heartbeatSeconds = int(pr.heartbeatSeconds, 'presence.heartbeatSeconds', 30, LIMITS.presenceHeartbeatMinSeconds, LIMITS.presenceHeartbeatMaxSeconds)!;
  const sweepSeconds = int(pr.sweepSeconds, 'presence.sweepSeconds', 60, 60, 3600)!;
  if (sweepSeconds % 60 !== 0) throw new ConfigError('presence.sweepSeconds', `must be a whole number of minutes (EventBridge schedules run at rate(N minutes)); got ${sweepSeconds}`);
  const presence: ResolvedPresence = {
    heartbeatSeconds,
    sweepSeconds,
    maxMembersPerChannel: int(pr.maxMembersPerChannel, 'presence.maxMembersPerChannel', 10_000, 1, LIMITS.presenceMembersCeiling)!,
    timeoutSeconds: presenceTimeoutSeconds(heartbeatSeconds),
  };

  const l = optObject(c.logging, 'logging');
  checkKeys(l, ['retentionDays', 'appSyncLogLevel'], 'logging');
  const retentionDays = l.retentionDays === undefined ? 30 : l.retentionDays;
  if (!(LOG_RETENTION_DAYS as readonly unknown[]).includes(retentionDays)) throw new ConfigError('logging.retentionDays', `must be one of ${LOG_RETENTION_DAYS.join(', ')}`);
  const levels = ['NONE', 'ERROR', 'INFO', 'DEBUG', 'ALL'];
  if (l.appSyncLogLevel !== undefined && !levels.includes(l.appSyncLogLevel as string)) throw new ConfigError('logging.appSyncLogLevel', `must be one of ${levels.join(', ')}`);

  const tags = optObject(c.tags, 'tags');
  for (const [k, v] of Object.entries(tags)) if (typeof v !== 'string') throw new ConfigError(`tags.${k}`, 'must be a string');

  const a = optObject(c.alarms, 'alarms');
  checkKeys(a, ['enabled', 'snsTopicArns'], 'alarms');
  if (a.snsTopicArns !== undefined && !Array.isArray(a.snsTopicArns)) throw new ConfigError('alarms.snsTopicArns', 'must be a list of SNS topic ARNs');
  const snsTopicArns = ((a.snsTopicArns as unknown[] | undefined) ?? []).map((t, i) =>
    str(t, `alarms.snsTopicArns[${i}]`, SNS_TOPIC_ARN_RE, 'must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:on-call'),
  );
  if (new Set(snsTopicArns).size !== snsTopicArns.length) throw new ConfigError('alarms.snsTopicArns', 'lists a topic twice');

  return {
    name,
    defaultNamespace: defaultNs,
    namespaces,
    tokens,
    publish,
    history: { enabled: bool(h.enabled, 'history.enabled', true), corsAllowedOrigins },
    presence,
    auth: auth as ExtraAuthConfig,
    authorizerResultTtlSeconds: int(c.authorizerResultTtlSeconds, 'authorizerResultTtlSeconds', 0, 0, LIMITS.authorizerTtlMaxSeconds)!,
    logging: { retentionDays: retentionDays as number, appSyncLogLevel: (l.appSyncLogLevel as ResolvedConfig['logging']['appSyncLogLevel']) ?? 'ERROR' },
    tags: tags as Record<string, string>,
    alarms: { enabled: bool(a.enabled, 'alarms.enabled', true), snsTopicArns },
  };
}

/**
 * What a handler needs at run time, derived from the resolved config. The stack
 * passes it as the `EVENTSOCK_SETTINGS` environment variable (JSON); the emulator
 * passes the same object in-process.
 */
export interface RuntimeSettings {
  apiName: string;
  defaultNamespace: string;
  namespaces: Record<string, Omit<ResolvedNamespace, 'name'>>;
  tokens: Omit<ResolvedConfig['tokens'], 'hs256Keys'> & { hs256Keys: Array<{ kid: string; parameterName: string }> };
  publish: { maxDataBytes: number; apiKeyParameterNames: [string, string]; eventBusName: string };
  history: { enabled: boolean; corsAllowedOrigins: string[] };
  presence: ResolvedPresence;
  tables: Record<TableName, string>;
  /** The Event API's HTTP host (no scheme), where the publish function POSTs `/event`. Empty for the authorizer. */
  eventApiHttpHost: string;
  /** AWS region of the Event API (SigV4 scope). */
  region: string;
}

export const SETTINGS_ENV = 'EVENTSOCK_SETTINGS';

export function runtimeSettings(config: ResolvedConfig, deployed: { eventApiHttpHost: string; region: string }): RuntimeSettings {
  const namespaces: RuntimeSettings['namespaces'] = {};
  for (const [k, { name: _n, ...rest }] of Object.entries(config.namespaces)) namespaces[k] = rest;
  return {
    apiName: config.name,
    defaultNamespace: config.defaultNamespace,
    namespaces,
    tokens: { ...config.tokens, hs256Keys: config.tokens.hs256Keys.map(({ kid, parameterName }) => ({ kid, parameterName })) },
    publish: { maxDataBytes: config.publish.maxDataBytes, apiKeyParameterNames: config.publish.apiKeyParameterNames, eventBusName: config.publish.eventBusName },
    history: config.history,
    presence: config.presence,
    tables: Object.fromEntries((Object.keys(TABLES) as TableName[]).map((t) => [t, tableName(config.name, t)])) as Record<TableName, string>,
    eventApiHttpHost: deployed.eventApiHttpHost,
    region: deployed.region,
  };
}

/** Reads the settings a handler was deployed with. Throws a ConfigError naming the variable when absent or not JSON. */
export function settingsFromEnv(env: Record<string, string | undefined>): RuntimeSettings {
  const raw = env[SETTINGS_ENV];
  if (!raw) throw new ConfigError(SETTINGS_ENV, 'environment variable is not set');
  try {
    return JSON.parse(raw) as RuntimeSettings;
  } catch {
    throw new ConfigError(SETTINGS_ENV, 'environment variable is not valid JSON');
  }
}
