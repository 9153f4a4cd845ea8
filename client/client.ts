/**
 * The Eventsock WebSocket client: one connection to an AppSync Events API (or the
 * emulator), many subscriptions, publish over the socket.
 *
 * What it adds over a bare socket, each for a failure people meet in production:
 * - a keep-alive watchdog from the ack's connectionTimeoutMs, reset by `ka` and `data`,
 *   so a half-open TCP connection is noticed instead of going quiet forever;
 * - reconnect with jittered exponential backoff, resubscribing with the same ids and
 *   fresh authorization (token callback, refreshed IAM credentials);
 * - after a reconnect, history catch-up from the last id seen, in id order, before
 *   live messages, with duplicates dropped by id (a wildcard subscription reads its
 *   pattern once, so channels it never saw before the drop are caught up on too);
 * - one refused subscription rejects that subscribe() alone;
 * - echo control: drop the messages this client published itself;
 * - stored publishes (`{ stored: true }`) through the publish API with the connection's
 *   token, so that other clients' history catch-up finds them (client/publish-api.ts).
 *
 * This file only composes the parts, one job each: client/connection.ts (socket,
 * handshake, keep-alive, reconnect), client/requests.ts (answers matched by id,
 * timeouts), client/subscriptions.ts (subscribe, resubscribe, delivery),
 * client/catch-up.ts (history after a reconnect), client/publisher.ts (publish),
 * client/presence.ts (members, heartbeats).
 */
import type { JsonValue } from '../functions/core/claims';
import { createAuthorizer, type TokenSource } from './auth';
import { DEFAULT_RECONNECT } from './backoff';
import { Connection } from './connection';
import { EchoFilter } from './echo';
import { OwnIds } from './own-ids';
import { resolveEndpoint } from './endpoint';
import { EventsockClientError } from './errors';
import type { HistoryOptions } from './history';
import { ClientListeners } from './listeners';
import type { PublishApiOptions } from './publish-api';
import { Presence } from './presence';
import { presenceUrl } from './presence-api';
import { Publisher } from './publisher';
import { Requests } from './requests';
import { Subscriptions } from './subscriptions';
import type { ClientEvent, ClientOptions, ConnectionState, EventsockClient, MessageHandler, PublishOptions, PublishResult, SubscribeOptions, Subscription } from './types';
import type { WebSocketConstructor } from './websocket';

export type * from './types';

export { backoffDelay } from './backoff';

/** Opens a connection and resolves once the server acknowledged it. */
export async function connect(opts: ClientOptions): Promise<EventsockClient> {
  const client = new Client(opts);
  await client.ready;
  return client;
}

class Client implements EventsockClient {
  readonly ready: Promise<void>;

  private readonly listeners = new ClientListeners();
  private readonly connection: Connection;
  private readonly subscriptions: Subscriptions;
  private readonly publisher: Publisher;
  private readonly presence?: Presence;

  constructor(opts: ClientOptions) {
    const endpoint = resolveEndpoint(opts.endpoint, { realtimeUrl: opts.realtimeUrl });
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new EventsockClientError('INVALID_ARGUMENT', 'no WebSocket implementation: pass options.WebSocket (the Node entry passes ws)', { field: 'WebSocket' });
    const connectAuth = createAuthorizer(opts.auth, endpoint.httpHost, { region: endpoint.region });
    const echo = new EchoFilter(opts.echo ?? true);
    // Ids of own socket publishes, read off their echoes (client/own-ids.ts).
    const ownIds = new OwnIds();
    const requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    let history: (HistoryOptions & { token: TokenSource }) | undefined;
    if (opts.history) {
      const token = opts.history.token ?? (opts.auth.type === 'token' ? opts.auth.token : undefined);
      if (token === undefined) {
        throw new EventsockClientError('INVALID_ARGUMENT', 'history.token is required unless auth is a token (the history API takes a Bearer JWT)', { field: 'history.token' });
      }
      history = { ...opts.history, token };
    }
    let publishApi: (PublishApiOptions & { token: TokenSource }) | undefined;
    if (opts.publishApi) {
      const token = opts.publishApi.token ?? (opts.auth.type === 'token' ? opts.auth.token : undefined);
      if (token === undefined) {
        throw new EventsockClientError('INVALID_ARGUMENT', 'publishApi.token is required unless auth is a token (the publish API takes the client\'s Bearer JWT)', { field: 'publishApi.token' });
      }
      publishApi = { ...opts.publishApi, token };
    }

    const connection = new Connection(
      {
        realtimeUrl: endpoint.realtimeUrl,
        WebSocket: WS,
        auth: connectAuth,
        reconnect: opts.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...opts.reconnect },
        random: opts.random ?? Math.random,
        ackTimeoutMs: opts.ackTimeoutMs ?? 15_000,
        requestTimeoutMs,
        connectionTimeoutMs: opts.connectionTimeoutMs,
      },
      this.listeners,
      {
        onFrame: (frame) => {
          if (frame.type !== 'data') requests.onAnswer(frame);
          else if (typeof frame.id === 'string' && frame.id) this.subscriptions.onData(frame.id, frame.event);
        },
        onConnected: () => this.subscriptions.resubscribeAll(),
        // Publishes in flight are lost with the socket: the caller decides whether to retry.
        // Subscribes are resent on the next connection; unsubscribes are moot.
        onSocketLost: (err) => requests.settleAll((kind) => new EventsockClientError('CONNECTION_LOST', `the connection closed before the ${kind} was answered (${err.message})`)),
        onShutdown: (err, byUser) => {
          requests.settleAll(() => err);
          this.subscriptions.endAll(err, byUser);
        },
      },
    );
    const requests = new Requests(connection, requestTimeoutMs);
    if (publishApi && history) {
      const presence = new Presence({
        post: { url: presenceUrl(publishApi.url, 'publish'), token: publishApi.token, fetch: publishApi.fetch, timeoutMs: publishApi.timeoutMs ?? requestTimeoutMs },
        list: { url: presenceUrl(history.url, 'history'), token: history.token, fetch: history.fetch, timeoutMs: history.timeoutMs ?? requestTimeoutMs },
        emitError: (e) => this.listeners.emitError(e),
      });
      this.presence = presence;
      // Heartbeats wait while the socket is down and resume (re-joining if need be) when it is back.
      this.listeners.on('state', (s: ConnectionState) => (s === 'reconnecting' ? presence.pause() : s === 'connected' ? presence.resume() : undefined));
    }
    this.connection = connection;
    this.subscriptions = new Subscriptions({
      connection,
      requests,
      echo,
      ownIds,
      history,
      requestTimeoutMs,
      authorizerFor: (auth) => (auth ? createAuthorizer(auth, endpoint.httpHost, { region: endpoint.region }) : connectAuth),
      holdIfOwnInFlight: (subId, env) => this.publisher.holdIfOwnInFlight(subId, env),
      presence: this.presence,
      emitError: (e) => this.listeners.emitError(e),
    });
    this.publisher = new Publisher({
      state: () => connection.state,
      auth: connectAuth,
      echo,
      ownIds,
      requestTimeoutMs,
      requests,
      subs: this.subscriptions.records,
      publishApi,
      whenConnected: () => connection.whenConnected(),
      deliver: (sub, env) => this.subscriptions.deliver(sub, env),
    });
    this.ready = connection.ready;
    connection.start();
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  on(type: 'state' | 'error', listener: ((s: ConnectionState) => void) | ((e: EventsockClientError) => void)): () => void {
    return this.listeners.on(type, listener);
  }

  subscribe<D = JsonValue>(channel: string, handler?: MessageHandler<D>, opts: SubscribeOptions = {}): Promise<Subscription<D>> {
    return this.subscriptions.subscribe(channel, handler, opts);
  }

  publish(channel: string, events: ClientEvent | ClientEvent[], opts: PublishOptions = {}): Promise<PublishResult> {
    return this.publisher.publish(channel, events, opts);
  }

  async close(): Promise<void> {
    // Leave presence first, so the other members hear of it now rather than after the timeout.
    await this.presence?.leaveAll();
    return this.connection.close();
  }
}
