/**
 * The one JSON envelope every subscriber receives, whether the message came from a
 * backend through the publish API or from a client over its WebSocket:
 * `{ id, event, channel, data, meta: { uid, umd } }`.
 */
import type { JsonValue } from './claims';
import { EventsockError } from './errors';
import { isReservedEventName, LIMITS, RESERVED_EVENT_PREFIX } from './limits';

export interface EnvelopeMeta {
  /** The publisher's verified user id (token `uid`), null for backends. */
  uid: string | null;
  /** The publisher's verified user metadata (token `umd`), null when none. */
  umd: JsonValue | null;
}

export interface Envelope<D = JsonValue> {
  /** ULID; increases within a channel. */
  id: string;
  event: string;
  /** Normalised channel path, `/ns/...`. */
  channel: string;
  data: D | null;
  /** null on system events (`eventsock.member_added` / `_removed`): no publisher. */
  meta: EnvelopeMeta | null;
}

/** Event names: 1-128 characters, no `*`, no control characters. */
const EVENT_NAME_RE = /^[^\u0000-\u001f*]{1,128}$/;

/**
 * Validates an application event name. Names with the reserved `eventsock.` prefix,
 * in any letter case, are refused unless `allowReserved` (the system's own events).
 */
export function validateEventName(name: unknown, opts: { field?: string; allowReserved?: boolean } = {}): string {
  const field = opts.field ?? 'event';
  if (typeof name !== 'string') throw new EventsockError('INVALID_EVENT', `${field} must be a string`, { field });
  if (name.length === 0) throw new EventsockError('INVALID_EVENT', `${field} must not be empty`, { field });
  if (name.length > LIMITS.eventNameMaxLength) {
    throw new EventsockError('INVALID_EVENT', `${field} is ${name.length} characters; at most ${LIMITS.eventNameMaxLength} are allowed`, {
      field,
      limit: LIMITS.eventNameMaxLength,
    });
  }
  if (!EVENT_NAME_RE.test(name)) throw new EventsockError('INVALID_EVENT', `${field} must not contain '*' or control characters`, { field });
  if (!opts.allowReserved && isReservedEventName(name)) {
    throw new EventsockError('RESERVED_EVENT', `${field} must not start with the reserved prefix '${RESERVED_EVENT_PREFIX}' (in any letter case)`, { field });
  }
  return name;
}

/** Is this value shaped like an Eventsock envelope (used to tell trusted pass-through from raw client events)? */
export function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  const meta = e.meta as Record<string, unknown> | undefined;
  return (
    typeof e.id === 'string' &&
    typeof e.event === 'string' &&
    typeof e.channel === 'string' &&
    'data' in e &&
    // System events (presence member_added / member_removed) carry meta null: no publisher.
    ((meta === null && isReservedEventName(e.event)) || (typeof meta === 'object' && meta !== null && 'uid' in meta && 'umd' in meta))
  );
}
