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
 */
import type { JsonValue } from '../functions/core/claims';
import { LIMITS } from '../functions/core/limits';
import { createAuthorizer, subprotocols, type Authorizer, type TokenSource } from './auth';
import { resolveEndpoint } from './endpoint';
import { ConnectionError, EventsockClientError, describeServerErrors } from './errors';
import type { HistoryOptions } from './history';
import { asClientError } from './as-client-error';
import { backoffDelay, DEFAULT_RECONNECT } from './backoff';
import { Publisher } from './publisher';
import { Requests } from './requests';
import { Subscriptions } from './subscriptions';
import type { PublishApiOptions } from './publish-api';
import { EchoFilter } from './echo';
import type { ClientEvent, ClientOptions, ConnectionState, EventsockClient, MessageHandler, PublishOptions, PublishResult, ReconnectOptions, SubscribeOptions, Subscription } from './types';
import { WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket';

export type * from './types';

export { backoffDelay } from './backoff';

/** Opens a connection and resolves once the server acknowledged it. */
export async function connect(opts: ClientOptions): Promise<EventsockClient> {
  const client = new Client(opts);
  await client.ready;
  return client;
}

class Client implements EventsockClient {
  state: ConnectionState = 'connecting';
  readonly ready: Promise<void>;

  private readonly endpoint;
  private readonly WS: WebSocketConstructor;
  private readonly connectAuth: Authorizer;
  private readonly reconnect: ReconnectOptions | false;
  private readonly random: () => number;
  private readonly echo: EchoFilter;
  private readonly publisher: Publisher;
  private readonly ackTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  private ws?: WebSocketLike;
  private generation = 0;
  private attempt = 0;
  private everConnected = false;
  private closedByUser = false;
  private readyHandlers?: { resolve: () => void; reject: (e: EventsockClientError) => void };
  private connectedWaiters: Array<{ resolve: () => void; reject: (e: EventsockClientError) => void }> = [];
  private readonly subscriptions: Subscriptions;
  private readonly requests: Requests;
  private readonly listeners = { state: new Set<(s: ConnectionState) => void>(), error: new Set<(e: EventsockClientError) => void>() };
  private ackTimer?: ReturnType<typeof setTimeout>;
  private watchdog?: ReturnType<typeof setTimeout>;
  private watchdogMs: number = LIMITS.connectionTimeoutMs;
  private lastActivity = 0;
  /** Last ka/data of the connection that dropped: nothing before it was missed. */
  private lastAliveBeforeDrop = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly opts: ClientOptions) {
    this.endpoint = resolveEndpoint(opts.endpoint, { realtimeUrl: opts.realtimeUrl });
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new EventsockClientError('INVALID_ARGUMENT', 'no WebSocket implementation: pass options.WebSocket (the Node entry passes ws)', { field: 'WebSocket' });
    this.WS = WS;
    this.connectAuth = createAuthorizer(opts.auth, this.endpoint.httpHost, { region: this.endpoint.region });
    this.reconnect = opts.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...opts.reconnect };
    this.random = opts.random ?? Math.random;
    this.echo = new EchoFilter(opts.echo ?? true);
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 15_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 15_000;
    const client = this;
    this.requests = new Requests(
      {
        get state() {
          return client.state;
        },
        get socket() {
          return client.ws;
        },
        sendQuietly: (frame) => this.sendQuietly(frame),
        emitError: (e) => this.emitError(e),
      },
      this.requestTimeoutMs,
    );
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
    this.subscriptions = new Subscriptions({
      connection: {
        get state() {
          return client.state;
        },
        get generation() {
          return client.generation;
        },
        get closedByUser() {
          return client.closedByUser;
        },
        get lastAliveBeforeDrop() {
          return client.lastAliveBeforeDrop;
        },
        reconnect: this.reconnect,
        random: this.random,
        sendQuietly: (frame) => this.sendQuietly(frame),
      },
      requests: this.requests,
      echo: this.echo,
      history,
      requestTimeoutMs: this.requestTimeoutMs,
      authorizerFor: (auth) => (auth ? createAuthorizer(auth, this.endpoint.httpHost, { region: this.endpoint.region }) : this.connectAuth),
      holdIfOwnInFlight: (subId, env) => this.publisher.holdIfOwnInFlight(subId, env),
      emitError: (e) => this.emitError(e),
    });
    this.publisher = new Publisher({
      state: () => this.state,
      auth: this.connectAuth,
      echo: this.echo,
      requests: this.requests,
      subs: this.subscriptions.records,
      publishApi,
      whenConnected: () => this.whenConnected(),
      deliver: (sub, env) => this.subscriptions.deliver(sub, env),
    });
    this.ready = new Promise((resolve, reject) => {
      this.readyHandlers = { resolve, reject };
    });
    // Unhandled if connect() is not awaited; the error still reaches 'error' listeners.
    this.ready.catch(() => undefined);
    void this.open();
  }

  on(type: 'state' | 'error', listener: ((s: ConnectionState) => void) | ((e: EventsockClientError) => void)): () => void {
    const set = this.listeners[type] as Set<typeof listener>;
    set.add(listener);
    return () => set.delete(listener);
  }

  // ---- connection ---------------------------------------------------------

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const l of this.listeners.state) {
      try {
        l(s);
      } catch {
        // A listener that throws must not stop the state machine.
      }
    }
  }

  private emitError(e: EventsockClientError): void {
    for (const l of this.listeners.error) {
      try {
        l(e);
      } catch {
        // A listener that throws must not break delivery to the others.
      }
    }
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    let protocols: string[];
    try {
      protocols = subprotocols(await this.connectAuth.authorize({ kind: 'connect' }));
    } catch (e) {
      this.connectFailed(gen, asClientError(e, 'INVALID_AUTH'));
      return;
    }
    if (gen !== this.generation || this.closedByUser) return;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.endpoint.realtimeUrl, protocols);
    } catch (e) {
      this.connectFailed(gen, new ConnectionError('CONNECTION_LOST', `could not open ${this.endpoint.realtimeUrl}: ${(e as Error)?.message ?? String(e)}`));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      ws.send(JSON.stringify({ type: 'connection_init' }));
      this.ackTimer = setTimeout(() => {
        if (gen !== this.generation) return;
        this.dropSocket(new ConnectionError('TIMEOUT', `no connection_ack within ${this.ackTimeoutMs} ms`));
      }, this.ackTimeoutMs);
    };
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      this.onFrame(ev.data);
    };
    let failure = '';
    ws.onerror = (ev) => {
      // A close event always follows; `ws` says why (refused, TLS), browsers do not.
      const m = (ev as { message?: unknown; error?: { message?: unknown } })?.message ?? (ev as { error?: { message?: unknown } })?.error?.message;
      if (typeof m === 'string' && m) failure = m;
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      const why = [ev.reason, failure].filter(Boolean).join('; ');
      this.onSocketClosed(new ConnectionError('CONNECTION_LOST', `connection to ${this.endpoint.realtimeUrl} closed (code ${ev.code}${why ? `: ${why}` : ''})`));
    };
  }

  /** The first connect failing rejects connect(); later failures back off and retry. */
  private connectFailed(gen: number, err: EventsockClientError): void {
    if (gen !== this.generation || this.closedByUser) return;
    if (!this.everConnected) {
      this.shutdown(err);
      return;
    }
    this.emitError(err);
    this.scheduleReconnect();
  }

  private dropSocket(err: EventsockClientError): void {
    const ws = this.ws;
    this.onSocketClosed(err);
    try {
      ws?.close(4000, err.code);
    } catch {
      // Already closing.
    }
  }

  private onSocketClosed(err: EventsockClientError): void {
    this.generation++; // later events from this socket are ignored
    if (this.lastActivity > 0) this.lastAliveBeforeDrop = this.lastActivity;
    this.ws = undefined;
    this.clearTimers();
    // Publishes in flight are lost with the socket: the caller decides whether to retry.
    // Subscribes are resent on the next connection; unsubscribes are moot.
    this.requests.settleAll((kind) => new EventsockClientError('CONNECTION_LOST', `the connection closed before the ${kind} was answered (${err.message})`));
    if (this.closedByUser) return;
    if (!this.everConnected) {
      this.shutdown(err);
      return;
    }
    this.emitError(err);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closedByUser) return;
    const r = this.reconnect;
    if (!r || this.attempt >= r.maxAttempts) {
      this.shutdown(new ConnectionError('CONNECTION_LOST', r ? `gave up after ${this.attempt} reconnect attempts` : 'connection lost and reconnect is off'));
      return;
    }
    const delay = backoffDelay(r, this.attempt, this.random);
    this.attempt++;
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private clearTimers(): void {
    clearTimeout(this.ackTimer);
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private touch(): void {
    this.lastActivity = Date.now();
    if (this.watchdog) return;
    const check = () => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= this.watchdogMs) {
        this.watchdog = undefined;
        this.dropSocket(new ConnectionError('KEEPALIVE_LOST', `no keep-alive or data for ${this.watchdogMs} ms`));
        return;
      }
      this.watchdog = setTimeout(check, this.watchdogMs - idle);
    };
    this.watchdog = setTimeout(check, this.watchdogMs);
  }

  private onAck(frame: Record<string, unknown>): void {
    clearTimeout(this.ackTimer);
    const announced = typeof frame.connectionTimeoutMs === 'number' && frame.connectionTimeoutMs > 0 ? frame.connectionTimeoutMs : LIMITS.connectionTimeoutMs;
    this.watchdogMs = this.opts.connectionTimeoutMs ?? announced;
    this.touch();
    this.attempt = 0;
    const first = !this.everConnected;
    this.everConnected = true;
    this.setState('connected');
    if (first) this.readyHandlers?.resolve();
    for (const w of this.connectedWaiters.splice(0)) w.resolve();
    this.subscriptions.resubscribeAll();
  }

  // ---- frames -------------------------------------------------------------

  private onFrame(raw: unknown): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(String(raw));
    } catch {
      this.emitError(new EventsockClientError('INVALID_FRAME', `the server sent a frame that is not JSON (${String(raw).length} characters)`));
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    switch (frame.type) {
      case 'connection_ack':
        this.onAck(frame);
        return;
      case 'ka':
        this.touch();
        return;
      case 'connection_error': {
        const { list, text } = describeServerErrors(frame.errors);
        const err = new ConnectionError('CONNECTION_REFUSED', `connection refused: ${text}`, list);
        if (!this.everConnected) {
          this.shutdown(err);
          return;
        }
        this.dropSocket(err);
        return;
      }
      case 'data':
        this.touch();
        if (id) this.subscriptions.onData(id, frame.event);
        return;
      default:
        this.requests.onAnswer(frame);
        return;
    }
  }

  /** Sends a frame that expects no tracked answer, if the socket is open. */
  private sendQuietly(frame: Record<string, unknown>): void {
    if (this.ws?.readyState === WS_OPEN) this.ws.send(JSON.stringify(frame));
  }

  // ---- subscriptions ------------------------------------------------------

  subscribe<D = JsonValue>(channel: string, handler?: MessageHandler<D>, opts: SubscribeOptions = {}): Promise<Subscription<D>> {
    return this.subscriptions.subscribe(channel, handler, opts);
  }

  // ---- publish ------------------------------------------------------------

  publish(channel: string, events: ClientEvent | ClientEvent[], opts: PublishOptions = {}): Promise<PublishResult> {
    return this.publisher.publish(channel, events, opts);
  }

  private whenConnected(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { resolve: () => (clearTimeout(timer), resolve()), reject: (e: EventsockClientError) => (clearTimeout(timer), reject(e)) };
      const timer = setTimeout(() => {
        this.connectedWaiters = this.connectedWaiters.filter((x) => x !== w);
        reject(new EventsockClientError('TIMEOUT', `not connected within ${this.requestTimeoutMs} ms (state ${this.state})`));
      }, this.requestTimeoutMs);
      this.connectedWaiters.push(w);
    });
  }

  // ---- close --------------------------------------------------------------

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const ws = this.ws;
    this.shutdown(new EventsockClientError('CLIENT_CLOSED', 'the client was closed'), true);
    if (ws && ws.readyState <= WS_OPEN) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        ws.onclose = () => {
          clearTimeout(t);
          resolve();
        };
        try {
          ws.close(1000, 'client closed');
        } catch {
          clearTimeout(t);
          resolve();
        }
      });
    }
  }

  /** Ends everything: pending operations fail with `err`, subscriptions end, state becomes closed. */
  private shutdown(err: EventsockClientError, byUser = false): void {
    this.closedByUser = true;
    this.generation++;
    clearTimeout(this.reconnectTimer);
    this.clearTimers();
    const ws = this.ws;
    this.ws = undefined;
    if (ws && !byUser) {
      try {
        ws.close(1000);
      } catch {
        // Already closed.
      }
    }
    this.readyHandlers?.reject(err);
    for (const w of this.connectedWaiters.splice(0)) w.reject(err);
    this.requests.settleAll(() => err);
    this.subscriptions.endAll(err, byUser);
    if (!byUser && this.everConnected) this.emitError(err);
    this.setState('closed');
  }
}
