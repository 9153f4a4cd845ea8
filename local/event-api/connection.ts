/**
 * One realtime connection after the upgrade: the message loop of PROTOCOL.md
 * ("Messages after connect"), keep-alives, the lifetime limit, and the slow-consumer
 * bound. Frames are handled one at a time in arrival order, so answers and
 * deliveries keep the order the client caused them in; while too many are queued,
 * reading from the socket pauses (backpressure instead of dropping).
 */
import type WebSocket from 'ws';
import { subscribeContext } from '../appsync-js';
import type { AuthDecision } from './auth';
import type { DeliveryTarget, EventApiCore } from './core';
import { badRequest, ERROR_TYPES, EventApiError, overWebSocket, toEventApiError, unknownNamespace } from './errors';
import { stringRecord } from './handshake';
import { channelOf, runPublish } from './publish';
import type { Subscriber } from './subscriptions';

type Frame = Record<string, unknown>;

/** Longest subscription / operation id accepted (an emulator bound; the service's is not documented). */
const MAX_ID_LENGTH = 128;
/** The longest delay a Node timer holds (longer ones fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The frame with authorization objects replaced, for --verbose logs. */
export function redactFrame(frame: unknown): unknown {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return frame;
  const out: Frame = { ...(frame as Frame) };
  if ('authorization' in out) out.authorization = '[redacted]';
  if (typeof out.payload === 'object' && out.payload !== null) out.payload = redactFrame(out.payload);
  if (typeof out.extensions === 'object' && out.extensions !== null) out.extensions = redactFrame(out.extensions);
  return out;
}

/** With the total over maxTotalBufferedBytes, a connection holding more than this of its own is closed. */
const STALLED_SHARE_BYTES = 256 * 1024;

export class Connection implements DeliveryTarget {
  readonly id: string;
  private readonly subs = new Map<string, Subscriber<DeliveryTarget>>();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private queuedBytes = 0;
  private paused = false;
  private acked = false;
  private kaTimer?: NodeJS.Timeout;
  private lifetimeTimer?: NodeJS.Timeout;
  private silenceTimer?: NodeJS.Timeout;
  /** When the client last sent anything: a frame, a ping or a pong. */
  private lastHeard = Date.now();
  private closing = false;

  constructor(
    private readonly core: EventApiCore,
    private readonly ws: WebSocket,
    /** The connect decision: the authorization a frame falls back on when it carries none. */
    private readonly connectAuth: { decision: AuthDecision; authorization?: Record<string, string> },
    /** HTTP host for frames whose authorization object has no host. */
    private readonly defaultHost: string,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.id = Math.random().toString(36).slice(2, 10);
    ws.on('message', (data, isBinary) => {
      this.lastHeard = Date.now();
      this.enqueue(data as Buffer, isBinary);
    });
    ws.on('pong', () => (this.lastHeard = Date.now()));
    ws.on('ping', () => (this.lastHeard = Date.now()));
    this.watchSilence();
    core.sockets.add(ws);
    ws.on('close', () => this.cleanup());
    ws.on('error', (e) => this.core.logger.info('connection error', { connection: this.id, error: e.message }));
    this.armLifetime(Date.now() + core.settings.connectionLifetimeMs);
  }

  /**
   * A client that sends nothing at all, not even the pong every WebSocket stack answers a
   * ping with, for longer than the connectionTimeoutMs the ack announces is gone (or stuck
   * half-way through a frame, which holds its socket forever otherwise): it is pinged a few
   * times per timeout and closed when silent past it. Clients need not send `ka` (only the
   * server does, PROTOCOL.md); their WebSocket layer's pongs keep them alive.
   */
  private watchSilence(): void {
    const timeout = this.core.settings.connectionTimeoutMs;
    if (!(timeout > 0 && timeout <= MAX_TIMER_MS)) return;
    this.silenceTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > timeout) {
        this.core.logger.info('connection silent', { connection: this.id, silentMs: Date.now() - this.lastHeard });
        this.close(1001, `nothing received for over ${timeout} ms (connectionTimeoutMs)`);
        return;
      }
      try {
        this.ws.ping();
      } catch {
        // closing already
      }
    }, Math.max(50, Math.min(Math.floor(timeout / 3), 30_000)));
    this.silenceTimer.unref?.();
  }

  /** Node clamps a timer over 2^31-1 ms to 1 ms: a long lifetime is waited for in steps. */
  private armLifetime(deadline: number): void {
    const left = deadline - Date.now();
    if (!(left < Infinity)) return; // Infinity (or NaN): no lifetime
    this.lifetimeTimer = setTimeout(
      () => {
        if (Date.now() < deadline) return this.armLifetime(deadline);
        this.close(1000, `connection lifetime of ${Math.round(this.core.settings.connectionLifetimeMs / 1000)} s reached`);
      },
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    );
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  /** Sends a pre-serialized frame unless the client is not keeping up (then closes it). */
  deliver(frame: string): boolean {
    if (this.closing) return false;
    if (this.ws.bufferedAmount > this.core.settings.maxBufferedBytes || (this.ws.bufferedAmount > STALLED_SHARE_BYTES && this.core.totalBuffered() > this.core.settings.maxTotalBufferedBytes)) {
      this.slowConsumer();
      return false;
    }
    this.sendText(frame);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.core.logger.info('closing connection', { connection: this.id, code, reason });
    this.ws.close(code, reason);
    // A client that stops reading never takes the close frame; do not wait for it forever.
    setTimeout(() => this.ws.terminate(), this.core.settings.closeGraceMs).unref();
    this.cleanup();
  }

  private slowConsumer(): void {
    const own = this.ws.bufferedAmount > this.core.settings.maxBufferedBytes;
    this.close(1008, own
      ? `slow consumer: more than ${this.core.settings.maxBufferedBytes} bytes waiting to be sent`
      : `slow consumer: ${this.ws.bufferedAmount} bytes waiting while all connections hold over ${this.core.settings.maxTotalBufferedBytes}`);
  }

  private sendText(text: string): void {
    if (this.core.settings.verbose) this.core.logger.info('frame out', { connection: this.id, frame: text.length > 2048 ? text.slice(0, 2048) + '…' : text });
    this.ws.send(text);
  }

  private send(frame: Frame): void {
    if (this.closing) return;
    if (this.ws.bufferedAmount > this.core.settings.maxBufferedBytes) return this.slowConsumer();
    this.sendText(JSON.stringify(frame));
  }

  private enqueue(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    const { maxInFlightPerConnection: maxFrames, maxQueuedBytesPerConnection: maxBytes } = this.core.settings;
    this.queued++;
    this.queuedBytes += data.length;
    if (!this.paused && (this.queued >= maxFrames || this.queuedBytes >= maxBytes)) {
      this.paused = true;
      this.ws.pause();
    }
    this.chain = this.chain
      .then(() => this.handle(data, isBinary))
      .catch((e) => this.core.logger.error('frame handling failed', { connection: this.id, error: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        this.queued--;
        this.queuedBytes -= data.length;
        // Resume well below the bound: pausing and resuming per frame would cost more than the work.
        if (this.paused && this.queued < maxFrames / 2 && this.queuedBytes < maxBytes / 2) {
          this.paused = false;
          if (!this.closing) this.ws.resume();
        }
      });
  }

  private async handle(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.closing) return;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString('utf8'));
    } catch {
      if (this.core.settings.verbose) this.core.logger.info('frame in (not JSON)', { connection: this.id, bytes: data.length, binary: isBinary });
      return this.send({ type: 'error', errors: [{ errorType: ERROR_TYPES.badRequest, message: 'The message is not valid JSON.' }] });
    }
    if (this.core.settings.verbose) this.core.logger.info('frame in', { connection: this.id, frame: redactFrame(frame) });
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      return this.send({ type: 'error', errors: [{ errorType: ERROR_TYPES.badRequest, message: 'The message must be a JSON object with a type.' }] });
    }
    const f = frame as Frame;
    switch (f.type) {
      case 'connection_init':
        return this.ack();
      case 'ka':
        return; // clients may send their own keep-alives; the service ignores them
      case 'subscribe':
        this.implicitInit();
        return this.subscribe(f);
      case 'unsubscribe':
        this.implicitInit();
        return this.unsubscribe(f);
      case 'publish':
        this.implicitInit();
        return this.publish(f);
      default: {
        const type = typeof f.type === 'string' ? f.type.slice(0, 64) : 'unknown';
        return this.send({
          type: 'error',
          ...(typeof f.id === 'string' ? { id: f.id } : {}),
          errors: [{ errorType: ERROR_TYPES.unsupportedOperation, message: `${type} not supported through the realtime channel` }],
        });
      }
    }
  }

  /** connection_ack with the timeout at top level, then `ka` at once: Amplify's watchdog only counts `ka`. */
  private ack(): void {
    this.send({ type: 'connection_ack', connectionTimeoutMs: this.core.settings.connectionTimeoutMs });
    this.startKeepAlive();
  }

  /** A client that skips connection_init still needs keep-alives, but never before its first request. */
  private implicitInit(): void {
    if (!this.acked) this.startKeepAlive();
  }

  private startKeepAlive(): void {
    if (this.acked) return;
    this.acked = true;
    this.send({ type: 'ka' });
    const every = this.core.settings.keepAliveIntervalMs;
    if (every > 0 && every <= MAX_TIMER_MS) this.kaTimer = setInterval(() => this.send({ type: 'ka' }), every);
    else if (every > MAX_TIMER_MS) this.kaTimer = setInterval(() => this.send({ type: 'ka' }), MAX_TIMER_MS); // ~24.8 days at most
  }

  /**
   * The frame's own authorization (or `payload.authorization`, or `payload.extensions.authorization`
   * where Amplify also puts it and GraphQL realtime clients put it alone); the connect
   * authorization only when the frame carries none at all. One that is there but not an
   * object is refused (an empty object), never silently replaced by the connect one.
   */
  private authorizationOf(f: Frame): Record<string, string> | undefined {
    const payload = typeof f.payload === 'object' && f.payload !== null ? (f.payload as Frame) : undefined;
    const extensions = typeof payload?.extensions === 'object' && payload.extensions !== null ? (payload.extensions as Frame) : undefined;
    const given = f.authorization ?? payload?.authorization ?? extensions?.authorization;
    if (given === undefined || given === null) return this.connectAuth.authorization;
    return stringRecord(given) ?? {};
  }

  /**
   * The frame's id. A string id that breaks the rule is still echoed in `<type>_error`
   * (clients wait for the answer to their id; Amplify waits for a publish's forever);
   * without a usable string there is nothing to echo, so a plain `error`.
   */
  private frameId(f: Frame, type: string): string | undefined {
    if (typeof f.id === 'string' && f.id.length > 0 && f.id.length <= MAX_ID_LENGTH) return f.id;
    const message = `${type} needs an id: a string of 1-${MAX_ID_LENGTH} characters`;
    if (typeof f.id === 'string' && f.id.length > 0) {
      this.send({ type: `${type}_error`, id: f.id, errors: [{ errorType: ERROR_TYPES.badRequest, message }] });
    } else this.send({ type: 'error', errors: [{ errorType: ERROR_TYPES.badRequest, message }] });
    return undefined;
  }

  private async subscribe(f: Frame): Promise<void> {
    const id = this.frameId(f, 'subscribe');
    if (id === undefined) return;
    try {
      if (this.subs.has(id)) throw badRequest(`subscription id ${id} is already in use on this connection`, 'id');
      if (this.subs.size >= this.core.settings.maxSubscriptionsPerConnection) {
        throw new EventApiError(
          ERROR_TYPES.maxSubscriptions,
          `This connection already holds ${this.subs.size} subscriptions; at most ${this.core.settings.maxSubscriptionsPerConnection} are allowed.`,
          { limit: this.core.settings.maxSubscriptionsPerConnection },
        );
      }
      const channel = channelOf(f.channel, true);
      const ns = this.core.namespace(channel.namespace);
      if (!ns) throw unknownNamespace(channel.namespace);
      const decision = await this.core.auth.authorize({
        authorization: this.authorizationOf(f),
        allowed: ns.subscribeAuthModes,
        op: { kind: 'subscribe', channel: f.channel as string, namespace: ns.name },
        defaultHost: this.defaultHost,
      });
      const onSubscribe = this.core.handlers?.onSubscribe;
      if (onSubscribe) {
        const verdict = onSubscribe(subscribeContext({ channel: channel.path, identity: decision.identity }));
        // `Unauthorized`, not UnauthorizedException (errors.ts: amplify-js #14947).
        if (verdict.unauthorized) throw new EventApiError(ERROR_TYPES.handlerUnauthorized, 'You are not authorized to make this call.');
        if (verdict.error !== undefined) throw new EventApiError(verdict.errorType ?? ERROR_TYPES.handlerError, verdict.error);
      }
      // Re-checked after the awaits: the connection may have closed or reached the limit meanwhile.
      if (this.closing) return;
      if (this.subs.has(id)) throw badRequest(`subscription id ${id} is already in use on this connection`, 'id');
      const sub: Subscriber<DeliveryTarget> = { id, channel, owner: this };
      this.subs.set(id, sub);
      this.core.index.add(sub);
      this.send({ type: 'subscribe_success', id });
    } catch (e) {
      this.send({ type: 'subscribe_error', id, errors: [this.reportable(e, 'subscribe')] });
    }
  }

  private unsubscribe(f: Frame): void {
    const id = this.frameId(f, 'unsubscribe');
    if (id === undefined) return;
    const sub = this.subs.get(id);
    if (!sub) {
      return this.send({ type: 'unsubscribe_error', id, errors: [{ errorType: ERROR_TYPES.unknownOperation, message: `No subscription with id ${id} on this connection.` }] });
    }
    this.subs.delete(id);
    this.core.index.remove(sub);
    this.send({ type: 'unsubscribe_success', id });
  }

  private async publish(f: Frame): Promise<void> {
    const id = this.frameId(f, 'publish');
    if (id === undefined) return;
    try {
      const result = await runPublish(this.core, {
        channel: f.channel,
        events: f.events,
        authorization: this.authorizationOf(f),
        defaultHost: this.defaultHost,
      });
      this.send({ type: 'publish_success', id, successful: result.successful, failed: result.failed });
    } catch (e) {
      this.send({ type: 'publish_error', id, errors: [this.reportable(overWebSocket(toEventApiError(e)), 'publish')] });
    }
  }

  private reportable(e: unknown, op: string) {
    const err = toEventApiError(e);
    if (err.errorType === ERROR_TYPES.internal) this.core.logger.error(`${op} failed`, { connection: this.id, error: e instanceof Error ? e.message : String(e) });
    // A refusal the service sends without words: the reason is only in the log.
    else if (!err.wireMessage) this.core.logger.info(`${op} refused`, { connection: this.id, errorType: err.errorType, reason: err.message });
    return err.toServiceError();
  }

  private cleanup(): void {
    if (this.kaTimer) clearInterval(this.kaTimer);
    if (this.lifetimeTimer) clearTimeout(this.lifetimeTimer);
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.core.sockets.delete(this.ws);
    this.kaTimer = this.lifetimeTimer = this.silenceTimer = undefined;
    for (const sub of this.subs.values()) this.core.index.remove(sub);
    this.subs.clear();
    this.closing = true;
    this.onClosed(this);
  }
}
