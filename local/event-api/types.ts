/**
 * The contract of the AppSync Events emulator (`createEventApi`): what the dev
 * server, the client tests and the benches code against. Defaults are the
 * service's (functions/core/limits.ts) unless said otherwise.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { JSONWebKeySet } from 'jose';
import type { AuthorizerEvent, AuthorizerResult } from '../../functions/core/authorizer-contract';
import type { ResolvedConfig } from '../../functions/core/config';
import type { Logger } from '../../functions/shared/log';
import type { NamespaceHandlerConfigs } from '../../functions/namespace/code';
import type { LambdaDataSource } from './data-sources';

export interface IamCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface EventApiOptions {
  /** Namespaces and their auth modes (functions/core/config.ts). */
  config: ResolvedConfig;
  /** SigV4 scope. Default: 'us-east-1'. */
  region?: string;
  /** Put in the authorizer's requestContext and the IAM identity. Defaults: 'local', '000000000000'. */
  apiId?: string;
  accountId?: string;
  /** AWS_LAMBDA: the real authorizer, called in-process (createAuthorizerHandler from functions/authorizer/handler.ts). */
  authorizer?: (event: AuthorizerEvent) => Promise<AuthorizerResult>;
  /** AWS_IAM: credentials the emulator accepts. */
  iamCredentials?: IamCredential[];
  /** API_KEY: accepted keys. */
  apiKeys?: string[];
  /**
   * API_KEY: when each key lapses (epoch ms, as `now()` counts); a key past it is refused
   * like an unknown one. A key not listed here does not lapse. The stack renews the real key
   * on every apply (modules/api-key.ts); the dev server gives its key the configured lifetime.
   */
  apiKeyExpiresAt?: ReadonlyMap<string, number>;
  /**
   * OPENID_CONNECT (config.auth.openIdConnect): the issuer's public JWKS, used instead of
   * OIDC discovery and the jwks_uri, so the emulator needs no network. Public keys only.
   */
  oidcJwks?: JSONWebKeySet;
  /** AMAZON_COGNITO_USER_POOLS (config.auth.cognito): the user pool's public JWKS, used instead of its jwks.json URL. */
  cognitoJwks?: JSONWebKeySet;
  /** fetch for OIDC discovery and JWKS downloads when no JWKS is given (tests: a loopback server). Default: global fetch. */
  jwksFetch?: typeof fetch;
  /** How long after a download a token with an unknown kid may make the JWKS be fetched again (jose's cooldown). Default: 30000. */
  jwksCooldownMs?: number;
  /** APPSYNC_JS namespace handler source (functions/namespace/handlers.js), run for every namespace. */
  namespaceHandlerCode?: string;
  /**
   * Data sources on the API, by name (data-sources.ts). AWS_LAMBDA: `invoke` is the real
   * function's handler, called in-process with the payload the service sends.
   */
  dataSources?: Record<string, LambdaDataSource>;
  /**
   * Handler configs by namespace name (functions/namespace/code.ts `namespaceHandlerConfigs`,
   * what the stack deploys): onPublish DIRECT or CODE with a data source. Default: none, the
   * namespace code handles everything.
   */
  handlerConfigs?: Record<string, NamespaceHandlerConfigs>;
  /** How often `ka` is sent. Default: 60000. */
  keepAliveIntervalMs?: number;
  /** Announced in connection_ack. Default: 300000. */
  connectionTimeoutMs?: number;
  /** The service closes a connection after this long (Infinity: never; any length works, beyond a Node timer's 24.8 days too). Default: 24 h. */
  connectionLifetimeMs?: number;
  /** Default: 200 (MaxSubscriptionsReachedError beyond). */
  maxSubscriptionsPerConnection?: number;
  /**
   * Slow-consumer bound: bytes queued for one connection (ws bufferedAmount) before it
   * is closed with 1008. Default: 8 MiB.
   */
  maxBufferedBytes?: number;
  /** Largest WebSocket frame or HTTP body accepted. Default: 3 MiB (5 events of 240 KB, JSON-escaped). */
  maxFrameBytes?: number;
  /**
   * Bytes waiting to be sent on all connections together (default 64 MiB). Past it, a
   * connection with more than 256 KiB of its own waiting is closed as a slow consumer, so
   * many stalled readers cannot hold `maxBufferedBytes` each.
   */
  maxTotalBufferedBytes?: number;
  /** Open WebSocket connections before new upgrades get 503. Default: 50000. */
  maxConnections?: number;
  /**
   * Frames of one connection queued for processing before reading from it pauses
   * (backpressure, nothing is dropped); reading resumes below half. Default: 1024.
   */
  maxInFlightPerConnection?: number;
  /** The same bound in bytes of queued frames. Default: 4 MiB. */
  maxQueuedBytesPerConnection?: number;
  /** How long a closing slow consumer gets to take its close frame before it is cut off. Default: 1000. */
  closeGraceMs?: number;
  /** An authorizer that has not answered after this long is a denial (never a hung connection). Default: 10000. */
  authorizerTimeoutMs?: number;
  /**
   * What a cached Lambda answer (ttlOverride) is keyed on. AWS does not document its key.
   * 'question' (default): token + operation + channel, so an answer is only replayed for
   * what it answered. 'token': the token alone, the worst case functions/authorizer/cache-policy.ts
   * plans for, so a test can show an authorizer's ttlOverride never over-grants.
   */
  authorizerCacheKey?: 'question' | 'token';
  /** Lambda authorizer answers kept (oldest evicted first). Default: 10000. */
  authorizerCacheMaxEntries?: number;
  /**
   * The Lambda authorizer's identity_validation_expression: a token that does not match is
   * refused (UnauthorizedException) before the authorizer is invoked. Default: what the stack
   * sets, TOKEN_VALIDATION_EXPRESSION (functions/core/token-format.ts); null for none (an
   * authorizer of your own taking other tokens).
   */
  identityValidationExpression?: string | null;
  logger?: Logger;
  /** Log every frame in and out (authorization objects redacted). */
  verbose?: boolean;
  now?: () => number;
}

export interface EventApi {
  /** Handles an HTTP request if it is `POST /event` (or OPTIONS for it); returns false otherwise. */
  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<boolean> | boolean;
  /** Handles an upgrade if the path is /event/realtime (tolerate //realtime, /realtime); returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** In-process publish (as if POST /event with IAM); used by tests and benches. */
  publish(channel: string, events: string[]): Promise<PublishResult>;
  stats(): { connections: number; subscriptions: number };
  close(): Promise<void>;
}

/** One error as the service reports it in `errors[]`. */
export interface ServiceError {
  errorType: string;
  /** Absent where the service sends none (an unknown namespace). */
  message?: string;
  errorCode?: number;
}

export interface PublishResult {
  successful: Array<{ identifier: string; index: number }>;
  failed: Array<{ identifier: string; index: number; code: string; message: string }>;
}

export interface ListeningEventApi {
  api: EventApi;
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the host clients put in authorization objects and SigV4 signatures. */
  httpHost: string;
  close(): Promise<void>;
}
