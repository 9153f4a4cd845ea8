/**
 * Presence for clients: who is on a channel, from the verified token only.
 *
 * - `POST /presence` on the publish function's URL, with the client's JWT:
 *   `{ action: 'join' | 'heartbeat' | 'leave', channels: [...], connectionId }`.
 *   `join` and `heartbeat` are the same operation (a heartbeat from a connection the
 *   sweep already dropped joins again); the client sends one every
 *   `presence.heartbeatSeconds` for all its presence channels at once.
 * - `GET /presence?channel=&limit=&after=&count=only` on the history function's URL.
 *
 * Why heartbeats go over the publish API and not the WebSocket: AppSync Events tells
 * nobody about a subscriber's socket traffic. A heartbeat published on the socket reaches
 * a Lambda only through a namespace data source, only for tokens that may publish there,
 * and would have to be swallowed there so no subscriber sees it (PROTOCOL.md: nothing
 * says an onPublish Lambda can drop all events without an error reaching the
 * client). An HTTPS call with the same JWT works for subscribe-only tokens, answers
 * with a code the client can act on, and costs one DynamoDB write. AppSync Events also
 * has no disconnect hook, so a client that vanishes is found by its missing heartbeats.
 *
 * Rules (the whole request is refused, 403, naming the index, when one channel fails):
 * the token needs a `uid` (PRESENCE_NO_UID); each channel must be concrete (no `*`:
 * PRESENCE_WILDCARD), of a namespace with `presence: true` (PRESENCE_DISABLED), and
 * granted `subscribe` (SUBSCRIBE_NOT_GRANTED). A join past `maxMembersPerChannel` is
 * MEMBER_LIMIT for that channel (its result carries the error; answered 207).
 * `uid` and `umd` are the token's: a body field of that name is refused (UNKNOWN_FIELD).
 */
import { type Channel, parseChannel } from '../core/channels';
import { isGranted, type JsonValue, type ParsedClaims } from '../core/claims';
import type { RuntimeSettings } from '../core/config';
import { EventsockError } from '../core/errors';
import { LIMITS, MEMBER_ADDED, MEMBER_REMOVED } from '../core/limits';
import { own } from '../core/own';
import { errorBody, type ErrorBody } from '../shared/http';
import type { Logger } from '../shared/log';
import type { MembersTable, Member } from './members';

export { MEMBER_ADDED, MEMBER_REMOVED } from '../core/limits';

export interface MemberChange {
  channel: string;
  event: typeof MEMBER_ADDED | typeof MEMBER_REMOVED;
  uid: string;
  umd: JsonValue | null;
}

export type PresenceAction = 'join' | 'heartbeat' | 'leave';
export const PRESENCE_ACTIONS: readonly PresenceAction[] = ['join', 'heartbeat', 'leave'];
const CONNECTION_ID_RE = new RegExp(`^[A-Za-z0-9_-]{8,${LIMITS.connectionIdMaxLength}}$`);

export type ChannelResult = { channel: string; status: 'joined' | 'present' | 'left' | 'absent' } | { channel: string; error: { code: string; message: string; limit?: number } };

export interface PresencePostBody {
  heartbeatSeconds: number;
  timeoutSeconds: number;
  channels: ChannelResult[];
}

export interface PresenceListBody {
  channel: string;
  count: number;
  members?: Member[];
  next?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (code: string, message: string, field: string, limit?: number) => new EventsockError(code, message, { field, limit });

interface PresenceRequest {
  action: PresenceAction;
  channels: Channel[];
  connectionId: string;
}

/** Checks the body's shape; throws EventsockError (400) naming the field. */
export function parsePresenceRequest(input: unknown): PresenceRequest {
  if (!isObject(input)) throw bad('INVALID_MESSAGE', 'the body must be { action, channels, connectionId }', 'body');
  for (const k of Object.keys(input)) {
    if (!['action', 'channels', 'connectionId'].includes(k)) {
      throw bad('UNKNOWN_FIELD', `${k.slice(0, 60)} is not a presence field; expected action, channels, connectionId (uid and umd come from the token)`, k.slice(0, 60));
    }
  }
  if (!PRESENCE_ACTIONS.includes(input.action as PresenceAction)) throw bad('INVALID_FIELD', `action must be one of ${PRESENCE_ACTIONS.join(', ')}`, 'action');
  if (typeof input.connectionId !== 'string' || !CONNECTION_ID_RE.test(input.connectionId)) {
    throw bad('INVALID_FIELD', `connectionId must be 8 to ${LIMITS.connectionIdMaxLength} letters, digits, '-' or '_'`, 'connectionId', LIMITS.connectionIdMaxLength);
  }
  if (!Array.isArray(input.channels) || input.channels.length === 0) throw bad('INVALID_FIELD', 'channels must be a non-empty list of channel paths', 'channels');
  if (input.channels.length > LIMITS.presenceChannelsPerRequest) {
    throw bad('TOO_MANY_CHANNELS', `channels has ${input.channels.length} entries; at most ${LIMITS.presenceChannelsPerRequest} per request`, 'channels', LIMITS.presenceChannelsPerRequest);
  }
  const seen = new Set<string>();
  const channels = input.channels.map((c, i) => {
    const field = `channels[${i}]`;
    if (typeof c === 'string' && c.includes('*')) throw new EventsockError('PRESENCE_WILDCARD', `${field}: presence is per channel; a wildcard cannot have members`, { field });
    const ch = parseChannel(c, { field });
    if (seen.has(ch.path)) throw bad('INVALID_FIELD', `${field}: ${ch.path} is listed twice`, field);
    seen.add(ch.path);
    return ch;
  });
  return { action: input.action as PresenceAction, channels, connectionId: input.connectionId };
}

export interface PresenceRefusal {
  code: 'PRESENCE_NO_UID' | 'PRESENCE_DISABLED' | 'SUBSCRIBE_NOT_GRANTED';
  message: string;
  field: string;
}

/** What keeps this token out of presence on these channels, or undefined. */
export function presenceRefusal(claims: ParsedClaims, channels: Channel[], settings: Pick<RuntimeSettings, 'namespaces'>): PresenceRefusal | undefined {
  if (typeof claims.uid !== 'string' || claims.uid === '') return { code: 'PRESENCE_NO_UID', message: 'presence needs a token with a uid claim (the member is the uid)', field: 'uid' };
  for (let i = 0; i < channels.length; i++) {
    const c = channels[i];
    if (!own(settings.namespaces, c.namespace)?.presence) {
      return { code: 'PRESENCE_DISABLED', message: `channels[${i}]: namespace ${c.namespace} does not have presence (namespaces.${c.namespace}.presence)`, field: `channels[${i}]` };
    }
    if (!isGranted(claims, 'subscribe', c)) return { code: 'SUBSCRIBE_NOT_GRANTED', message: `channels[${i}]: the token does not grant subscribe on ${c.path}`, field: `channels[${i}]` };
  }
  return undefined;
}

export interface PresenceServiceDeps {
  members: MembersTable;
  settings: Pick<RuntimeSettings, 'namespaces' | 'presence' | 'defaultNamespace'>;
  /** Sends member_added / member_removed to the channels' subscribers (and EventBridge where configured). Never throws. */
  announce(changes: MemberChange[]): Promise<void>;
  now: () => number;
  logger: Logger;
}

export interface PresenceService {
  /** POST /presence for a verified token: 200 (or 207 when a channel failed), or 400/403 with an error. */
  post(claims: ParsedClaims, body: unknown): Promise<{ status: number; body: PresencePostBody | ErrorBody }>;
  /** GET /presence after the caller's grant was checked. */
  list(channel: Channel, opts: { limit: number; after?: string; countOnly: boolean }): Promise<PresenceListBody>;
  /** Removes members whose heartbeats stopped, announcing each. */
  sweep(): Promise<{ scanned: number; removed: number; pruned: number; corrected: number }>;
  /** A revoked user leaves every channel, announced. */
  removeUid(uid: string): Promise<number>;
}

export function createPresenceService(deps: PresenceServiceDeps): PresenceService {
  const { presence } = deps.settings;
  const timeoutMs = presence.timeoutSeconds * 1000;

  return {
    async post(claims, raw) {
      let req: PresenceRequest;
      try {
        req = parsePresenceRequest(raw);
      } catch (e) {
        if (e instanceof EventsockError) return { status: 400, body: errorBody(e.code, e.message, { field: e.field, limit: e.limit }) };
        throw e;
      }
      const refusal = presenceRefusal(claims, req.channels, deps.settings);
      if (refusal) {
        deps.logger.info('presence refused', { code: refusal.code, field: refusal.field, uid: claims.uid, jti: claims.jti });
        return { status: 403, body: errorBody(refusal.code, refusal.message, { field: refusal.field }) };
      }
      const uid = claims.uid!;
      const who = { uid, umdJson: claims.umd === undefined ? undefined : JSON.stringify(claims.umd) };
      const umd = claims.umd ?? null;
      const results: ChannelResult[] = await Promise.all(
        req.channels.map(async (c): Promise<ChannelResult> => {
          if (req.action === 'leave') return { channel: c.path, status: (await deps.members.leave(c.path, uid, req.connectionId)).status };
          const out = await deps.members.heartbeat(c.path, who, req.connectionId, deps.now() + timeoutMs, presence.maxMembersPerChannel);
          if (out.status === 'full') {
            return { channel: c.path, error: { code: 'MEMBER_LIMIT', message: `${c.path} has ${out.limit} members, the most presence.maxMembersPerChannel allows`, limit: out.limit } };
          }
          return { channel: c.path, status: out.status };
        }),
      );
      const changes: MemberChange[] = [];
      for (const r of results) {
        if ('status' in r && r.status === 'joined') changes.push({ channel: r.channel, event: MEMBER_ADDED, uid, umd });
        if ('status' in r && r.status === 'left') changes.push({ channel: r.channel, event: MEMBER_REMOVED, uid, umd });
      }
      if (changes.length) await deps.announce(changes);
      const failed = results.filter((r) => 'error' in r).length;
      deps.logger.info('presence', { action: req.action, uid, channels: results.length, changes: changes.length, failed });
      return { status: failed ? 207 : 200, body: { heartbeatSeconds: presence.heartbeatSeconds, timeoutSeconds: presence.timeoutSeconds, channels: results } };
    },

    async list(channel, opts) {
      const count = await deps.members.count(channel.path);
      if (opts.countOnly) return { channel: channel.path, count };
      const page = await deps.members.list(channel.path, { limit: opts.limit, after: opts.after });
      return { channel: channel.path, count, members: page.members, ...(page.next !== undefined ? { next: page.next } : {}) };
    },

    async sweep() {
      const r = await deps.members.sweep();
      if (r.removed.length) await deps.announce(r.removed.map((m) => ({ ...m, event: MEMBER_REMOVED })));
      deps.logger.info('presence sweep', { scanned: r.scanned, removed: r.removed.length, pruned: r.pruned, corrected: r.corrected });
      return { scanned: r.scanned, removed: r.removed.length, pruned: r.pruned, corrected: r.corrected };
    },

    async removeUid(uid) {
      const removed = await deps.members.removeUid(uid);
      if (removed.length) await deps.announce(removed.map((m) => ({ ...m, event: MEMBER_REMOVED })));
      return removed.length;
    },
  };
}

/** `GET /presence` query: `channel`, `limit` (1-500), `after` (a uid from `next`), `count=only`. Throws EventsockError naming the field. */
export function parsePresenceQuery(q: Record<string, unknown>, settings: Pick<RuntimeSettings, 'namespaces'>): { channel: Channel; limit: number; after?: string; countOnly: boolean } {
  for (const k of Object.keys(q)) if (!['channel', 'limit', 'after', 'count'].includes(k)) throw bad('UNKNOWN_FIELD', `${k.slice(0, 60)} is not a presence parameter; expected channel, limit, after, count`, k.slice(0, 60));
  if (typeof q.channel !== 'string' || q.channel === '') throw bad('MISSING_FIELD', 'channel is required', 'channel');
  if (q.channel.includes('*')) throw new EventsockError('PRESENCE_WILDCARD', 'channel: presence is per channel; a wildcard has no members', { field: 'channel' });
  const channel = parseChannel(q.channel, { field: 'channel' });
  const ns = own(settings.namespaces, channel.namespace);
  if (!ns) throw bad('UNKNOWN_NAMESPACE', `channel: namespace ${JSON.stringify(channel.namespace)} is not configured`, 'channel');
  if (!ns.presence) throw bad('PRESENCE_DISABLED', `channel: namespace ${channel.namespace} does not have presence (namespaces.${channel.namespace}.presence)`, 'channel');
  let limit: number = LIMITS.presenceDefaultLimit;
  if (q.limit !== undefined && q.limit !== '') {
    const n = typeof q.limit === 'string' && /^\d+$/.test(q.limit) ? Number(q.limit) : q.limit;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > LIMITS.presenceMaxLimit) {
      throw bad('INVALID_FIELD', `limit must be a whole number from 1 to ${LIMITS.presenceMaxLimit}`, 'limit', LIMITS.presenceMaxLimit);
    }
    limit = n;
  }
  let after: string | undefined;
  if (q.after !== undefined && q.after !== '') {
    if (typeof q.after !== 'string' || q.after.length > LIMITS.uidMaxLength) throw bad('INVALID_FIELD', `after must be the next of a previous page (a uid of at most ${LIMITS.uidMaxLength} characters)`, 'after', LIMITS.uidMaxLength);
    after = q.after;
  }
  if (q.count !== undefined && q.count !== 'only') throw bad('INVALID_FIELD', "count must be 'only' (the count without the members) or absent", 'count');
  return { channel, limit, after, countOnly: q.count === 'only' };
}
