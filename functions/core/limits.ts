/**
 * The numbers Eventsock and AppSync Events agree on, in one place.
 * Service limits come from the AppSync Events developer guide and API reference
 * (see ../shared/PROTOCOL.md); Eventsock's own limits come from DESIGN.md.
 */
export const LIMITS = {
  /** Segments in a channel path, the namespace included (`/ns/a/b/c/d`). */
  channelMaxSegments: 5,
  /** Characters in one channel segment or namespace name. */
  segmentMaxLength: 50,
  /** Events in one AppSync publish (HTTP or WebSocket). */
  eventsPerPublish: 5,
  /** One event's payload, after the namespace handler, in bytes. */
  eventMaxBytes: 240 * 1024,
  /** Subscriptions one WebSocket connection may hold. */
  subscriptionsPerConnection: 200,
  /** A WebSocket connection's lifetime before the service closes it. */
  connectionLifetimeMs: 24 * 60 * 60 * 1000,
  /** `connectionTimeoutMs` announced in connection_ack. */
  connectionTimeoutMs: 300_000,
  /** How often the service sends `ka`. */
  keepAliveIntervalMs: 60_000,
  /** Characters of a namespace's APPSYNC_JS handler code. */
  namespaceHandlerMaxChars: 32_768,
  /** The Lambda authorizer's result cache, seconds (API setting and ttlOverride). */
  authorizerTtlMaxSeconds: 3600,

  /** Eventsock: a token is refused before any crypto when longer than this. */
  tokenMaxLength: 2048,
  /** Eventsock: characters of `channel` and `event` in the publish API. */
  channelMaxLength: 128,
  eventNameMaxLength: 128,
  /** Eventsock: default and ceiling of a message's serialized `data`. */
  defaultMaxDataBytes: 32 * 1024,
  /** Eventsock: serialized `umd` (user metadata) in a token. */
  umdMaxBytes: 1024,
  /** Eventsock: characters of `uid`. */
  uidMaxLength: 128,
  /** Eventsock: the longest `store` (100 years), -1 meaning forever. */
  storeMaxSeconds: 3_155_695_200,
  /** Eventsock: a deduplicationId suppresses repeats for this long. */
  dedupWindowSeconds: 300,
  deduplicationIdMaxLength: 128,
  /** Eventsock: messages in one publish-API batch. */
  publishBatchMax: 100,
  /** Eventsock: page size of the history API. */
  historyDefaultLimit: 50,
  historyMaxLimit: 100,
  /** Eventsock: bounds of `presence.heartbeatSeconds`. */
  presenceHeartbeatMinSeconds: 5,
  presenceHeartbeatMaxSeconds: 300,
  /** Eventsock: the largest `presence.maxMembersPerChannel`. */
  presenceMembersCeiling: 1_000_000,
  /** Eventsock: channels in one presence request (join, heartbeat or leave). */
  presenceChannelsPerRequest: 50,
  /** Eventsock: page size of `GET /presence`. */
  presenceDefaultLimit: 100,
  presenceMaxLimit: 500,
  /** Eventsock: a presence connectionId: 8-64 letters, digits, '-' or '_' (the client makes one per connection). */
  connectionIdMaxLength: 64,
  /** Eventsock: the longest a revocation can last (1 year) and its default (1 day, beyond any sensible token lifetime). */
  revocationMaxSeconds: 31_536_000,
  revocationDefaultSeconds: 86_400,
} as const;

/** Event names starting with this are Eventsock's own; publishers may not use them. */
export const RESERVED_EVENT_PREFIX = 'eventsock.';
/** Presence: a uid became a member of the channel / stopped being one (data `{ uid, umd }`, meta null). */
export const MEMBER_ADDED = 'eventsock.member_added';
export const MEMBER_REMOVED = 'eventsock.member_removed';

/**
 * Is `name` one of Eventsock's own event names? Compared case-insensitively, so
 * `Eventsock.system` and `EVENTSOCK.system` are reserved as `eventsock.system` is (a
 * subscriber comparing names loosely must not be handed a forged system event).
 * functions/namespace/handlers.js repeats this check (APPSYNC_JS cannot import).
 */
export function isReservedEventName(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_EVENT_PREFIX);
}
