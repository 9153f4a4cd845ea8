/**
 * Publishing: over the socket (a `publish` frame answered by id, client/requests.ts),
 * or stored through the publish API (client/publish-api.ts) with the connection's
 * token, so that other clients' history catch-up finds the messages. With echo off it
 * marks each event for the subscriptions that will receive it (client/echo.ts), and
 * holds their live messages while a stored publish is in flight.
 */
import { parseChannel, subscriptionMatches } from '../functions/core/channels';
import { utf8Length } from '../functions/core/claims';
import { validateEventName, type Envelope } from '../functions/core/envelope';
import { LIMITS } from '../functions/core/limits';
import type { Authorizer, TokenSource } from './auth';
import { asClientError } from './as-client-error';
import type { EchoFilter } from './echo';
import { duplicateOf, type OwnIds } from './own-ids';
import { EventsockClientError, PublishError, type ClientErrorCode } from './errors';
import { monotonicUlid, randomId } from './ids';
import { publishStored, type PublishApiOptions } from './publish-api';
import type { Requests } from './requests';
import type { SubRecord } from './subscription';
import type { ClientEvent, ConnectionState, PublishOptions, PublishResult } from './types';

export interface PublisherDeps {
  state(): ConnectionState;
  /** The connection's authorizer: signs each publish frame. */
  auth: Authorizer;
  echo: EchoFilter;
  /** Learns the ids of socket publishes from their echoes (client/own-ids.ts). */
  ownIds: OwnIds;
  /** Bounds the wait for those echoes. */
  requestTimeoutMs: number;
  requests: Requests;
  /** The client's subscriptions, by id. */
  subs: ReadonlyMap<string, SubRecord>;
  publishApi?: PublishApiOptions & { token: TokenSource };
  /** Resolves once connected (or rejects after the request timeout). */
  whenConnected(): Promise<void>;
  /** Delivers one envelope to a subscription (dropped if already seen). */
  deliver(sub: SubRecord, env: Envelope): void;
}

/** How long a socket publish's answer waits for its own echo to learn the ids (own-ids.ts). */
const OWN_ID_WAIT_MS = 2000;

export class Publisher {
  /**
   * Echo off: subscriptions that will receive a stored publish still in flight. Their
   * live messages wait here until its answer names the ids to drop (the publish API
   * delivers before it answers, so the echo usually arrives first).
   */
  private readonly ownInFlight = new Map<string, { count: number; held: Envelope[] }>();
  /** Envelope ids for IAM publishes. */
  private readonly nextId = monotonicUlid();

  constructor(private readonly deps: PublisherDeps) {}

  /** A live message for `subId` waits while a stored publish to its channel is in flight: true when it was held. */
  holdIfOwnInFlight(subId: string, env: Envelope): boolean {
    const own = this.ownInFlight.get(subId);
    if (!own) return false;
    own.held.push(env);
    return true;
  }

  async publish(channel: string, events: ClientEvent | ClientEvent[], opts: PublishOptions = {}): Promise<PublishResult> {
    if (this.deps.state() === 'closed') throw new EventsockClientError('CLIENT_CLOSED', 'the client is closed');
    let path: string;
    try {
      path = parseChannel(channel, { field: 'channel' }).path;
    } catch (e) {
      throw asClientError(e, 'INVALID_ARGUMENT');
    }
    const list = Array.isArray(events) ? events : [events];
    if (list.length === 0 || list.length > LIMITS.eventsPerPublish) {
      throw new EventsockClientError('INVALID_ARGUMENT', `a publish carries 1 to ${LIMITS.eventsPerPublish} events (got ${list.length})`, { field: 'events', limit: LIMITS.eventsPerPublish });
    }
    // With echo off each event carries a fresh nonce (client/echo.ts), remembered for the
    // subscriptions that will receive it; forgotten again if this publish never goes out.
    const segments = path.split('/').slice(1);
    const receiving = [...this.deps.subs.values()].filter((s) => subscriptionMatches(parseChannel(s.channel, { allowWildcard: true }), segments)).map((s) => s.id);
    const matching = this.deps.echo.echo ? [] : receiving;
    if (opts.stored) return this.publishStoredEvents(path, list, matching);
    const nonces: Array<string | undefined> = [];
    let payloads: string[];
    try {
      payloads = list.map((e, i) => this.serializeEvent(e, i, path, matching, nonces, receiving.length > 0));
    } catch (e) {
      this.deps.echo.forget(nonces);
      throw e;
    }
    const id = randomId();
    let authorization: Record<string, string>;
    try {
      await this.deps.whenConnected();
      authorization = await this.deps.auth.authorize({ kind: 'publish', channel: path, events: payloads });
    } catch (e) {
      this.deps.echo.forget(nonces);
      throw asClientError(e, 'INVALID_AUTH');
    }
    let frame: Record<string, unknown>;
    try {
      frame = await this.deps.requests.request('publish', id, { type: 'publish', id, channel: path, events: payloads, authorization });
    } catch (e) {
      const c = asClientError(e, 'PUBLISH_REFUSED');
      // A refused publish delivers nothing; after a drop or a timeout the echo may still come.
      if (c.code === 'PUBLISH_REFUSED') this.deps.echo.forget(nonces);
      throw new PublishError(c.code as ClientErrorCode, `publish to ${path} failed: ${c.message}`, path, c.errors);
    }
    const result: PublishResult = {
      successful: Array.isArray(frame.successful) ? (frame.successful as PublishResult['successful']) : [],
      failed: Array.isArray(frame.failed) ? (frame.failed as PublishResult['failed']) : [],
    };
    // A repeated deduplicationId (the pipeline's DUPLICATE answer) was published before: a success.
    result.failed = result.failed.filter((f) => {
      const first = duplicateOf(f?.message);
      if (first === undefined) return true;
      result.successful.push({ identifier: f.identifier ?? first, index: f.index, id: first, duplicate: true });
      return false;
    });
    result.successful.sort((a, b) => a.index - b.index);
    this.deps.echo.forget(result.failed.map((f) => (typeof f?.index === 'number' ? nonces[f.index] : undefined)));
    // The ids the namespace gave, read off the echoes; with echo off also marked seen, so a catch-up skips their stored copies.
    const fresh = result.successful.filter((s) => s.id === undefined);
    const ids = await this.deps.ownIds.take(fresh.map((s) => nonces[s.index]), Math.min(this.deps.requestTimeoutMs, OWN_ID_WAIT_MS));
    this.deps.ownIds.forget(nonces);
    fresh.forEach((s, k) => {
      const got = ids[k];
      if (got === undefined) return;
      s.id = got;
      for (const subId of matching) this.deps.subs.get(subId)?.seen.add(got);
    });
    return result;
  }

  /**
   * A stored publish: through the publish API, whose answer carries each message id.
   * With echo off, the subscriptions that receive the channel hold their live messages
   * until the answer, then drop exactly those ids (also from a later history catch-up:
   * they are marked seen) and deliver the rest in order. A publish that gets no answer
   * (timeout) may still have gone out: its echo is then delivered, never anybody else's message dropped.
   */
  private async publishStoredEvents(path: string, list: ClientEvent[], matching: string[]): Promise<PublishResult> {
    if (!this.deps.publishApi) throw new EventsockClientError('INVALID_ARGUMENT', 'stored publishes need the publishApi option ({ url })', { field: 'publishApi' });
    const messages = list.map((e, i) => {
      const field = `events[${i}]`;
      if (!e || typeof e !== 'object') throw new EventsockClientError('INVALID_ARGUMENT', `${field} must be { event, data?, deduplicationId? }`, { field });
      try {
        validateEventName(e.event, { field: `${field}.event` });
      } catch (err) {
        throw asClientError(err, 'INVALID_ARGUMENT');
      }
      return { event: e.event, data: e.data ?? null, deduplicationId: e.deduplicationId };
    });
    for (const id of matching) {
      const own = this.ownInFlight.get(id) ?? { count: 0, held: [] };
      own.count++;
      this.ownInFlight.set(id, own);
    }
    let outcomes;
    try {
      outcomes = await publishStored(this.deps.publishApi, path, messages);
      for (const id of matching) {
        const sub = this.deps.subs.get(id);
        for (const o of outcomes) if ('id' in o) sub?.seen.add(o.id);
      }
    } finally {
      for (const id of matching) this.releaseOwnHeld(id);
    }
    const result: PublishResult = { successful: [], failed: [] };
    outcomes.forEach((o, index) => {
      if ('id' in o) result.successful.push(o.duplicate ? { identifier: o.id, index, id: o.id, duplicate: true, duplicateOf: o.duplicateOf } : { identifier: o.id, index, id: o.id });
      else result.failed.push({ index, code: o.error.code, message: o.error.message });
    });
    return result;
  }

  /** One stored publish of this subscription's channel was answered: once none is left, its held messages go on, own ids dropped. */
  private releaseOwnHeld(subId: string): void {
    const own = this.ownInFlight.get(subId);
    if (!own || --own.count > 0) return;
    this.ownInFlight.delete(subId);
    const sub = this.deps.subs.get(subId);
    if (!sub) return;
    for (const env of own.held) {
      if (sub.seen.has(env.id)) continue;
      if (sub.catchingUp || sub.holdLive) sub.buffer.push(env);
      else this.deps.deliver(sub, env);
    }
  }

  private serializeEvent(e: ClientEvent, i: number, path: string, matching: string[], nonces: Array<string | undefined>, receiving: boolean): string {
    const field = `events[${i}]`;
    if (!e || typeof e !== 'object') throw new EventsockClientError('INVALID_ARGUMENT', `${field} must be { event, data? }`, { field });
    try {
      validateEventName(e.event, { field: `${field}.event` });
    } catch (err) {
      throw asClientError(err, 'INVALID_ARGUMENT');
    }
    // IAM publishers are trusted services whose events the namespace handler passes through
    // unchanged, so an IAM-authorized client sends the finished envelope (meta as for backends);
    // everyone else sends { event, data } and the handler wraps it from the verified identity.
    const body: Record<string, unknown> =
      this.deps.auth.type === 'iam'
        ? { id: this.nextId(), event: e.event, channel: path, data: e.data ?? null, meta: { uid: null, umd: null } }
        : { event: e.event, data: e.data ?? null, ...(e.deduplicationId !== undefined ? { deduplicationId: e.deduplicationId } : {}) };
    let nonce = this.deps.echo.mark(path, e.event, matching);
    // A subscription will get it back: mark it so its id can be read off the echo (own-ids.ts).
    if (receiving && this.deps.auth.type !== 'iam') nonce = this.deps.ownIds.track(nonce);
    nonces.push(nonce);
    if (nonce !== undefined) body.nonce = nonce;
    let text: string;
    try {
      text = JSON.stringify(body);
    } catch {
      throw new EventsockClientError('INVALID_ARGUMENT', `${field}.data must be JSON-serialisable`, { field: `${field}.data` });
    }
    const bytes = utf8Length(text);
    if (bytes > LIMITS.eventMaxBytes) {
      throw new EventsockClientError('INVALID_ARGUMENT', `${field} is ${bytes} bytes serialized; at most ${LIMITS.eventMaxBytes} are allowed`, { field, limit: LIMITS.eventMaxBytes });
    }
    return text;
  }
}
