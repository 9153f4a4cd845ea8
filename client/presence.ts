/**
 * Presence on the client: `subscribe(channel, handler, { presence: true })` makes this
 * client a member of the channel (as its token's uid) for as long as the subscription lives.
 *
 * - One connectionId per client, kept across reconnects, so a reconnect within the server's
 *   timeout (2 x heartbeat + grace) is the same member: no member_removed / member_added flicker.
 * - One heartbeat request every `heartbeatSeconds` (the interval the server answers with) for
 *   all presence channels at once (up to 50 per request); paused while the socket is down, sent
 *   at once when it is back, and followed by a fresh member list: what changed in the gap reaches
 *   onMember listeners as added / removed (members there before and after are not announced).
 * - `unsubscribe()` of the last presence subscription of a channel leaves it; `close()` leaves
 *   every channel before the socket closes, so both are announced within a request's time.
 * - Members: the list (`GET /presence`, every page) after the join, kept current by the
 *   channel's member_added / member_removed envelopes; changes during the list read are replayed on it.
 * Why heartbeats go over HTTP and not the socket: functions/presence/service.ts.
 */
import type { Envelope } from '../functions/core/envelope';
import { MEMBER_ADDED, MEMBER_REMOVED } from '../functions/core/limits';
import { EventsockClientError } from './errors';
import { randomId } from './ids';
import { listMembers, postPresence, type PresenceEndpoint, type PresenceMember } from './presence-api';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export type MemberChange = { type: 'added' | 'removed'; uid: string; umd: PresenceMember['umd'] };

/** The most members one client keeps per channel; `members()` of a bigger channel holds the first ones (in uid order) plus later joins. */
export const CLIENT_MEMBERS_CAP = 5000;

interface ChannelState {
  refs: number;
  members: Map<string, PresenceMember>;
  /** Changes seen while a list read is in flight: replayed on its answer. */
  pending?: MemberChange[];
  listeners: Set<(change: MemberChange) => void>;
}

export interface PresenceDeps {
  post: PresenceEndpoint;
  list: PresenceEndpoint;
  emitError(e: EventsockClientError): void;
  /** Default interval until the server's first answer. */
  heartbeatSeconds?: number;
}

export class Presence {
  readonly connectionId = `c${randomId(12)}`;
  private readonly channels = new Map<string, ChannelState>();
  private heartbeatMs: number;
  private timer?: ReturnType<typeof setTimeout>;
  private paused = false;
  private closed = false;

  constructor(private readonly deps: PresenceDeps) {
    this.heartbeatMs = (deps.heartbeatSeconds ?? 30) * 1000;
  }

  /** Joins (or adds a reference to) the channel and reads its members. Throws PRESENCE_FAILED with the API's code. */
  async join(channel: string): Promise<void> {
    const existing = this.channels.get(channel);
    if (existing) {
      existing.refs++;
      return;
    }
    const state: ChannelState = { refs: 1, members: new Map(), pending: [], listeners: new Set() };
    this.channels.set(channel, state);
    try {
      const r = await postPresence(this.deps.post, 'join', [channel], this.connectionId);
      const failed = r.channels.find((c) => 'error' in c);
      if (failed && 'error' in failed) throw new EventsockClientError('PRESENCE_FAILED', `presence join of ${channel} refused: ${failed.error.message}`, { channel, errors: [{ errorType: failed.error.code, message: failed.error.message }], limit: failed.error.limit });
      this.learnInterval(r.heartbeatSeconds);
      await this.refreshList(channel, state);
    } catch (e) {
      if (--state.refs === 0) this.channels.delete(channel);
      throw e;
    }
    this.schedule();
  }

  /** Drops a reference; the last one leaves the channel (announced to its subscribers). */
  async leave(channel: string): Promise<void> {
    const state = this.channels.get(channel);
    if (!state || --state.refs > 0) return;
    this.channels.delete(channel);
    if (this.channels.size === 0) clearTimeout(this.timer);
    try {
      await postPresence(this.deps.post, 'leave', [channel], this.connectionId);
    } catch (e) {
      // Not fatal: the server removes the member after the timeout.
      this.deps.emitError(e as EventsockClientError);
    }
  }

  /** close(): leaves every channel, then stops. */
  async leaveAll(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const all = [...this.channels.keys()];
    this.channels.clear();
    if (all.length === 0) return;
    await postPresence(this.deps.post, 'leave', all, this.connectionId).catch((e) => this.deps.emitError(e as EventsockClientError));
  }

  members(channel: string): PresenceMember[] {
    return [...(this.channels.get(channel)?.members.values() ?? [])].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  }

  onMember(channel: string, listener: (change: MemberChange) => void): () => void {
    const state = this.channels.get(channel);
    state?.listeners.add(listener);
    return () => state?.listeners.delete(listener);
  }

  /** Every delivered envelope of a presence channel passes here; member events update the list. */
  observe(channel: string, env: Envelope): void {
    if (env.event !== MEMBER_ADDED && env.event !== MEMBER_REMOVED) return;
    const state = this.channels.get(channel);
    const d = env.data as { uid?: unknown; umd?: unknown } | null;
    if (!state || !isObject(d) || typeof d.uid !== 'string') return;
    const change: MemberChange = { type: env.event === MEMBER_ADDED ? 'added' : 'removed', uid: d.uid, umd: (d.umd ?? null) as PresenceMember['umd'] };
    state.pending?.push(change);
    this.apply(state, change);
    this.notify(channel, state, change);
  }

  private notify(channel: string, state: ChannelState, change: MemberChange): void {
    for (const l of state.listeners) {
      try {
        l(change);
      } catch (e) {
        this.deps.emitError(new EventsockClientError('HANDLER_FAILED', `a member listener for ${channel} threw: ${(e as Error)?.message ?? String(e)}`, { channel }));
      }
    }
  }

  /** The socket dropped: heartbeats wait (a member stays for the server's timeout). */
  pause(): void {
    this.paused = true;
    clearTimeout(this.timer);
  }

  /** The socket is back: heartbeat now (re-joining where the sweep removed us), then re-read the lists. */
  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    void this.heartbeat().then(() => Promise.all([...this.channels].map(([c, s]) => this.refreshList(c, s, true).catch((e) => this.deps.emitError(e as EventsockClientError)))));
  }

  private apply(state: ChannelState, change: MemberChange): void {
    if (change.type === 'removed') state.members.delete(change.uid);
    else if (state.members.has(change.uid) || state.members.size < CLIENT_MEMBERS_CAP) state.members.set(change.uid, { ...state.members.get(change.uid), uid: change.uid, umd: change.umd });
  }

  /**
   * Reads the channel's list (changes seen meanwhile are replayed on it). With `announce`
   * (after a reconnect) the listeners hear what changed in the gap, as added / removed; a
   * member who was there before and after is not announced, so a short reconnect is silent.
   */
  private async refreshList(channel: string, state: ChannelState, announce = false): Promise<void> {
    state.pending = [];
    const before = state.members;
    try {
      const r = await listMembers(this.deps.list, channel, CLIENT_MEMBERS_CAP);
      state.members = new Map(r.members.map((m) => [m.uid, m]));
      for (const c of state.pending) this.apply(state, c);
    } finally {
      state.pending = undefined;
    }
    if (!announce || this.channels.get(channel) !== state) return;
    for (const [uid, m] of before) if (!state.members.has(uid)) this.notify(channel, state, { type: 'removed', uid, umd: m.umd });
    for (const [uid, m] of state.members) if (!before.has(uid)) this.notify(channel, state, { type: 'added', uid, umd: m.umd });
  }

  private learnInterval(seconds: number | undefined): void {
    if (typeof seconds === 'number' && seconds > 0) this.heartbeatMs = seconds * 1000;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed || this.paused || this.channels.size === 0) return;
    this.timer = setTimeout(() => void this.heartbeat(), this.heartbeatMs);
  }

  private async heartbeat(): Promise<void> {
    const channels = [...this.channels.keys()];
    if (channels.length === 0 || this.closed) return;
    try {
      const r = await postPresence(this.deps.post, 'heartbeat', channels, this.connectionId);
      this.learnInterval(r.heartbeatSeconds);
      for (const c of r.channels) {
        if ('error' in c) this.deps.emitError(new EventsockClientError('PRESENCE_FAILED', `presence heartbeat for ${c.channel} refused: ${c.error.message}`, { channel: c.channel, errors: [{ errorType: c.error.code, message: c.error.message }] }));
      }
    } catch (e) {
      // Reported; the next heartbeat tries again (a refreshed token, a network back).
      this.deps.emitError(e as EventsockClientError);
    } finally {
      this.schedule();
    }
  }
}
