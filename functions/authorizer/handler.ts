/**
 * The AppSync Events Lambda authorizer: a customer-signed JWT in, a decision for
 * one connect, subscribe or publish out.
 *
 * - EVENT_CONNECT needs scope `connect`. Scope gates connecting only: a token with
 *   scope `subscribe` alone (one handed out for a single subscription) cannot open a
 *   connection, and subscribe/publish are decided by the channel grants.
 * - EVENT_SUBSCRIBE needs `subscribe` on a pattern covering the channel; a wildcard
 *   subscription must be covered whole (core patternCovers) and is refused outright
 *   in namespaces with allowWildcardSubscribe false.
 * - EVENT_PUBLISH needs `publish` on the channel (event names are filtered later by
 *   onPublish from handlerContext.publish), in a namespace with clientPublish.
 * Channels of namespaces that are not configured are refused. The answer is never
 * an exception: anything unexpected becomes a logged denial.
 *
 * With `revocations` (the Lambda entry always passes it), a token whose uid or jti a
 * backend revoked is denied (TOKEN_REVOKED) at its next authorizer call, and denied
 * too when the revocations table cannot be read (REVOCATIONS_UNAVAILABLE): one
 * DynamoDB read per call for tokens with a uid or jti (functions/shared/revocations.ts).
 */
import type { AuthorizerEvent, AuthorizerResult, EventOperation } from '../core/authorizer-contract';
import { type Channel, tryParseChannel } from '../core/channels';
import { isGranted, type ParsedClaims } from '../core/claims';
import type { RuntimeSettings } from '../core/config';
import { LIMITS } from '../core/limits';
import { own } from '../core/own';
import { createLogger, type LogFields, type Logger } from '../shared/log';
import type { SecretSource } from '../shared/secrets';
import { type RevocationCheck, withRevocations } from '../tokens/revoked';
import { createTokenVerifier, type TokenVerifierDeps } from '../tokens/verify';
import { allowTtlSeconds, isUniversal } from './cache-policy';
import { buildHandlerContext, type EventsockHandlerContext } from './handler-context';
import type { DecisionReason } from './reasons';

export type { DecisionReason } from './reasons';

export interface AuthorizerDeps {
  settings: RuntimeSettings;
  secrets: SecretSource;
  logger?: Logger;
  /** Milliseconds since the epoch. */
  now?: () => number;
  jwksFetch?: typeof fetch;
  /** Passed on to the token verifier (cache size, JWKS timings). */
  verifier?: Omit<TokenVerifierDeps, 'secrets' | 'now' | 'jwksFetch' | 'logger'>;
  /** Refuses revoked tokens (createRevocationCheck from functions/shared/revocations.ts). */
  revocations?: RevocationCheck;
}

export type AuthorizerHandler = (event: AuthorizerEvent) => Promise<AuthorizerResult>;

const OPERATIONS: readonly EventOperation[] = ['EVENT_CONNECT', 'EVENT_SUBSCRIBE', 'EVENT_PUBLISH'];
/** `/` + 5 segments of 50 + separators; anything longer cannot be a channel, so it is not even split. */
const CHANNEL_MAX_INPUT = 1 + LIMITS.channelMaxSegments * (LIMITS.segmentMaxLength + 1) + 1;

/** What an allow needs besides the decision, derived from the claims alone (one handler = one settings). */
interface Derived {
  context: EventsockHandlerContext;
  universal: boolean;
}
const DERIVED = Symbol('eventsock.authorizer.derived');

type Decision = { allow: true } | { allow: false; reason: DecisionReason; detail: string };
const deny = (reason: DecisionReason, detail: string): Decision => ({ allow: false, reason, detail });

export function createAuthorizerHandler(deps: AuthorizerDeps): AuthorizerHandler {
  const { settings } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger();
  const plain = createTokenVerifier(settings.tokens, { ...deps.verifier, secrets: deps.secrets, now, jwksFetch: deps.jwksFetch, logger });
  const verifier = deps.revocations ? withRevocations(plain, deps.revocations, (e) => logger.error('revocations could not be read', { error: (e as Error)?.name })) : plain;
  // Computed once per verified token and kept on its claims object, which the verifier hands back
  // while the token is cached, so it lives exactly as long as the cache entry. Measured: a WeakMap
  // (ephemerons) or a separate map (objects surviving young-generation GCs) each made first-seen
  // decisions 15-40% slower.
  function derived(claims: ParsedClaims): Derived {
    const held = (claims as ParsedClaims & { [DERIVED]?: Derived })[DERIVED];
    if (held) return held;
    // Frozen: the same context object is handed out for every decision on this token.
    const d: Derived = { context: Object.freeze(buildHandlerContext(claims)), universal: isUniversal(claims, settings) };
    Object.defineProperty(claims, DERIVED, { value: d, enumerable: false });
    return d;
  }

  function channelOf(raw: unknown, op: 'subscribe' | 'publish'): Channel | Decision {
    if (typeof raw !== 'string' || raw.length === 0) return deny('CHANNEL_MISSING', 'requestContext.channel is missing');
    if (raw.length > CHANNEL_MAX_INPUT) return deny('CHANNEL_INVALID', `channel is over ${CHANNEL_MAX_INPUT} characters`);
    const channel = tryParseChannel(raw, { allowWildcard: op === 'subscribe' });
    if (!channel) {
      return deny('CHANNEL_INVALID', op === 'publish' && raw.includes('*') ? 'publishing to a wildcard channel is not allowed' : 'channel is not a valid channel path');
    }
    return channel;
  }

  function decide(op: EventOperation, claims: ParsedClaims, event: AuthorizerEvent, channel: Channel | undefined): Decision {
    if (op === 'EVENT_CONNECT') {
      return claims.scopes.has('connect') ? { allow: true } : deny('SCOPE_CONNECT_MISSING', 'opening a connection needs scope connect');
    }
    const ns = own(settings.namespaces, channel!.namespace);
    if (!ns) return deny('NAMESPACE_UNKNOWN', `namespace ${JSON.stringify(channel!.namespace)} is not configured`);
    const declared = event.requestContext.channelNamespaceName;
    if (declared !== undefined && declared !== channel!.namespace) {
      return deny('NAMESPACE_MISMATCH', 'requestContext.channelNamespaceName does not match the channel');
    }
    if (op === 'EVENT_SUBSCRIBE') {
      if (!ns.subscribeAuthModes.includes('AWS_LAMBDA')) return deny('AUTH_MODE_NOT_ALLOWED', `namespace ${channel!.namespace} does not take token subscriptions`);
      if (channel!.wildcard && !ns.allowWildcardSubscribe) return deny('WILDCARD_SUBSCRIBE_DISABLED', `namespace ${channel!.namespace} does not allow wildcard subscriptions`);
      return isGranted(claims, 'subscribe', channel!) ? { allow: true } : deny('SUBSCRIBE_NOT_GRANTED', 'no granted pattern covers this channel for subscribe');
    }
    if (!ns.clientPublish || !ns.publishAuthModes.includes('AWS_LAMBDA')) return deny('CLIENT_PUBLISH_DISABLED', `namespace ${channel!.namespace} does not take client publishes`);
    return isGranted(claims, 'publish', channel!) ? { allow: true } : deny('PUBLISH_NOT_GRANTED', 'no granted pattern allows publishing on this channel');
  }

  function denied(fields: LogFields, reason: DecisionReason, detail: string, extra?: LogFields): AuthorizerResult {
    logger.warn('authorizer decision', { decision: 'deny', reason, detail, ...fields, ...extra });
    return { isAuthorized: false, ttlOverride: 0 };
  }

  return async function authorize(event: AuthorizerEvent): Promise<AuthorizerResult> {
    const ctx = (event as Partial<AuthorizerEvent> | undefined)?.requestContext;
    const op = ctx?.operation;
    const logFields: LogFields = {
      operation: typeof op === 'string' ? op.slice(0, 32) : undefined,
      requestId: typeof ctx?.requestId === 'string' ? ctx.requestId.slice(0, 64) : undefined,
      channel: undefined,
    };
    const refuse = (reason: DecisionReason, detail: string, extra?: LogFields) => denied(logFields, reason, detail, extra);
    try {
      if (!ctx || typeof ctx !== 'object') return refuse('EVENT_INVALID', 'the event has no requestContext');
      if (!OPERATIONS.includes(op as EventOperation)) return refuse('OPERATION_UNKNOWN', 'requestContext.operation is not EVENT_CONNECT, EVENT_SUBSCRIBE or EVENT_PUBLISH');

      // The channel is checked before the token so that junk channels cost no crypto.
      let channel: Channel | undefined;
      if (op !== 'EVENT_CONNECT') {
        const c = channelOf(ctx.channel, op === 'EVENT_SUBSCRIBE' ? 'subscribe' : 'publish');
        if ('allow' in c) {
          logFields.channel = typeof ctx.channel === 'string' ? ctx.channel.slice(0, 300) : undefined;
          if (!c.allow) return refuse(c.reason, c.detail);
          throw new Error('channelOf never allows');
        }
        channel = c;
        logFields.channel = channel.path;
      }

      const verified = await verifier.verify(event.authorizationToken);
      if (!verified.ok) return refuse(verified.reason, verified.detail);
      const { claims } = verified;
      const who = { sub: claims.sub, jti: claims.jti };

      const decision = decide(op as EventOperation, claims, event, channel);
      if (!decision.allow) return refuse(decision.reason, decision.detail, who);

      const d = derived(claims);
      const ttlOverride = allowTtlSeconds(claims, verified.payload, settings, now(), d.universal);
      // Allows at debug: they are the bulk of invocations; denials (warn) are what operators look for.
      logger.debug('authorizer decision', { decision: 'allow', reason: 'GRANTED', ...logFields, ...who, ttlOverride });
      return { isAuthorized: true, ttlOverride, handlerContext: d.context };
    } catch (e) {
      logger.error('authorizer failed', { error: (e as Error)?.name ?? 'unknown', ...logFields });
      return { isAuthorized: false, ttlOverride: 0 };
    }
  };
}
