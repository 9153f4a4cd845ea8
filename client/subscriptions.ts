/**
 * The subscriptions registry: subscribe and unsubscribe frames, each subscription's
 * first answer (a refused one ends alone), resubscribing with the same ids and fresh
 * authorization after a reconnect, and delivery of data frames (seen ids dropped, own
 * echoes dropped, live messages held while a catch-up runs: client/catch-up.ts).
 */
import { parseChannel } from '../functions/core/channels';
import type { JsonValue } from '../functions/core/claims';
import { isEnvelope, type Envelope } from '../functions/core/envelope';
import { LIMITS } from '../functions/core/limits';
import { isMessageId } from '../functions/core/message';
import type { AuthOption, Authorizer, TokenSource } from './auth';
import { asClientError } from './as-client-error';
import { backoffDelay } from './backoff';
import { CatchUp } from './catch-up';
import type { EchoFilter } from './echo';
import type { OwnIds } from './own-ids';
import { EventsockClientError, SubscribeError, type ClientErrorCode } from './errors';
import type { HistoryOptions } from './history';
import type { Presence } from './presence';
import type { Requests } from './requests';
import { createSubRecord, endSub, recordAndQueue, subscriptionHandle, type SubRecord } from './subscription';
import type { ConnectionState, MessageHandler, ReconnectOptions, SubscribeOptions, Subscription } from './types';

/** What the registry needs of the connection. */
export interface SubscriptionLink {
  readonly state: ConnectionState;
  /** Bumped on every socket change: an answer awaited across one is stale. */
  readonly generation: number;
  readonly closedByUser: boolean;
  /** The last ka/data of the connection that dropped (0: none). */
  readonly lastAliveBeforeDrop: number;
  readonly reconnect: ReconnectOptions | false;
  readonly random: () => number;
  sendQuietly(frame: Record<string, unknown>): void;
}

export interface SubscriptionsDeps {
  connection: SubscriptionLink;
  requests: Requests;
  echo: EchoFilter;
  /** Learns the ids of this client's own socket publishes from their echoes (client/own-ids.ts). */
  ownIds: OwnIds;
  history?: HistoryOptions & { token: TokenSource };
  requestTimeoutMs: number;
  /** The authorizer for a subscription: its own `auth` option, else the connection's. Throws on a bad option. */
  authorizerFor(auth: AuthOption | undefined): Authorizer;
  /** Holds a live message while a stored publish of this client to the channel is in flight (client/publisher.ts). */
  holdIfOwnInFlight(subId: string, env: Envelope): boolean;
  /** Presence (client/presence.ts), when publishApi and history are configured. */
  presence?: Presence;
  emitError(e: EventsockClientError): void;
}

export class Subscriptions {
  private readonly subs = new Map<string, SubRecord>();
  private readonly catchUp?: CatchUp;

  constructor(private readonly deps: SubscriptionsDeps) {
    if (deps.history) {
      this.catchUp = new CatchUp({
        history: deps.history,
        echo: deps.echo,
        deliver: (sub, env) => this.deliver(sub, env),
        releaseLive: (sub) => this.releaseLive(sub),
        emitError: (e) => deps.emitError(e),
        lastAliveBeforeDrop: () => deps.connection.lastAliveBeforeDrop,
      });
    }
  }

  /** The subscriptions by id. */
  get records(): ReadonlyMap<string, SubRecord> {
    return this.subs;
  }

  /** A (re)connection was acknowledged: (re)send every subscription. */
  resubscribeAll(): void {
    for (const sub of this.subs.values()) void this.sendSubscribe(sub);
  }

  /** The client ends: pending subscribes fail with `err`, every subscription ends (with `err` unless closed by the user). */
  endAll(err: EventsockClientError, byUser: boolean): void {
    for (const sub of this.subs.values()) {
      sub.first?.reject(err);
      sub.first = undefined;
      endSub(sub, byUser ? undefined : err);
    }
    this.subs.clear();
  }

  subscribe<D = JsonValue>(channel: string, handler?: MessageHandler<D>, opts: SubscribeOptions = {}): Promise<Subscription<D>> {
    if (this.deps.connection.state === 'closed') return Promise.reject(new EventsockClientError('CLIENT_CLOSED', 'the client is closed'));
    let path: string;
    let authorizer: Authorizer;
    try {
      path = parseChannel(channel, { allowWildcard: true }).path;
      authorizer = this.deps.authorizerFor(opts.auth);
    } catch (e) {
      return Promise.reject(asClientError(e, 'INVALID_ARGUMENT'));
    }
    if (this.subs.size >= LIMITS.subscriptionsPerConnection) {
      return Promise.reject(
        new EventsockClientError('INVALID_ARGUMENT', `a connection holds at most ${LIMITS.subscriptionsPerConnection} subscriptions`, { field: 'channel', limit: LIMITS.subscriptionsPerConnection }),
      );
    }
    if (opts.since !== undefined) {
      const problem = !this.deps.history
        ? 'needs the history option'
        : path.endsWith('/*')
          ? 'needs a concrete channel, not a wildcard'
          : !isMessageId(opts.since)
            ? 'must be a message id (a 26-character ULID)'
            : undefined;
      if (problem) return Promise.reject(new EventsockClientError('INVALID_ARGUMENT', `since ${problem}`, { field: 'since' }));
    }
    if (opts.presence) {
      const problem = !this.deps.presence ? 'needs the publishApi and history options (heartbeats and the member list)' : path.endsWith('/*') ? 'needs a concrete channel, not a wildcard' : undefined;
      if (problem) return Promise.reject(new EventsockClientError('INVALID_ARGUMENT', `presence ${problem}`, { field: 'presence' }));
    }
    const sub = createSubRecord(path, authorizer, handler as MessageHandler<unknown> | undefined);
    sub.presence = opts.presence === true;
    if (opts.since) sub.lastIds.set(path, opts.since);
    const done = new Promise<void>((resolve, reject) => {
      // Offline subscribes wait for the connection, but not forever.
      const timer = setTimeout(() => {
        if (!sub.first) return;
        const err = new EventsockClientError('TIMEOUT', `no answer within ${this.deps.requestTimeoutMs} ms (state ${this.deps.connection.state})`);
        // In flight: fail it (sendSubscribe reports), and tell the server in case the answer is only late.
        if (!this.deps.requests.reject(sub.id, err)) {
          this.subscribeRefused(sub, err);
          return;
        }
        this.deps.connection.sendQuietly({ type: 'unsubscribe', id: sub.id });
      }, this.deps.requestTimeoutMs);
      sub.first = {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
    this.subs.set(sub.id, sub);
    if (this.deps.connection.state === 'connected') void this.sendSubscribe(sub);
    return done.then(async () => {
      if (sub.presence && this.deps.presence) {
        try {
          await this.deps.presence.join(path);
          sub.joined = true;
        } catch (e) {
          // Not a member, so not subscribed either: the caller asked for both.
          await this.unsubscribe(sub);
          throw asClientError(e, 'PRESENCE_FAILED');
        }
      }
      return subscriptionHandle<D>(sub, () => this.unsubscribe(sub), this.deps.presence);
    });
  }

  private async sendSubscribe(sub: SubRecord): Promise<void> {
    const gen = this.deps.connection.generation;
    if (this.deps.requests.has(sub.id)) return;
    let authorization: Record<string, string>;
    try {
      authorization = await sub.authorizer.authorize({ kind: 'subscribe', channel: sub.channel });
    } catch (e) {
      const err = asClientError(e, 'INVALID_AUTH');
      if (sub.accepted) this.retryResubscribe(sub, err);
      else this.subscribeRefused(sub, err);
      return;
    }
    sub.authRetries = 0;
    if (gen !== this.deps.connection.generation || !this.subs.has(sub.id) || this.deps.requests.has(sub.id)) return;
    // A catch-up follows success (resubscribe, or `since`): hold live messages from now on.
    if (this.deps.history && (sub.accepted || sub.lastIds.size > 0)) sub.holdLive = true;
    let frame: Record<string, unknown>;
    try {
      frame = await this.deps.requests.request('subscribe', sub.id, { type: 'subscribe', id: sub.id, channel: sub.channel, authorization });
    } catch (e) {
      // A drop during the subscribe is retried on the next connection.
      if (gen !== this.deps.connection.generation && !this.deps.connection.closedByUser) return;
      this.subscribeRefused(sub, asClientError(e, 'SUBSCRIBE_REFUSED'));
      return;
    }
    if (!this.subs.has(sub.id) || frame.type !== 'subscribe_success') return;
    const resubscribed = sub.accepted;
    sub.accepted = true;
    if (sub.first) {
      sub.first.resolve();
      sub.first = undefined;
    }
    if (!resubscribed) sub.acceptedAt = Date.now();
    this.catchUp?.afterSubscribe(sub, resubscribed);
    this.releaseLive(sub);
  }

  /**
   * Delivers the live messages held during a subscribe or catch-up, unless a catch-up
   * is running or a new subscribe (after another drop) will start one.
   */
  releaseLive(sub: SubRecord): void {
    if (sub.catchingUp || this.deps.requests.kindOf(sub.id) === 'subscribe') return;
    sub.holdLive = false;
    for (const env of sub.buffer.splice(0)) this.deliver(sub, env);
  }

  /**
   * A resubscribe whose authorization could not be built (a token callback or credentials
   * provider that failed, perhaps for a moment) is retried with the reconnect backoff
   * instead of ending a subscription the server never refused; reported each time.
   */
  private retryResubscribe(sub: SubRecord, cause: EventsockClientError): void {
    if (!this.subs.has(sub.id) || this.deps.connection.closedByUser) return;
    const r = this.deps.connection.reconnect;
    if (!r || sub.authRetries >= r.maxAttempts) {
      this.subscribeRefused(sub, cause);
      return;
    }
    const delay = backoffDelay(r, sub.authRetries, this.deps.connection.random);
    sub.authRetries++;
    this.deps.emitError(new SubscribeError(cause.code as ClientErrorCode, `resubscribe to ${sub.channel} not authorized yet (${cause.message}); retrying in ${Math.round(delay)} ms`, sub.channel, cause.errors));
    clearTimeout(sub.authRetryTimer);
    sub.authRetryTimer = setTimeout(() => {
      if (this.subs.has(sub.id) && this.deps.connection.state === 'connected') void this.sendSubscribe(sub);
    }, delay);
  }

  /** A refused subscription ends alone; the connection and the other subscriptions carry on. */
  private subscribeRefused(sub: SubRecord, cause: EventsockClientError): void {
    if (!this.subs.has(sub.id)) return;
    const err = new SubscribeError(
      cause.code as ClientErrorCode,
      `subscribe to ${sub.channel} refused: ${cause.message}`,
      sub.channel,
      cause.errors,
    );
    this.subs.delete(sub.id);
    if (sub.first) {
      sub.first.reject(err);
      sub.first = undefined;
      return;
    }
    this.deps.emitError(err);
    endSub(sub, err);
  }

  private async unsubscribe(sub: SubRecord): Promise<void> {
    if (!this.subs.delete(sub.id)) return;
    endSub(sub);
    if (sub.joined) {
      sub.joined = false;
      await this.deps.presence?.leave(sub.channel);
    }
    // A resubscribe still in flight is answered first: the server may process frames
    // concurrently, and an unsubscribe that overtook it would leave the subscription live there.
    const answered = this.deps.requests.answered(sub.id, 'subscribe');
    if (answered) await answered;
    if (this.deps.connection.state !== 'connected' || !sub.accepted) return;
    try {
      await this.deps.requests.request('unsubscribe', sub.id, { type: 'unsubscribe', id: sub.id });
    } catch {
      // The subscription is gone on our side; a lost answer changes nothing for the caller.
    }
  }

  onData(id: string, event: unknown): void {
    const sub = this.subs.get(id);
    if (!sub) return;
    let parsed: unknown;
    try {
      parsed = typeof event === 'string' ? JSON.parse(event) : event;
    } catch {
      this.deps.emitError(new EventsockClientError('INVALID_FRAME', `a data frame for ${sub.channel} carried an event that is not JSON`, { channel: sub.channel }));
      return;
    }
    if (!isEnvelope(parsed)) {
      this.deps.emitError(new EventsockClientError('INVALID_FRAME', `a data frame for ${sub.channel} carried an event that is not an Eventsock envelope`, { channel: sub.channel }));
      return;
    }
    const env = parsed as Envelope;
    this.deps.ownIds.observe(env as Envelope & { nonce?: unknown });
    if (sub.seen.has(env.id)) return;
    if (this.deps.echo.isOwnEcho(sub.id, env)) {
      sub.seen.add(env.id);
      return;
    }
    if (this.deps.holdIfOwnInFlight(sub.id, env)) return;
    if (sub.catchingUp || sub.holdLive) {
      sub.buffer.push(env);
      return;
    }
    this.deliver(sub, env);
  }

  deliver(sub: SubRecord, env: Envelope): void {
    if (sub.seen.has(env.id) || sub.ended) return;
    if (sub.presence) this.deps.presence?.observe(sub.channel, env);
    recordAndQueue(sub, env);
    if (sub.handler) {
      try {
        sub.handler(env);
      } catch (e) {
        this.deps.emitError(new EventsockClientError('HANDLER_FAILED', `the handler for ${sub.channel} threw: ${(e as Error)?.message ?? String(e)}`, { channel: sub.channel }));
      }
    }
  }
}
