/**
 * The presence HTTP calls: `POST /presence` on the publish API (join, heartbeat, leave,
 * with the client's JWT) and `GET /presence` on the history API (the member list).
 * Server side: functions/presence/service.ts. Errors carry the API's code
 * (`errors[0].errorType`, e.g. PRESENCE_DISABLED, SUBSCRIBE_NOT_GRANTED, TOKEN_REVOKED).
 */
import type { JsonValue } from '../functions/core/claims';
import { LIMITS } from '../functions/core/limits';
import { readToken, type TokenSource } from './auth';
import { EventsockClientError, describeServerErrors } from './errors';
import { fetchText, type FetchFailure } from './fetch-text';

export interface PresenceMember {
  uid: string;
  umd: JsonValue | null;
  /** ISO 8601 time of the join. */
  since?: string;
}

export interface PresenceEndpoint {
  url: string;
  token: TokenSource;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Replaces the last path segment `publish` / `history` with `presence` (or appends it). */
export function presenceUrl(base: string, from: 'publish' | 'history'): string {
  const u = new URL(base);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith(`/${from}`) ? `${path.slice(0, -from.length)}presence` : `${path}/presence`;
  return u.toString();
}

async function call(ep: PresenceEndpoint, what: string, url: string, init: RequestInit, tokenField: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = await readToken(ep.token, tokenField);
  let status: number;
  let text: string;
  try {
    const r = await fetchText(ep.fetch ?? globalThis.fetch, url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}`, accept: 'application/json' } }, ep.timeoutMs ?? 15_000);
    status = r.res.status;
    text = r.text;
  } catch (e) {
    const f = e as FetchFailure;
    throw new EventsockClientError(f.timedOut ? 'TIMEOUT' : 'PRESENCE_FAILED', `${what} failed (${f.message})`);
  }
  let body: Record<string, unknown> = {};
  try {
    body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  } catch {
    // Not JSON: reported below by status.
  }
  if (status >= 400) {
    const err = body.error as { code?: string; message?: string } | undefined;
    const { list, text: detail } = describeServerErrors(err ? [{ errorType: err.code, message: err.message }] : [{ message: `HTTP ${status}` }]);
    throw new EventsockClientError('PRESENCE_FAILED', `${what} answered HTTP ${status}: ${detail}`, { errors: list });
  }
  return { status, body };
}

export type PresenceChannelResult = { channel: string; status: string } | { channel: string; error: { code: string; message: string; limit?: number } };

/** `POST /presence`; channels are sent in requests of at most 50. The server's heartbeat interval comes back with the results. */
export async function postPresence(
  ep: PresenceEndpoint,
  action: 'join' | 'heartbeat' | 'leave',
  channels: string[],
  connectionId: string,
): Promise<{ heartbeatSeconds?: number; channels: PresenceChannelResult[] }> {
  const out: PresenceChannelResult[] = [];
  let heartbeatSeconds: number | undefined;
  for (let i = 0; i < channels.length; i += LIMITS.presenceChannelsPerRequest) {
    const chunk = channels.slice(i, i + LIMITS.presenceChannelsPerRequest);
    const { body } = await call(
      ep,
      `presence ${action} (${chunk.join(', ')})`,
      ep.url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action, channels: chunk, connectionId }) },
      'publishApi.token',
    );
    if (typeof body.heartbeatSeconds === 'number') heartbeatSeconds = body.heartbeatSeconds;
    if (!Array.isArray(body.channels)) throw new EventsockClientError('INVALID_FRAME', `presence ${action} answered without channel results`);
    out.push(...(body.channels as PresenceChannelResult[]));
  }
  return { heartbeatSeconds, channels: out };
}

/** Every member of a channel, following `next` (at most `maxMembers`; the rest are left out and reported by `truncated`). */
export async function listMembers(ep: PresenceEndpoint, channel: string, maxMembers: number): Promise<{ members: PresenceMember[]; count: number; truncated: boolean }> {
  const members: PresenceMember[] = [];
  let after: string | undefined;
  let count = 0;
  do {
    const u = new URL(ep.url);
    u.searchParams.set('channel', channel);
    u.searchParams.set('limit', String(LIMITS.presenceMaxLimit));
    if (after !== undefined) u.searchParams.set('after', after);
    const { body } = await call(ep, `presence list of ${channel}`, u.toString(), { method: 'GET' }, 'history.token');
    if (!Array.isArray(body.members)) throw new EventsockClientError('INVALID_FRAME', `the presence list of ${channel} has no members array`, { channel });
    for (const m of body.members as PresenceMember[]) if (typeof m?.uid === 'string') members.push({ uid: m.uid, umd: m.umd ?? null, since: m.since });
    count = typeof body.count === 'number' ? body.count : members.length;
    after = typeof body.next === 'string' ? body.next : undefined;
  } while (after !== undefined && members.length < maxMembers);
  return { members, count, truncated: after !== undefined };
}
