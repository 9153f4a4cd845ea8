/**
 * Authorization of connect, subscribe and publish under the namespace's auth modes,
 * as AppSync Events does it: the mode is read off the authorization object
 * (`x-api-key`, a SigV4 `Authorization`, or any other `Authorization` = a token for
 * AWS_LAMBDA, OPENID_CONNECT or AMAZON_COGNITO_USER_POOLS), and must be one the
 * operation allows. OIDC and Cognito tokens are verified in token-modes.ts.
 *
 * Which token mode a bare `Authorization` is for (routeToken), as the service routes it:
 * a value that parses as a JWT goes to OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS whenever
 * one of them is on the API, whether or not the operation allows it (then it is refused
 * as a mode the operation does not allow); anything else, an Eventsock token with its
 * `es1.` prefix (functions/core/token-format.ts) included, goes to AWS_LAMBDA. Sources:
 * the AppSync developer guide, security-authz.html#aws-lambda-authorization ("Circumventing
 * SigV4 and OIDC token authorization limitations": with OPENID_CONNECT or
 * AMAZON_COGNITO_USER_POOLS and AWS_LAMBDA enabled on the API, an OIDC token cannot be a
 * Lambda authorization token; add a prefix or suffix to it); aws-amplify/amplify-cli#9714
 * (the authorizer is not invoked for an OIDC token, a random string reaches it);
 * aws-amplify/amplify-js#9513 (the AppSync team: `Bearer` is reserved for OIDC, so a
 * `Bearer ` value counts as a JWT here). Unconfirmed, and the emulator's choice: what
 * "parses as a JWT" means exactly (here: 3 dot-separated parts whose header and payload
 * decode to JSON objects), and which of OIDC and Cognito a JWT goes to when both are on
 * the API (here: the one whose issuer its unverified `iss` names, else OPENID_CONNECT).
 * The routing only picks the verifier; nothing is trusted before the signature and
 * claims are checked.
 *
 * Before the authorizer is invoked, the token must match the Lambda authorizer's
 * identity_validation_expression (the stack sets functions/core/token-format.ts
 * TOKEN_VALIDATION_EXPRESSION; AppSync API reference, LambdaAuthorizerConfig: "A regular
 * expression for validation of tokens before the Lambda function is called"); a token
 * that does not match is refused with UnauthorizedException and costs no invocation.
 *
 * Lambda answers are cached for ttlOverride (or the API's authorizerResultTtlSeconds).
 * AWS does not document the cache key (see functions/authorizer/cache-policy.ts for
 * the pages checked: LambdaAuthorizerConfig in the AppSync API reference, the Event
 * API auth guide). The emulator keys the cache on token + operation + channel as sent:
 * a cached answer is only ever replayed for the exact question it answered, so it can
 * never authorize a channel or operation that the service would not have asked about.
 * (If the service keys on the token alone it may replay more; the authorizer copes with
 * that by giving a ttlOverride only to tokens that would be allowed everywhere.)
 */
import { createHash, randomUUID } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import type { AuthorizerEvent, AuthorizerResult, EventOperation, HandlerContext } from '../../functions/core/authorizer-contract';
import type { AuthMode, ExtraAuthConfig } from '../../functions/core/config';
import { LIMITS } from '../../functions/core/limits';
import type { SignedOperation } from '../../functions/core/event-request';
import type { Logger } from '../../functions/shared/log';
import type { Identity } from '../appsync-js/types';
import { type ReceivedRequest, type SigV4Result, verifyEventAuthorization, verifySigV4 } from '../sigv4-verify';
import { unauthorized } from './errors';
import { cognitoVerifier, type ModeVerifier, oidcVerifier, TokenRefusal, type TokenMode, unverifiedIssuer } from './token-modes';
import type { IamCredential } from './types';
import { ownRecord } from '../../functions/core/own';

export interface AuthDecision {
  mode: AuthMode;
  /** What namespace handlers see as ctx.identity. */
  identity: Identity;
}

/** The operation being authorized; `channel` is the channel as the client sent it. */
export type AuthOperation =
  | { kind: 'connect' }
  | { kind: 'subscribe'; channel: string; namespace: string }
  | { kind: 'publish'; channel: string; namespace: string; events: string[] };

export interface AuthRequest {
  /** The authorization object (frame `authorization`, `header-` subprotocol, or HTTP headers). */
  authorization: Record<string, string> | undefined;
  allowed: readonly AuthMode[];
  op: AuthOperation;
  /** HTTP POST /event: verify SigV4 over the request as received instead of rebuilding it. */
  httpRequest?: ReceivedRequest;
  /** Host used when an authorization object has none (some clients' publish frames). */
  defaultHost?: string;
  /** Passed to the authorizer as requestHeaders. */
  requestHeaders?: Record<string, string>;
}

export interface AuthenticatorOptions {
  region: string;
  apiId: string;
  accountId: string;
  authorizer?: (event: AuthorizerEvent) => Promise<AuthorizerResult>;
  iamCredentials: IamCredential[];
  apiKeys: string[];
  apiKeyExpiresAt?: ReadonlyMap<string, number>;
  /** The Lambda authorizer's identity_validation_expression; a token that does not match never reaches the authorizer. Default: none. */
  identityValidationExpression?: string;
  /** OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS settings (config.auth). */
  extraAuth?: ExtraAuthConfig;
  oidcJwks?: JSONWebKeySet;
  cognitoJwks?: JSONWebKeySet;
  jwksFetch?: typeof fetch;
  jwksCooldownMs?: number;
  defaultTtlSeconds: number;
  /** What a cached Lambda answer is keyed on: the question (default) or the token alone (the worst case cache-policy.ts plans for). */
  cacheKey?: 'question' | 'token';
  cacheMaxEntries: number;
  timeoutMs: number;
  now: () => number;
  logger: Logger;
}

const OPERATIONS: Record<AuthOperation['kind'], EventOperation> = { connect: 'EVENT_CONNECT', subscribe: 'EVENT_SUBSCRIBE', publish: 'EVENT_PUBLISH' };

export function lowerKeys(o: Record<string, string> | undefined): Record<string, string> {
  const out = ownRecord<string>();
  if (o) for (const [k, v] of Object.entries(o)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Which auth mode an authorization object is written for: API_KEY, AWS_IAM, or 'TOKEN'
 * for any other Authorization (AWS_LAMBDA, OPENID_CONNECT or AMAZON_COGNITO_USER_POOLS;
 * routeToken decides which).
 */
export function detectMode(lower: Record<string, string>): 'API_KEY' | 'AWS_IAM' | 'TOKEN' | undefined {
  if (lower['x-api-key'] !== undefined) return 'API_KEY';
  const a = lower.authorization;
  if (a === undefined || a.length === 0) return undefined;
  return a.startsWith('AWS4-HMAC-SHA256') ? 'AWS_IAM' : 'TOKEN';
}

/** Does this Authorization value parse as a JWT (or carry the `Bearer` scheme AppSync keeps for OIDC)? See the file comment. */
export function parsesAsJwt(value: string): boolean {
  if (/^bearer\s/i.test(value)) return true;
  const parts = value.split('.');
  if (parts.length !== 3) return false;
  const object = (part: string) => {
    try {
      const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    } catch {
      return false;
    }
  };
  return /^[A-Za-z0-9_-]+$/.test(parts[0]) && /^[A-Za-z0-9_-]+$/.test(parts[1]) && object(parts[0]) && object(parts[1]);
}

/**
 * The token mode a bare Authorization value is for, as the service routes it (see the
 * file comment): a JWT goes to the JWT mode on the API (by issuer when both are), anything
 * else to AWS_LAMBDA. `configured`: the JWT modes on the API, with their issuers.
 */
export function routeToken(token: string, configured: Partial<Record<TokenMode, string>>): AuthMode {
  const modes = Object.keys(configured) as TokenMode[];
  if (modes.length === 0 || !parsesAsJwt(token)) return 'AWS_LAMBDA';
  const iss = unverifiedIssuer(token);
  return modes.find((m) => configured[m] === iss) ?? (configured.OPENID_CONNECT !== undefined ? 'OPENID_CONNECT' : modes[0]);
}

interface CacheEntry {
  result: AuthorizerResult;
  expiresAt: number;
}

export class Authenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly keys: Map<string, IamCredential>;
  private readonly verifiers: Partial<Record<TokenMode, ModeVerifier>> = {};
  private readonly issuers: Partial<Record<TokenMode, string>> = {};
  private readonly identityValidation: RegExp | undefined;
  constructor(private readonly opts: AuthenticatorOptions) {
    this.identityValidation = opts.identityValidationExpression ? new RegExp(opts.identityValidationExpression) : undefined;
    this.keys = new Map(opts.iamCredentials.map((c) => [c.accessKeyId, c]));
    const common = { fetch: opts.jwksFetch, cooldownMs: opts.jwksCooldownMs, now: opts.now };
    const { openIdConnect, cognito } = opts.extraAuth ?? {};
    if (openIdConnect) this.verifiers.OPENID_CONNECT = oidcVerifier(openIdConnect, { ...common, jwks: opts.oidcJwks });
    if (cognito) this.verifiers.AMAZON_COGNITO_USER_POOLS = cognitoVerifier(cognito, { ...common, jwks: opts.cognitoJwks });
    for (const v of Object.values(this.verifiers)) this.issuers[v.mode] = v.issuer;
  }

  /** Resolves with the caller's identity or rejects with UnauthorizedException. */
  async authorize(req: AuthRequest): Promise<AuthDecision> {
    const lower = lowerKeys(req.authorization);
    const detected = detectMode(lower);
    if (detected === undefined) throw unauthorized('No authorization: expected x-api-key, an Authorization token or a SigV4 signature.');
    const mode: AuthMode = detected === 'TOKEN' ? routeToken(lower.authorization, this.issuers) : detected;
    if (!req.allowed.includes(mode)) {
      // Say which modes would have worked.
      throw unauthorized(`${mode} is not an allowed auth mode for this operation (allowed: ${req.allowed.join(', ')}).`);
    }
    switch (mode) {
      case 'API_KEY':
        if (!this.opts.apiKeys.includes(lower['x-api-key'])) throw unauthorized('The API key is not valid.');
        // Unconfirmed: the service's words for a lapsed key; it is refused as an unknown one (UnauthorizedException).
        if ((this.opts.apiKeyExpiresAt?.get(lower['x-api-key']) ?? Infinity) <= this.opts.now()) throw unauthorized('The API key is not valid.');
        return { mode, identity: null };
      case 'AWS_IAM':
        return { mode, identity: await this.iam(lower, req) };
      case 'OPENID_CONNECT':
      case 'AMAZON_COGNITO_USER_POOLS':
        return { mode, identity: await this.jwt(mode, lower.authorization, req) };
      default:
        return { mode, identity: await this.lambda(lower.authorization, req) };
    }
  }

  private async iam(lower: Record<string, string>, req: AuthRequest): Promise<Identity> {
    const verifyOpts = {
      credentials: (id: string) => this.keys.get(id),
      region: this.opts.region,
      service: 'appsync',
      now: this.opts.now,
      defaultHost: req.defaultHost,
    };
    const result: SigV4Result = req.httpRequest
      ? await verifySigV4(req.httpRequest, verifyOpts)
      : await verifyEventAuthorization(lower, signedOperation(req.op), verifyOpts);
    if (!result.ok) {
      this.opts.logger.info('iam auth refused', { reason: result.reason, operation: req.op.kind });
      throw unauthorized(`The request signature is not valid (${result.reason}: ${result.detail}).`);
    }
    const accountId = this.opts.accountId;
    return {
      accountId,
      userArn: `arn:aws:iam::${accountId}:user/${result.accessKeyId}`,
      username: result.accessKeyId,
      sourceIp: [],
      cognitoIdentityPoolId: null,
      cognitoIdentityId: null,
      cognitoIdentityAuthType: null,
      cognitoIdentityAuthProvider: null,
    };
  }

  private async jwt(mode: TokenMode, token: string, req: AuthRequest): Promise<Identity> {
    const verifier = this.verifiers[mode];
    if (!verifier) throw unauthorized(`${mode} is not configured on this emulator (config.auth.${mode === 'OPENID_CONNECT' ? 'openIdConnect' : 'cognito'}).`);
    try {
      return await verifier.verify(token);
    } catch (e) {
      // The reason goes to the log, never the token; the caller gets the service's words.
      const reason = e instanceof TokenRefusal ? e.reason : 'verification failed';
      this.opts.logger.info('token auth refused', { mode, reason, operation: req.op.kind });
      throw unauthorized();
    }
  }

  private async lambda(token: string, req: AuthRequest): Promise<Identity> {
    const authorizer = this.opts.authorizer;
    if (!authorizer) throw unauthorized('AWS_LAMBDA is not configured on this emulator (no authorizer).');
    if (this.identityValidation && !this.identityValidation.test(token)) {
      // Refused by the service before any invocation; the token never reaches a log.
      this.opts.logger.info('token auth refused', { mode: 'AWS_LAMBDA', reason: 'identity_validation_expression does not match', operation: req.op.kind });
      throw unauthorized();
    }
    const op = req.op;
    const channel = op.kind === 'connect' ? undefined : op.channel;
    const tokenKey = createHash('sha256').update(token).digest('base64');
    const key = this.opts.cacheKey === 'token' ? tokenKey : tokenKey + '\n' + op.kind + '\n' + (channel ?? '');
    const now = this.opts.now();
    const cached = this.cache.get(key);
    let result: AuthorizerResult | undefined;
    if (cached && cached.expiresAt > now) result = cached.result;
    else {
      if (cached) this.cache.delete(key);
      const event: AuthorizerEvent = {
        authorizationToken: token,
        requestContext: {
          apiId: this.opts.apiId,
          accountId: this.opts.accountId,
          requestId: randomUUID(),
          operation: OPERATIONS[op.kind],
          ...(op.kind === 'connect' ? {} : { channelNamespaceName: op.namespace, channel }),
        },
        requestHeaders: req.requestHeaders ?? {},
      };
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
        });
        result = await Promise.race([authorizer(event), timeout]);
      } catch (e) {
        this.opts.logger.warn('authorizer failed', { operation: op.kind, error: e instanceof Error ? e.message : String(e) });
        throw unauthorized('The authorizer failed.');
      } finally {
        clearTimeout(timer);
      }
      const ttl = Math.min(LIMITS.authorizerTtlMaxSeconds, typeof result?.ttlOverride === 'number' ? result.ttlOverride : this.opts.defaultTtlSeconds);
      if (ttl > 0) {
        if (this.cache.size >= this.opts.cacheMaxEntries) this.cache.delete(this.cache.keys().next().value as string);
        // The ttl runs from the answer: a slow authorizer does not shorten it.
        this.cache.set(key, { result, expiresAt: this.opts.now() + ttl * 1000 });
      }
    }
    if (!result || result.isAuthorized !== true) throw unauthorized();
    return { handlerContext: (result.handlerContext ?? {}) as HandlerContext };
  }
}

function signedOperation(op: AuthOperation): SignedOperation {
  switch (op.kind) {
    case 'connect':
      return { kind: 'connect' };
    case 'subscribe':
      return { kind: 'subscribe', channel: op.channel };
    case 'publish':
      return { kind: 'publish', channel: op.channel, events: op.events };
  }
}
