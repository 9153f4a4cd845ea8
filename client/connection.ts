/**
 * The connection: one socket at a time to the realtime endpoint, the
 * `connection_init` / `connection_ack` handshake (with its own timeout), a keep-alive
 * watchdog from the ack's connectionTimeoutMs reset by `ka` and `data` (client/keepalive.ts),
 * and reconnect with jittered exponential backoff (client/backoff.ts). Frames other than the connection's
 * own go to `hooks.onFrame`; every socket change bumps `generation`, so events and
 * answers from an old socket are ignored.
 */
import { LIMITS } from '../functions/core/limits';
import { subprotocols, type Authorizer } from './auth';
import { asClientError } from './as-client-error';
import { backoffDelay } from './backoff';
import { ConnectedWaiters } from './connected-waiters';
import { KeepAliveWatchdog } from './keepalive';
import { ConnectionError, EventsockClientError, describeServerErrors } from './errors';
import type { ClientListeners } from './listeners';
import type { ConnectionState, ReconnectOptions } from './types';
import { WS_OPEN, closeAndWait, type WebSocketConstructor, type WebSocketLike } from './websocket';

export interface ConnectionOptions {
  realtimeUrl: string;
  WebSocket: WebSocketConstructor;
  /** The connection's authorizer (connect subprotocols). */
  auth: Authorizer;
  reconnect: ReconnectOptions | false;
  random: () => number;
  ackTimeoutMs: number;
  /** How long whenConnected() waits. */
  requestTimeoutMs: number;
  /** Watchdog timeout; default: what connection_ack announces. */
  connectionTimeoutMs?: number;
}

export interface ConnectionHooks {
  /** Every frame but connection_ack, ka and connection_error (data frames after they reset the watchdog). */
  onFrame(frame: Record<string, unknown>): void;
  /** A connection_ack arrived (first connect or reconnect). */
  onConnected(): void;
  /** The socket is gone (before a reconnect is scheduled or the client ends). */
  onSocketLost(err: EventsockClientError): void;
  /** The client ends: `err` for everything still pending (before the last error and the closed state). */
  onShutdown(err: EventsockClientError, byUser: boolean): void;
}

export class Connection {
  state: ConnectionState = 'connecting';
  /** Bumped on every socket change: an event or answer awaited across one is stale. */
  generation = 0;
  /** Set once the client ends (close() or a failure it does not retry). */
  closedByUser = false;
  /** Last ka/data of the connection that dropped: nothing before it was missed. */
  lastAliveBeforeDrop = 0;
  readonly reconnect: ReconnectOptions | false;
  readonly random: () => number;

  private ws?: WebSocketLike;
  private attempt = 0;
  private everConnected = false;
  private readonly waiters = new ConnectedWaiters();
  private ackTimer?: ReturnType<typeof setTimeout>;
  private readonly keepAlive = new KeepAliveWatchdog(() =>
    this.dropSocket(new ConnectionError('KEEPALIVE_LOST', `no keep-alive or data for ${this.keepAlive.timeoutMs} ms`)),
  );
  private reconnectTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly listeners: ClientListeners,
    private readonly hooks: ConnectionHooks,
  ) {
    this.reconnect = opts.reconnect;
    this.random = opts.random;
  }

  /** Settles with the first connection_ack, or the failure that ended the client first. */
  get ready(): Promise<void> {
    return this.waiters.ready;
  }

  /** The current socket, if any. */
  get socket(): WebSocketLike | undefined {
    return this.ws;
  }

  /** Opens the first socket. */
  start(): void {
    void this.open();
  }

  emitError(e: EventsockClientError): void {
    this.listeners.emitError(e);
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    this.listeners.emitState(s);
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    let protocols: string[];
    try {
      protocols = subprotocols(await this.opts.auth.authorize({ kind: 'connect' }));
    } catch (e) {
      this.connectFailed(gen, asClientError(e, 'INVALID_AUTH'));
      return;
    }
    if (gen !== this.generation || this.closedByUser) return;
    let ws: WebSocketLike;
    try {
      ws = new this.opts.WebSocket(this.opts.realtimeUrl, protocols);
    } catch (e) {
      this.connectFailed(gen, new ConnectionError('CONNECTION_LOST', `could not open ${this.opts.realtimeUrl}: ${(e as Error)?.message ?? String(e)}`));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (gen !== this.generation) return;
      ws.send(JSON.stringify({ type: 'connection_init' }));
      this.ackTimer = setTimeout(() => {
        if (gen !== this.generation) return;
        this.dropSocket(new ConnectionError('TIMEOUT', `no connection_ack within ${this.opts.ackTimeoutMs} ms`));
      }, this.opts.ackTimeoutMs);
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
      this.onSocketClosed(new ConnectionError('CONNECTION_LOST', `connection to ${this.opts.realtimeUrl} closed (code ${ev.code}${why ? `: ${why}` : ''})`));
    };
  }

  /** The first connect failing rejects connect(); later failures back off and retry. */
  private connectFailed(gen: number, err: EventsockClientError): void {
    if (gen !== this.generation || this.closedByUser) return;
    if (!this.everConnected) {
      this.shutdown(err);
      return;
    }
    this.listeners.emitError(err);
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
    if (this.keepAlive.lastActivity > 0) this.lastAliveBeforeDrop = this.keepAlive.lastActivity;
    this.ws = undefined;
    this.clearTimers();
    // Publishes in flight are lost with the socket: the caller decides whether to retry.
    // Subscribes are resent on the next connection; unsubscribes are moot.
    this.hooks.onSocketLost(err);
    if (this.closedByUser) return;
    if (!this.everConnected) {
      this.shutdown(err);
      return;
    }
    this.listeners.emitError(err);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closedByUser) return;
    const r = this.opts.reconnect;
    if (!r || this.attempt >= r.maxAttempts) {
      this.shutdown(new ConnectionError('CONNECTION_LOST', r ? `gave up after ${this.attempt} reconnect attempts` : 'connection lost and reconnect is off'));
      return;
    }
    const delay = backoffDelay(r, this.attempt, this.opts.random);
    this.attempt++;
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private clearTimers(): void {
    clearTimeout(this.ackTimer);
    this.keepAlive.stop();
  }

  private onAck(frame: Record<string, unknown>): void {
    clearTimeout(this.ackTimer);
    const announced = typeof frame.connectionTimeoutMs === 'number' && frame.connectionTimeoutMs > 0 ? frame.connectionTimeoutMs : LIMITS.connectionTimeoutMs;
    this.keepAlive.timeoutMs = this.opts.connectionTimeoutMs ?? announced;
    this.keepAlive.touch();
    this.attempt = 0;
    const first = !this.everConnected;
    this.everConnected = true;
    this.setState('connected');
    this.waiters.connected(first);
    this.hooks.onConnected();
  }

  private onFrame(raw: unknown): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(String(raw));
    } catch {
      this.listeners.emitError(new EventsockClientError('INVALID_FRAME', `the server sent a frame that is not JSON (${String(raw).length} characters)`));
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    switch (frame.type) {
      case 'connection_ack':
        this.onAck(frame);
        return;
      case 'ka':
        this.keepAlive.touch();
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
      default:
        if (frame.type === 'data') this.keepAlive.touch();
        this.hooks.onFrame(frame);
        return;
    }
  }

  /** Sends a frame that expects no tracked answer, if the socket is open. */
  sendQuietly(frame: Record<string, unknown>): void {
    if (this.ws?.readyState === WS_OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** Resolves once connected; rejects after the request timeout or when the client ends. */
  whenConnected(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return this.waiters.next(this.opts.requestTimeoutMs, () => this.state);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const ws = this.ws;
    this.shutdown(new EventsockClientError('CLIENT_CLOSED', 'the client was closed'), true);
    if (ws && ws.readyState <= WS_OPEN) await closeAndWait(ws, 1000, 'client closed', 1000);
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
    this.waiters.fail(err);
    this.hooks.onShutdown(err, byUser);
    if (!byUser && this.everConnected) this.listeners.emitError(err);
    this.setState('closed');
  }
}
