/** The client's public types: options, subscriptions, publish results. */
import type { JsonValue } from '../functions/core/claims';
import type { Envelope } from '../functions/core/envelope';
import type { AuthOption } from './auth';
import type { EventsockClientError } from './errors';
import type { HistoryOptions } from './history';
import type { MemberChange } from './presence';
import type { PresenceMember } from './presence-api';
import type { PublishApiOptions } from './publish-api';
import type { WebSocketConstructor } from './websocket';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ReconnectOptions {
  /** First delay. Default: 500 ms. */
  initialDelayMs: number;
  /** Ceiling. Default: 30 s. */
  maxDelayMs: number;
  /** Growth per failed attempt. Default: 2. */
  factor: number;
  /** Give up after this many consecutive failed attempts. Default: Infinity. */
  maxAttempts: number;
}

export interface ClientOptions {
  /** AppSync HTTP endpoint or host, a custom domain, or the emulator's `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Connect authorization, and the default for subscribe and publish. */
  auth: AuthOption;
  /** The WebSocket class; the Node entry passes `ws`, browsers have their own. */
  WebSocket?: WebSocketConstructor;
  /** Override the realtime URL derived from `endpoint`. */
  realtimeUrl?: string;
  /** Catch up from the history API after a reconnect. Default: off unless configured. */
  history?: HistoryOptions;
  /**
   * The publish API, for `publish(channel, events, { stored: true })`: the events go
   * through `POST /publish` with the connection's token and are stored (namespace
   * `defaultStoreSeconds`) like a backend's, so history catch-up finds them.
   */
  publishApi?: PublishApiOptions;
  /** Deliver this client's own published messages back to it. Default: true. */
  echo?: boolean;
  /** Reconnect policy, or false to stay closed after a drop. */
  reconnect?: Partial<ReconnectOptions> | false;
  /** Watchdog timeout; default: what connection_ack announces (300 s on AppSync). */
  connectionTimeoutMs?: number;
  /** How long to wait for connection_ack. Default: 15 s. */
  ackTimeoutMs?: number;
  /** How long to wait for subscribe/publish/unsubscribe answers. Default: 15 s. */
  requestTimeoutMs?: number;
  /** Randomness for backoff jitter (tests pin it). */
  random?: () => number;
}

/** An application event as a client publishes it; the namespace handler wraps it in an envelope. */
export interface ClientEvent {
  event: string;
  data?: unknown;
  /**
   * A repeat within 5 minutes (from the same user) is not delivered again and answers the first
   * id (`duplicate: true`): stored publishes, and socket publishes to a `socketPublish: 'pipeline'` namespace.
   */
  deduplicationId?: string;
}

export interface PublishOptions {
  /**
   * Publish through the publish API (needs the `publishApi` option) instead of the
   * WebSocket: the messages are stored for history catch-up, and `successful[].id`
   * holds each message id. Default: false.
   */
  stored?: boolean;
}

export interface PublishResult {
  /**
   * `identifier`: the service's event identifier; for a stored publish the message id, also in `id`.
   * Over the socket `id` is the envelope id the namespace gave, when a subscription of this client
   * receives the channel (it is read off the echo), and for a `duplicate` the first message's id.
   */
  successful: Array<{
    identifier: string;
    index: number;
    id?: string;
    /** A repeat of a deduplicationId: nothing was delivered; `id` is the first message's. */
    duplicate?: true;
    /** With `duplicate` on a stored publish: the first message, whose channel may differ from this publish's (dedup is API-wide per user). */
    duplicateOf?: { id: string; channel: string };
  }>;
  failed: Array<{ identifier?: string; index: number; code?: string; message?: string }>;
}

export type MessageHandler<D> = (message: Envelope<D>) => void;

export interface Subscription<D = JsonValue> extends AsyncIterable<Envelope<D>> {
  readonly id: string;
  /** The normalised channel path. */
  readonly channel: string;
  /** Stops delivery and tells the server (and leaves presence); resolves once the server answered (or the socket is gone). */
  unsubscribe(): Promise<void>;
  /** With `{ presence: true }`: the channel's members now, in uid order (this client's uid too). Otherwise empty. */
  members(): PresenceMember[];
  /** With `{ presence: true }`: called on every member_added / member_removed; returns the unsubscribe function. */
  onMember(listener: (change: MemberChange) => void): () => void;
}

export interface SubscribeOptions {
  /** Authorization for this subscription alone (e.g. a token with `subscribe` scope). */
  auth?: AuthOption;
  /**
   * A message id this client saw before (e.g. kept across a page reload): stored
   * messages after it are delivered first, in id order, then live ones. Needs
   * `history` and a concrete channel.
   */
  since?: string;
  /**
   * Be a member of the channel (the token's uid) while subscribed: heartbeats through the
   * publish API, the member list from the history API's GET /presence, kept current by the
   * channel's member events. Needs the `publishApi` and `history` options and a concrete
   * channel of a namespace with `presence: true`. Refusals reject subscribe() with PRESENCE_FAILED.
   */
  presence?: boolean;
}

export interface EventsockClient {
  readonly state: ConnectionState;
  subscribe<D = JsonValue>(channel: string, handler?: MessageHandler<D>, opts?: SubscribeOptions): Promise<Subscription<D>>;
  publish(channel: string, events: ClientEvent | ClientEvent[], opts?: PublishOptions): Promise<PublishResult>;
  close(): Promise<void>;
  on(type: 'state', listener: (state: ConnectionState) => void): () => void;
  on(type: 'error', listener: (error: EventsockClientError) => void): () => void;
}
