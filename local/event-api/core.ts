/**
 * State shared by the WebSocket and HTTP sides of one emulated Event API: options
 * with their defaults, the authenticator, the subscription index and the namespace
 * handlers.
 */
import { TOKEN_VALIDATION_EXPRESSION } from '../../functions/core/token-format';
import type { ResolvedNamespace } from '../../functions/core/config';
import type { AuthMode } from '../../functions/core/config';
import { LIMITS } from '../../functions/core/limits';
import { own } from '../../functions/core/own';
import { createLogger, type Logger } from '../../functions/shared/log';
import { loadNamespaceHandlers, type NamespaceHandlers } from '../appsync-js';
import { Authenticator } from './auth';
import { SubscriptionIndex } from './subscriptions';
import type { EventApiOptions } from './types';

/** What a subscription delivers to: a connection, or a test's in-process sink. */
export interface DeliveryTarget {
  /** Sends one pre-serialized frame; returns false when the target is gone. */
  deliver(frame: string): boolean;
}

export interface Settings {
  region: string;
  apiId: string;
  accountId: string;
  keepAliveIntervalMs: number;
  connectionTimeoutMs: number;
  connectionLifetimeMs: number;
  maxSubscriptionsPerConnection: number;
  maxBufferedBytes: number;
  maxTotalBufferedBytes: number;
  maxFrameBytes: number;
  maxConnections: number;
  maxInFlightPerConnection: number;
  maxQueuedBytesPerConnection: number;
  closeGraceMs: number;
  verbose: boolean;
  now: () => number;
}

export class EventApiCore {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly auth: Authenticator;
  readonly index = new SubscriptionIndex<DeliveryTarget>();
  /** Every open socket, for the total of bytes waiting to be sent (`totalBuffered`). */
  readonly sockets = new Set<{ readonly bufferedAmount: number }>();
  private bufferedTotal = { at: -Infinity, bytes: 0 };

  /** Bytes waiting to be sent on all sockets, summed at most every 100 ms (a fan-out asks once per delivery). */
  totalBuffered(): number {
    const now = Date.now();
    if (now - this.bufferedTotal.at >= 100) {
      let bytes = 0;
      for (const s of this.sockets) bytes += s.bufferedAmount;
      this.bufferedTotal = { at: now, bytes };
    }
    return this.bufferedTotal.bytes;
  }
  readonly handlers?: NamespaceHandlers;
  /** Auth modes that may connect: every mode some namespace uses (the config has no separate list). */
  readonly connectModes: AuthMode[];

  constructor(readonly opts: EventApiOptions) {
    const now = opts.now ?? Date.now;
    this.settings = {
      region: opts.region ?? 'us-east-1',
      apiId: opts.apiId ?? 'local',
      accountId: opts.accountId ?? '000000000000',
      keepAliveIntervalMs: opts.keepAliveIntervalMs ?? LIMITS.keepAliveIntervalMs,
      connectionTimeoutMs: opts.connectionTimeoutMs ?? LIMITS.connectionTimeoutMs,
      connectionLifetimeMs: opts.connectionLifetimeMs ?? LIMITS.connectionLifetimeMs,
      maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection ?? LIMITS.subscriptionsPerConnection,
      maxBufferedBytes: opts.maxBufferedBytes ?? 8 * 1024 * 1024,
      maxTotalBufferedBytes: opts.maxTotalBufferedBytes ?? 64 * 1024 * 1024,
      maxFrameBytes: opts.maxFrameBytes ?? 3 * 1024 * 1024,
      maxConnections: opts.maxConnections ?? 50_000,
      maxInFlightPerConnection: opts.maxInFlightPerConnection ?? 1024,
      maxQueuedBytesPerConnection: opts.maxQueuedBytesPerConnection ?? 4 * 1024 * 1024,
      closeGraceMs: opts.closeGraceMs ?? 1000,
      verbose: opts.verbose ?? false,
      now,
    };
    this.logger = (opts.logger ?? createLogger()).child({ component: 'event-api' });
    this.auth = new Authenticator({
      region: this.settings.region,
      apiId: this.settings.apiId,
      accountId: this.settings.accountId,
      authorizer: opts.authorizer,
      iamCredentials: opts.iamCredentials ?? [],
      apiKeys: opts.apiKeys ?? [],
      apiKeyExpiresAt: opts.apiKeyExpiresAt,
      extraAuth: opts.config.auth,
      oidcJwks: opts.oidcJwks,
      cognitoJwks: opts.cognitoJwks,
      jwksFetch: opts.jwksFetch,
      jwksCooldownMs: opts.jwksCooldownMs,
      defaultTtlSeconds: opts.config.authorizerResultTtlSeconds,
      cacheMaxEntries: opts.authorizerCacheMaxEntries ?? 10_000,
      cacheKey: opts.authorizerCacheKey ?? 'question',
      // As the stack sets it on the Lambda authorizer (modules/eventsock.ts).
      identityValidationExpression: opts.identityValidationExpression === null ? undefined : (opts.identityValidationExpression ?? TOKEN_VALIDATION_EXPRESSION),
      timeoutMs: opts.authorizerTimeoutMs ?? 10_000,
      now,
      logger: this.logger,
    });
    if (opts.namespaceHandlerCode !== undefined) {
      const log = this.logger.child({ component: 'namespace-handler' });
      this.handlers = loadNamespaceHandlers(opts.namespaceHandlerCode, { now, log: (level, message) => log[level](message) });
    }
    const modes = new Set<AuthMode>();
    for (const ns of Object.values(opts.config.namespaces)) for (const m of [...ns.publishAuthModes, ...ns.subscribeAuthModes]) modes.add(m);
    this.connectModes = [...modes];
  }

  namespace(name: string): ResolvedNamespace | undefined {
    return own(this.opts.config.namespaces, name);
  }
}
