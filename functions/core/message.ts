/**
 * Publish-API messages: `{ channel, event, data?, deduplicationId?, eagerIdGeneration?,
 * store?, emitPubSubEvent? }`, one or a batch `{ messages: [...] }`. Validation lives
 * here, in the browser-safe core, so the publish function, the emulator's console and
 * any client-side pre-check refuse exactly the same things with the same field names.
 */
import { type Channel, resolvePublishChannel } from './channels';
import { type JsonValue, utf8Length } from './claims';
import { validateEventName } from './envelope';
import { EventsockError } from './errors';
import { LIMITS } from './limits';
import { own } from './own';

export interface PublishMessage {
  channel: string;
  event: string;
  data?: JsonValue;
  deduplicationId?: string;
  /** Accepted for compatibility with Hotsock; the id is always generated and returned. */
  eagerIdGeneration?: boolean;
  /** Seconds to keep the message: 0 = not stored, -1 = forever. Default: the namespace's `defaultStoreSeconds`. */
  store?: number;
  emitPubSubEvent?: boolean;
}

/** A message after validation: channel resolved and normalised, defaults applied, data serialized once. */
export interface ValidatedMessage {
  channel: Channel;
  event: string;
  data: JsonValue | null;
  /** `JSON.stringify(data)`, measured against the limit. */
  dataJson: string;
  deduplicationId?: string;
  /** Resolved: 0 = not stored, -1 = forever, else seconds. */
  store: number;
  emitPubSubEvent: boolean;
}

export interface MessageRules {
  defaultNamespace: string;
  namespaces: Record<string, { defaultStoreSeconds: number }>;
  /** Largest serialized `data` in bytes (`publish.maxDataBytes`). */
  maxDataBytes: number;
}

export const MESSAGE_FIELDS = ['channel', 'event', 'data', 'deduplicationId', 'eagerIdGeneration', 'store', 'emitPubSubEvent'] as const;

/**
 * A message id: a ULID as Eventsock gives them out (26 Crockford base32 characters,
 * upper case, the first 0-7 so the 48-bit time fits). Ids compare as strings in
 * time order, which is what `after` / `since` rely on.
 */
export const MESSAGE_ID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** True when `s` is a message id (see MESSAGE_ID_RE). */
export function isMessageId(s: unknown): s is string {
  return typeof s === 'string' && MESSAGE_ID_RE.test(s);
}

/** Printable ASCII without spaces: ids end up in logs and DynamoDB keys. */
const DEDUP_ID_RE = /^[\x21-\x7e]+$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (code: string, message: string, field: string, limit?: number | string) => new EventsockError(code, message, { field, limit });

/**
 * Validates one message. `at` prefixes field names (`messages[3].`) so a batch error
 * points at the message. Throws EventsockError with `field` (and `limit` when a bound
 * was crossed).
 */
export function validateMessage(input: unknown, rules: MessageRules, at = ''): ValidatedMessage {
  if (!isObject(input)) throw invalid('INVALID_MESSAGE', `${at ? at.slice(0, -1) : 'message'} must be a JSON object`, at ? at.slice(0, -1) : 'message');
  for (const k of Object.keys(input)) {
    if (!(MESSAGE_FIELDS as readonly string[]).includes(k)) {
      throw invalid('UNKNOWN_FIELD', `${at}${k.slice(0, 60)} is not a message field; expected ${MESSAGE_FIELDS.join(', ')}`, `${at}${k.slice(0, 60)}`);
    }
  }
  const f = (name: string) => `${at}${name}`;

  if (input.channel === undefined) throw invalid('MISSING_FIELD', `${f('channel')} is required`, f('channel'));
  const channel = resolvePublishChannel(input.channel, rules.defaultNamespace, f('channel'));
  const ns = own(rules.namespaces, channel.namespace);
  if (!ns) {
    throw invalid('UNKNOWN_NAMESPACE', `${f('channel')}: namespace ${JSON.stringify(channel.namespace)} is not configured (${Object.keys(rules.namespaces).join(', ')})`, f('channel'));
  }

  if (input.event === undefined) throw invalid('MISSING_FIELD', `${f('event')} is required`, f('event'));
  const event = validateEventName(input.event, { field: f('event') });

  let data: JsonValue | null = null;
  let dataJson = 'null';
  if (input.data !== undefined) {
    let s: string | undefined;
    try {
      s = JSON.stringify(input.data);
    } catch {
      s = undefined;
    }
    if (s === undefined) throw invalid('INVALID_DATA', `${f('data')} must be JSON`, f('data'));
    const bytes = utf8Length(s);
    if (bytes > rules.maxDataBytes) {
      throw invalid('DATA_TOO_LARGE', `${f('data')} is ${bytes} bytes serialized; at most ${rules.maxDataBytes} are allowed`, f('data'), rules.maxDataBytes);
    }
    data = input.data as JsonValue;
    dataJson = s;
  }

  let deduplicationId: string | undefined;
  if (input.deduplicationId !== undefined) {
    const d = input.deduplicationId;
    if (typeof d !== 'string') throw invalid('INVALID_FIELD', `${f('deduplicationId')} must be a string`, f('deduplicationId'));
    if (d.length === 0 || d.length > LIMITS.deduplicationIdMaxLength) {
      throw invalid('INVALID_FIELD', `${f('deduplicationId')} must be 1-${LIMITS.deduplicationIdMaxLength} characters (got ${d.length})`, f('deduplicationId'), LIMITS.deduplicationIdMaxLength);
    }
    if (!DEDUP_ID_RE.test(d)) throw invalid('INVALID_FIELD', `${f('deduplicationId')} must be printable ASCII without spaces`, f('deduplicationId'));
    deduplicationId = d;
  }

  if (input.eagerIdGeneration !== undefined && typeof input.eagerIdGeneration !== 'boolean') {
    throw invalid('INVALID_FIELD', `${f('eagerIdGeneration')} must be true or false`, f('eagerIdGeneration'));
  }
  if (input.emitPubSubEvent !== undefined && typeof input.emitPubSubEvent !== 'boolean') {
    throw invalid('INVALID_FIELD', `${f('emitPubSubEvent')} must be true or false`, f('emitPubSubEvent'));
  }

  let store = ns.defaultStoreSeconds;
  if (input.store !== undefined) {
    const s = input.store;
    if (typeof s !== 'number' || !Number.isInteger(s)) throw invalid('INVALID_STORE', `${f('store')} must be a whole number of seconds`, f('store'));
    if (s !== -1 && (s < 0 || s > LIMITS.storeMaxSeconds)) {
      throw invalid('INVALID_STORE', `${f('store')} must be -1 (forever), 0 (not stored) or 1-${LIMITS.storeMaxSeconds} seconds (got ${s})`, f('store'), LIMITS.storeMaxSeconds);
    }
    store = s;
  }

  return { channel, event, data, dataJson, deduplicationId, store, emitPubSubEvent: input.emitPubSubEvent === true };
}

export interface PublishRequest {
  /** True when the input was `{ messages: [...] }`: the answer is then a list. */
  batch: boolean;
  messages: ValidatedMessage[];
}

/**
 * Validates a publish request: one message, or `{ messages: [...] }` with 1 to
 * LIMITS.publishBatchMax messages. Every message is checked before anything is sent,
 * so an invalid batch publishes nothing.
 */
export function validatePublishRequest(input: unknown, rules: MessageRules): PublishRequest {
  if (isObject(input) && 'messages' in input) {
    const extra = Object.keys(input).filter((k) => k !== 'messages');
    if (extra.length > 0) throw invalid('UNKNOWN_FIELD', `${extra[0].slice(0, 60)} is not allowed beside messages in a batch`, extra[0].slice(0, 60));
    const list = input.messages;
    if (!Array.isArray(list)) throw invalid('INVALID_FIELD', 'messages must be a list of messages', 'messages');
    if (list.length === 0) throw invalid('INVALID_FIELD', 'messages must hold at least one message', 'messages');
    if (list.length > LIMITS.publishBatchMax) {
      throw invalid('BATCH_TOO_LARGE', `messages holds ${list.length} messages; at most ${LIMITS.publishBatchMax} are allowed`, 'messages', LIMITS.publishBatchMax);
    }
    return { batch: true, messages: list.map((m, i) => validateMessage(m, rules, `messages[${i}].`)) };
  }
  return { batch: false, messages: [validateMessage(input, rules)] };
}
