/**
 * The Terraform module's input variables, described once: export-module.ts declares
 * them in the synthesized stack, writes them to variables.tf and lists them in the
 * module README. Defaults come from resolveConfig so the module and the CDKTF stack
 * agree on every default.
 */
import { API_KEY_LIFETIME_DAYS, AUTH_MODES, LOG_RETENTION_DAYS, MAX_DATA_BYTES_CEILING, resolveConfig, TOKEN_ALGORITHMS } from '../functions/core/config';
import { LIMITS } from '../functions/core/limits';

export interface ModuleVariable {
  name: string;
  description: string;
  /** HCL type expression, on one line. */
  type: string;
  default: unknown;
  validation?: Array<{ condition: string; errorMessage: string }>;
}

const hclList = (xs: readonly (string | number)[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

// One namespace's defaults, as the CDKTF stack resolves them.
const dflt = resolveConfig({ namespaces: { x: {} } }).namespaces.x;
const dfltClientPublish = resolveConfig({ namespaces: { x: { clientPublish: true } } }).namespaces.x.publishAuthModes;
const dfltTokens = resolveConfig({}).tokens;
const dfltTop = resolveConfig({});

/** Same rule as `name` in core/config.ts (checked against resolveConfig in test/stack/module.test.ts). */
export const NAME_REGEX = '^[A-Za-z0-9]([A-Za-z0-9-]{0,38}[A-Za-z0-9])?$';
/** Same rule as a namespace name (a channel segment) in core/channels.ts. */
export const NAMESPACE_REGEX = `^[A-Za-z0-9]([A-Za-z0-9-]{0,${LIMITS.segmentMaxLength - 2}}[A-Za-z0-9])?$`;
/** Same rule as an SSM parameter name in core/config.ts, with the length apart: RE2 repeats at most 1000 times. */
export const SSM_NAME_REGEX = '^/[A-Za-z0-9_.\\-/]+$';
export const SSM_NAME_MAX_LENGTH = 1011;
/** Same rule as an HS256 kid in core/config.ts. */
export const KID_REGEX = '^[A-Za-z0-9._-]{1,64}$';
/** Same rule as history.corsAllowedOrigins and publish.corsAllowedOrigins in core/config.ts. */
export const ORIGIN_REGEX = '^(\\*|https?://[^/\\s]+)$';
export const APPSYNC_LOG_LEVELS = ['NONE', 'ERROR', 'INFO', 'DEBUG', 'ALL'] as const;
/** Auth modes the module's API always offers; var.auth adds API_KEY, OPENID_CONNECT and AMAZON_COGNITO_USER_POOLS. */
export const MODULE_AUTH_MODES = ['AWS_LAMBDA', 'AWS_IAM'] as const;
/** Same rule as alarms.snsTopicArns in core/config.ts (SNS_TOPIC_ARN_RE; checked against it in test/stack/module-alarms.test.ts). */
export const SNS_TOPIC_ARN_REGEX = '^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$';
/** Same rule as auth.cognito.awsRegion in core/config.ts. */
export const AWS_REGION_REGEX = '^[a-z]{2}(-[a-z]+)+-[0-9]$';
const OIDC_TTL_MAX = 31_536_000;
// Variable validations may not short-circuit on null before Terraform 1.12: iterate over zero or one block instead.
const each = (path: string, cond: string) => `alltrue([for x in(${path} == null ? [] : [${path}]) : ${cond}])`;
const optWhole = (attr: string, min: number, max: number) => `(x.${attr} == null || (floor(coalesce(x.${attr}, ${min})) == coalesce(x.${attr}, ${min}) && coalesce(x.${attr}, ${min}) >= ${min} && coalesce(x.${attr}, ${min}) <= ${max}))`;
// coalesce() skips "", so an unset string is told apart with try(): length(null) fails.
const optNonEmpty = (attr: string) => `try(length(x.${attr}) > 0, true)`;

export const MODULE_VARIABLES: ModuleVariable[] = [
  {
    name: 'name',
    description: "API name and prefix of every resource (functions, roles, tables, SSM parameters). 1-40 letters, digits or '-'.",
    type: 'string',
    default: dfltTop.name,
    validation: [{ condition: `can(regex(${JSON.stringify(NAME_REGEX)}, var.name))`, errorMessage: "name must be 1-40 letters, digits or '-', not starting or ending with '-'." }],
  },
  {
    name: 'namespaces',
    description:
      'Channel namespaces, by name. Each: publish_auth_modes (default AWS_IAM, plus AWS_LAMBDA when client_publish), subscribe_auth_modes (default AWS_LAMBDA and AWS_IAM), client_publish (clients with a publish grant may publish over their WebSocket), default_store_seconds (0 = not stored, -1 = forever), ordering (channel or none), allow_wildcard_subscribe, socket_publish_events (with socket_publish pipeline: accepted client WebSocket publishes also go to EventBridge, default false), socket_publish (pipeline: client WebSocket publishes go through the socket-publish function, stored and numbered with the publish API\'s; direct: the namespace code alone; default pipeline when client_publish, else direct; pipeline needs client_publish), presence (clients with a uid may be members of its channels, default false; needs publish.http_endpoint and history.enabled), presence_events (joins and leaves also go to EventBridge, needs presence).',
    type: `map(object({ publish_auth_modes = optional(list(string)), subscribe_auth_modes = optional(list(string), ${hclList(dflt.subscribeAuthModes)}), client_publish = optional(bool, ${dflt.clientPublish}), default_store_seconds = optional(number, ${dflt.defaultStoreSeconds}), ordering = optional(string, ${JSON.stringify(dflt.ordering)}), allow_wildcard_subscribe = optional(bool, ${dflt.allowWildcardSubscribe}), socket_publish = optional(string), socket_publish_events = optional(bool, false), presence = optional(bool, false), presence_events = optional(bool, false) }))`,
    default: { default: {} },
    validation: [
      { condition: `length(var.namespaces) > 0 && alltrue([for k in keys(var.namespaces) : can(regex(${JSON.stringify(NAMESPACE_REGEX)}, k))])`, errorMessage: `namespaces needs at least one namespace; names are 1-${LIMITS.segmentMaxLength} letters, digits or '-', not starting or ending with '-'.` },
      {
        condition: `alltrue(flatten([for k, v in var.namespaces : [for m in concat(coalesce(v.publish_auth_modes, []), v.subscribe_auth_modes) : contains(${hclList(AUTH_MODES)}, m)]]))`,
        errorMessage: `namespaces.*.publish_auth_modes and subscribe_auth_modes may only hold ${AUTH_MODES.join(', ')} (API_KEY, OPENID_CONNECT and AMAZON_COGNITO_USER_POOLS when var.auth configures them).`,
      },
      {
        condition: 'alltrue([for k, v in var.namespaces : length(v.subscribe_auth_modes) > 0 && length(distinct(v.subscribe_auth_modes)) == length(v.subscribe_auth_modes) && (v.publish_auth_modes == null || length(distinct(coalesce(v.publish_auth_modes, ["-"]))) == length(coalesce(v.publish_auth_modes, ["-"])))])',
        errorMessage: 'namespaces.*.publish_auth_modes and subscribe_auth_modes must not be empty or list a mode twice.',
      },
      {
        condition: 'alltrue([for k, v in var.namespaces : v.publish_auth_modes == null || (contains(coalesce(v.publish_auth_modes, []), "AWS_IAM") && (!v.client_publish || contains(coalesce(v.publish_auth_modes, []), "AWS_LAMBDA")))])',
        errorMessage: 'namespaces.*.publish_auth_modes must include AWS_IAM (the publish API delivers with IAM), and AWS_LAMBDA when client_publish is true.',
      },
      {
        condition: `alltrue([for k, v in var.namespaces : contains(["channel", "none"], v.ordering) && (v.default_store_seconds == -1 || (v.default_store_seconds >= 0 && v.default_store_seconds <= ${LIMITS.storeMaxSeconds}))])`,
        errorMessage: `namespaces.*.ordering must be channel or none; default_store_seconds -1 or 0-${LIMITS.storeMaxSeconds}.`,
      },
      {
        condition: 'alltrue([for k, v in var.namespaces : v.socket_publish == null || (contains(["direct", "pipeline"], coalesce(v.socket_publish, "direct")) && (v.socket_publish != "pipeline" || v.client_publish))])',
        errorMessage: 'namespaces.*.socket_publish must be direct or pipeline; pipeline needs client_publish = true.',
      },
      {
        condition: 'alltrue([for k, v in var.namespaces : !v.socket_publish_events || (v.socket_publish != null ? v.socket_publish == "pipeline" : v.client_publish)])',
        errorMessage: "namespaces.*.socket_publish_events needs socket_publish = pipeline (the default with client_publish).",
      },
      {
        condition: 'alltrue([for k, v in var.namespaces : !v.presence_events || v.presence])',
        errorMessage: 'namespaces.*.presence_events needs presence = true (there are no joins and leaves to send).',
      },
    ],
  },
  {
    name: 'default_namespace',
    description:
      'Namespace for bare channel names in the publish API; must be a key of namespaces. Unset (null): default when namespaces has it, else the only namespace, as the config does; with several namespaces and none called default, set it.',
    type: 'string',
    default: null,
  },
  {
    name: 'tokens',
    description:
      'JWT verification: algorithms (HS256, RS256, ES256, EdDSA), issuer and audience (lists; checked when set), jwks_url or jwks (public keys for the asymmetric algorithms), max_token_age_seconds, clock_tolerance_seconds, secrets_cache_seconds, hs256_keys (at most 2: kid, and parameter_name of an existing SSM SecureString; without parameter_name the secret is generated into /<name>/token-secret/<kid>; default: kids k1 and k2, generated, when HS256 is allowed).',
    type: `object({ algorithms = optional(list(string), ${hclList(dfltTokens.algorithms)}), issuer = optional(list(string)), audience = optional(list(string)), jwks_url = optional(string), jwks = optional(list(map(string))), max_token_age_seconds = optional(number), clock_tolerance_seconds = optional(number, ${dfltTokens.clockToleranceSeconds}), secrets_cache_seconds = optional(number, ${dfltTokens.secretsCacheSeconds}), hs256_keys = optional(list(object({ kid = string, parameter_name = optional(string) }))) })`,
    default: {},
    validation: [
      {
        condition: `length(var.tokens.algorithms) > 0 && alltrue([for a in var.tokens.algorithms : contains(${hclList(TOKEN_ALGORITHMS)}, a)])`,
        errorMessage: `tokens.algorithms must be a non-empty list of ${TOKEN_ALGORITHMS.join(', ')}.`,
      },
      {
        condition: 'alltrue([for a in var.tokens.algorithms : a == "HS256"]) || var.tokens.jwks_url != null || var.tokens.jwks != null',
        errorMessage: 'tokens: RS256, ES256 and EdDSA need tokens.jwks_url or tokens.jwks.',
      },
      {
        condition: `var.tokens.hs256_keys == null || (length(coalesce(var.tokens.hs256_keys, [])) <= 2 && length(distinct([for k in coalesce(var.tokens.hs256_keys, []) : k.kid])) == length(coalesce(var.tokens.hs256_keys, [])) && alltrue([for k in coalesce(var.tokens.hs256_keys, []) : can(regex(${JSON.stringify(KID_REGEX)}, k.kid)) && (k.parameter_name == null || (can(regex(${JSON.stringify(SSM_NAME_REGEX)}, coalesce(k.parameter_name, "-"))) && length(coalesce(k.parameter_name, "-")) <= ${SSM_NAME_MAX_LENGTH}))]))`,
        errorMessage: "tokens.hs256_keys must hold at most 2 keys with distinct kids of 1-64 letters, digits, '.', '_' or '-', and parameter_name an SSM parameter name starting with /.",
      },
      {
        condition: '!contains(var.tokens.algorithms, "HS256") || var.tokens.hs256_keys == null || length(coalesce(var.tokens.hs256_keys, [])) > 0',
        errorMessage: 'tokens.hs256_keys must hold at least one key when HS256 is allowed.',
      },
      { condition: 'var.tokens.jwks_url == null || can(regex("^https://\\\\S+$", coalesce(var.tokens.jwks_url, "x")))', errorMessage: 'tokens.jwks_url must be an https:// URL.' },
      {
        condition: `${each('var.tokens', `${optWhole('max_token_age_seconds', 1, 31_536_000)} && ${optWhole('clock_tolerance_seconds', 0, 300)} && ${optWhole('secrets_cache_seconds', 0, 3600)}`)}`,
        errorMessage: 'tokens.max_token_age_seconds must be a whole number between 1 and 31536000, clock_tolerance_seconds between 0 and 300, secrets_cache_seconds between 0 and 3600.',
      },
      {
        condition: 'alltrue([for l in [var.tokens.issuer, var.tokens.audience] : l == null || (length(coalesce(l, ["-"])) > 0 && alltrue([for x in coalesce(l, ["-"]) : length(x) > 0]))])',
        errorMessage: 'tokens.issuer and tokens.audience must be non-empty lists of non-empty strings when set.',
      },
      {
        condition: 'var.tokens.jwks == null || (length(coalesce(var.tokens.jwks, [{ kty = "-" }])) > 0 && alltrue([for k in coalesce(var.tokens.jwks, [{ kty = "-" }]) : contains(keys(k), "kty") && !contains(keys(k), "d")]))',
        errorMessage: 'tokens.jwks must be a non-empty list of public JWKs, each with kty and none with d (a private key).',
      },
    ],
  },
  {
    name: 'log_retention_days',
    description: 'Retention of every log group (the functions and the API), in days: a CloudWatch Logs value.',
    type: 'number',
    default: dfltTop.logging.retentionDays,
    validation: [{ condition: `contains(${hclList(LOG_RETENTION_DAYS)}, var.log_retention_days)`, errorMessage: `log_retention_days must be one of ${LOG_RETENTION_DAYS.join(', ')}.` }],
  },
  {
    name: 'authorizer_result_ttl_seconds',
    description: 'Seconds AppSync caches an authorizer answer when the authorizer sets no ttlOverride (0-3600).',
    type: 'number',
    default: dfltTop.authorizerResultTtlSeconds,
    validation: [
      { condition: `var.authorizer_result_ttl_seconds >= 0 && var.authorizer_result_ttl_seconds <= ${LIMITS.authorizerTtlMaxSeconds}`, errorMessage: `authorizer_result_ttl_seconds must be between 0 and ${LIMITS.authorizerTtlMaxSeconds}.` },
    ],
  },
  {
    name: 'publish',
    description:
      'Publish API: http_endpoint (serve it on a Function URL with bearer API keys or client JWTs; false leaves only the IAM invoke), max_data_bytes (largest serialized data), api_key_parameter_names (two existing SSM SecureString parameters holding the API keys; default: two generated under /<name>/publish-api-key/), event_bus_name (EventBridge bus for emitPubSubEvent), cors_allowed_origins (\'*\' or origins such as https://app.example.com allowed by CORS on the publish URL, so browsers can publish stored messages with their JWT; default [] = no CORS).',
    type: `object({ http_endpoint = optional(bool, ${dfltTop.publish.httpEndpoint}), max_data_bytes = optional(number, ${dfltTop.publish.maxDataBytes}), api_key_parameter_names = optional(list(string)), event_bus_name = optional(string, ${JSON.stringify(dfltTop.publish.eventBusName)}), cors_allowed_origins = optional(list(string), ${hclList(dfltTop.publish.corsAllowedOrigins)}) })`,
    default: {},
    validation: [
      {
        condition: `floor(var.publish.max_data_bytes) == var.publish.max_data_bytes && var.publish.max_data_bytes >= 1 && var.publish.max_data_bytes <= ${MAX_DATA_BYTES_CEILING}`,
        errorMessage: `publish.max_data_bytes must be a whole number between 1 and ${MAX_DATA_BYTES_CEILING}.`,
      },
      {
        condition: `var.publish.api_key_parameter_names == null || (length(coalesce(var.publish.api_key_parameter_names, [])) == 2 && alltrue([for n in coalesce(var.publish.api_key_parameter_names, []) : can(regex(${JSON.stringify(SSM_NAME_REGEX)}, n)) && length(n) <= ${SSM_NAME_MAX_LENGTH}]))`,
        errorMessage: 'publish.api_key_parameter_names must be exactly 2 SSM parameter names starting with /.',
      },
      { condition: 'length(var.publish.event_bus_name) > 0', errorMessage: 'publish.event_bus_name must be a non-empty string.' },
      {
        // As history.cors_allowed_origins, except that the list may be empty (no CORS, the default).
        condition: `alltrue([for o in var.publish.cors_allowed_origins : can(regex(${JSON.stringify(ORIGIN_REGEX)}, o))])`,
        errorMessage: "publish.cors_allowed_origins must be a list of '*' or origins such as https://app.example.com.",
      },
    ],
  },
  {
    name: 'history',
    description: "History API: enabled (serve it on a Function URL), cors_allowed_origins ('*' or origins such as https://app.example.com; bearer tokens, no cookies).",
    type: `object({ enabled = optional(bool, ${dfltTop.history.enabled}), cors_allowed_origins = optional(list(string), ${hclList(dfltTop.history.corsAllowedOrigins)}) })`,
    default: {},
    validation: [
      {
        condition: `length(var.history.cors_allowed_origins) > 0 && alltrue([for o in var.history.cors_allowed_origins : can(regex(${JSON.stringify(ORIGIN_REGEX)}, o))])`,
        errorMessage: "history.cors_allowed_origins must be a non-empty list of '*' or origins such as https://app.example.com.",
      },
    ],
  },
  {
    name: 'presence',
    description: `Presence timings and limits, for namespaces with presence: heartbeat_seconds (how often clients heartbeat, ${LIMITS.presenceHeartbeatMinSeconds}-${LIMITS.presenceHeartbeatMaxSeconds}; a member is removed after two missed heartbeats plus a grace), sweep_seconds (how often the EventBridge schedule sweeps timed-out members, whole minutes, 60-3600), max_members_per_channel (1-${LIMITS.presenceMembersCeiling}).`,
    type: `object({ heartbeat_seconds = optional(number, ${dfltTop.presence.heartbeatSeconds}), sweep_seconds = optional(number, ${dfltTop.presence.sweepSeconds}), max_members_per_channel = optional(number, ${dfltTop.presence.maxMembersPerChannel}) })`,
    default: {},
    validation: [
      {
        condition: `floor(var.presence.heartbeat_seconds) == var.presence.heartbeat_seconds && var.presence.heartbeat_seconds >= ${LIMITS.presenceHeartbeatMinSeconds} && var.presence.heartbeat_seconds <= ${LIMITS.presenceHeartbeatMaxSeconds}`,
        errorMessage: `presence.heartbeat_seconds must be a whole number between ${LIMITS.presenceHeartbeatMinSeconds} and ${LIMITS.presenceHeartbeatMaxSeconds}.`,
      },
      {
        condition: 'var.presence.sweep_seconds % 60 == 0 && var.presence.sweep_seconds >= 60 && var.presence.sweep_seconds <= 3600',
        errorMessage: 'presence.sweep_seconds must be a whole number of minutes between 60 and 3600 (EventBridge schedules run at rate(N minutes)).',
      },
      {
        condition: `floor(var.presence.max_members_per_channel) == var.presence.max_members_per_channel && var.presence.max_members_per_channel >= 1 && var.presence.max_members_per_channel <= ${LIMITS.presenceMembersCeiling}`,
        errorMessage: `presence.max_members_per_channel must be a whole number between 1 and ${LIMITS.presenceMembersCeiling}.`,
      },
    ],
  },
  {
    name: 'appsync_log_level',
    description: 'AppSync field log level of the Event API: NONE, ERROR, INFO, DEBUG or ALL.',
    type: 'string',
    default: dfltTop.logging.appSyncLogLevel,
    validation: [{ condition: `contains(${hclList(APPSYNC_LOG_LEVELS)}, var.appsync_log_level)`, errorMessage: `appsync_log_level must be one of ${APPSYNC_LOG_LEVELS.join(', ')}.` }],
  },
  {
    name: 'auth',
    description:
      `Extra AppSync auth providers beside AWS_LAMBDA (the authorizer) and AWS_IAM, for namespaces that list their modes: api_key (an AppSync API key: description, lifetime_days ${API_KEY_LIFETIME_DAYS.min}-${API_KEY_LIFETIME_DAYS.max}, default ${API_KEY_LIFETIME_DAYS.default}: valid that many days from the UTC day of the latest apply, renewed by every apply on a later day; an alarm fires before it lapses), open_id_connect (issuer https:// URL, client_id, auth_ttl_seconds, iat_ttl_seconds), cognito (user_pool_id, aws_region, app_id_client_regex).`,
    type:
      `object({ api_key = optional(object({ description = optional(string), lifetime_days = optional(number, ${API_KEY_LIFETIME_DAYS.default}) })), open_id_connect = optional(object({ issuer = string, client_id = optional(string), auth_ttl_seconds = optional(number), iat_ttl_seconds = optional(number) })), cognito = optional(object({ user_pool_id = string, aws_region = string, app_id_client_regex = optional(string) })) })`,
    default: {},
    validation: [
      {
        condition: each('var.auth.api_key', `${optWhole('lifetime_days', API_KEY_LIFETIME_DAYS.min, API_KEY_LIFETIME_DAYS.max)} && ${optNonEmpty('description')}`),
        errorMessage: `auth.api_key.lifetime_days must be a whole number between ${API_KEY_LIFETIME_DAYS.min} and ${API_KEY_LIFETIME_DAYS.max}; description a non-empty string.`,
      },
      {
        condition: each('var.auth.open_id_connect', `can(regex("^https://", x.issuer)) && ${optNonEmpty('client_id')} && ${optWhole('auth_ttl_seconds', 0, OIDC_TTL_MAX)} && ${optWhole('iat_ttl_seconds', 0, OIDC_TTL_MAX)}`),
        errorMessage: `auth.open_id_connect.issuer must be an https:// URL; client_id non-empty; auth_ttl_seconds and iat_ttl_seconds whole numbers between 0 and ${OIDC_TTL_MAX}.`,
      },
      {
        condition: each('var.auth.cognito', `length(x.user_pool_id) > 0 && can(regex(${JSON.stringify(AWS_REGION_REGEX)}, x.aws_region)) && ${optNonEmpty('app_id_client_regex')}`),
        errorMessage: 'auth.cognito.user_pool_id must be non-empty, aws_region an AWS region such as eu-west-1, app_id_client_regex non-empty when set.',
      },
    ],
  },
  {
    name: 'alarms',
    description:
      'CloudWatch alarms: enabled (Lambda errors and throttles of each function, failed publishes and unreadable secrets counted from the function logs, Event API 5XX; every alarm Sum over 5 minutes > 0, missing data not breaching), sns_topic_arns (SNS topics notified on ALARM and on OK; default [] = no actions). See docs/errors.md, section Alarms.',
    type: `object({ enabled = optional(bool, ${dfltTop.alarms.enabled}), sns_topic_arns = optional(list(string), ${hclList(dfltTop.alarms.snsTopicArns)}) })`,
    default: {},
    validation: [
      {
        condition: `alltrue([for t in var.alarms.sns_topic_arns : can(regex(${JSON.stringify(SNS_TOPIC_ARN_REGEX)}, t))]) && length(distinct(var.alarms.sns_topic_arns)) == length(var.alarms.sns_topic_arns)`,
        errorMessage: 'alarms.sns_topic_arns must be a list of distinct SNS topic ARNs such as arn:aws:sns:eu-west-1:123456789012:on-call.',
      },
    ],
  },
  {
    name: 'tags',
    description: 'Tags on every resource.',
    type: 'map(string)',
    default: {},
  },
];

/** The HCL expression (no `${}`) giving RuntimeSettings.namespaces from var.namespaces. */
export const NAMESPACE_SETTINGS_EXPR =
  '{ for k, v in var.namespaces : k => { ' +
  `publishAuthModes = v.publish_auth_modes != null ? v.publish_auth_modes : (v.client_publish ? ${hclList(dfltClientPublish)} : ${hclList(dflt.publishAuthModes)}), ` +
  'subscribeAuthModes = v.subscribe_auth_modes, clientPublish = v.client_publish, defaultStoreSeconds = v.default_store_seconds, ordering = v.ordering, allowWildcardSubscribe = v.allow_wildcard_subscribe, ' +
  'socketPublish = v.socket_publish != null ? v.socket_publish : (v.client_publish ? "pipeline" : "direct"), socketPublishEvents = v.socket_publish_events, presence = v.presence, presenceEvents = v.presence_events } }';

/**
 * local.hs256_keys: the HS256 key slots, given or the stack's defaults (none without HS256),
 * each with its parameter name and whether the module generates its secret.
 */
export function hs256KeysExpr(defaults: Array<{ kid: string; parameterName: string }>): string {
  const dflt = defaults.map((k) => `{ kid = ${JSON.stringify(k.kid)}, parameter_name = ${JSON.stringify(k.parameterName)}, generated = true }`).join(', ');
  return (
    'var.tokens.hs256_keys != null ? ' +
    '[for k in coalesce(var.tokens.hs256_keys, []) : { kid = k.kid, parameter_name = k.parameter_name != null ? k.parameter_name : "/${var.name}/token-secret/${k.kid}", generated = k.parameter_name == null }] : ' +
    `(contains(var.tokens.algorithms, "HS256") ? [${dflt}] : [])`
  );
}

/** The HCL expression giving RuntimeSettings.tokens from var.tokens and local.hs256_keys; unset options are left out, as in the stack. */
export function tokenSettingsExpr(): string {
  return (
    '{ for k, v in { ' +
    `algorithms = var.tokens.algorithms, hs256Keys = [for k in local.hs256_keys : { kid = k.kid, parameterName = k.parameter_name }], jwks = var.tokens.jwks, jwksUrl = var.tokens.jwks_url, issuer = var.tokens.issuer, audience = var.tokens.audience, ` +
    'maxTokenAgeSeconds = var.tokens.max_token_age_seconds, clockToleranceSeconds = var.tokens.clock_tolerance_seconds, secretsCacheSeconds = var.tokens.secrets_cache_seconds' +
    ' } : k => v if v != null }'
  );
}

/** RuntimeSettings.publish from var.publish; parameter names default as the stack names them. */
export const PUBLISH_SETTINGS_EXPR =
  '{ maxDataBytes = var.publish.max_data_bytes, apiKeyParameterNames = local.api_key_parameter_names, eventBusName = var.publish.event_bus_name }';
/** RuntimeSettings.presence from var.presence; timeoutSeconds as presenceTimeoutSeconds() in core/config.ts computes it. */
export const PRESENCE_SETTINGS_EXPR =
  '{ heartbeatSeconds = var.presence.heartbeat_seconds, sweepSeconds = var.presence.sweep_seconds, maxMembersPerChannel = var.presence.max_members_per_channel, ' +
  'timeoutSeconds = 2 * var.presence.heartbeat_seconds + max(1, min(5, floor(var.presence.heartbeat_seconds / 2))) }';
export const HISTORY_SETTINGS_EXPR = '{ enabled = var.history.enabled, corsAllowedOrigins = var.history.cors_allowed_origins }';

/** The extra auth providers var.auth turns on, in the stack's order, each with its settings block (or null). */
export const EXTRA_AUTH_PROVIDERS_EXPR =
  '[for p in [' +
  'var.auth.api_key == null ? null : { auth_type = "API_KEY", oidc = null, cognito = null }, ' +
  'var.auth.open_id_connect == null ? null : { auth_type = "OPENID_CONNECT", oidc = var.auth.open_id_connect, cognito = null }, ' +
  'var.auth.cognito == null ? null : { auth_type = "AMAZON_COGNITO_USER_POOLS", oidc = null, cognito = var.auth.cognito }' +
  '] : p if p != null]';
export const ENABLED_AUTH_MODES_EXPR = `concat(${hclList(MODULE_AUTH_MODES)}, [for p in local.extra_auth_providers : p.auth_type])`;
