/**
 * Signs Eventsock tokens for Node backends and the CLI (`eventsock token`).
 * Browser-safe (jose on Web Crypto, no Node built-ins), though a browser should
 * never hold a signing secret: tokens are minted by the customer's backend.
 *
 * The claims are checked with the same core function the authorizer uses, so a
 * token this helper signs is never refused for its shape, and a token over the
 * authorizer's length limit is an error here rather than a silent denial later.
 *
 * The token is `es1.<JWT>` (functions/core/token-format.ts): the prefix keeps AppSync
 * from taking it for an OIDC or Cognito JWT when those modes are on the API, so it
 * reaches the Lambda authorizer. Everything Eventsock (authorizer, history and publish
 * APIs) accepts it with or without the prefix; `prefix: false` signs a bare JWT.
 */
import { importJWK, type JWK, type KeyObject, SignJWT } from 'jose';
import { type ChannelPermissions, type JsonValue, parseClaims, type Scope } from '../functions/core/claims';
import { EventsockError } from '../functions/core/errors';
import { LIMITS } from '../functions/core/limits';
import { withTokenPrefix } from '../functions/core/token-format';

/** A key jose can sign with: a Web Crypto key or a Node KeyObject. */
export type KeyLike = CryptoKey | KeyObject;

export type AsymmetricAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

interface CommonOptions {
  /** Pattern -> permissions, e.g. `{ '/chat/room-1': { subscribe: true, publish: ['message'] } }`. */
  channels: Record<string, ChannelPermissions>;
  /** Default `['connect', 'subscribe']`; a list or a space-separated string. */
  scope?: Scope[] | string;
  uid?: string;
  umd?: JsonValue;
  /** Lifetime in seconds. Default 3600. */
  ttlSeconds?: number;
  issuer?: string;
  audience?: string | string[];
  subject?: string;
  jti?: string;
  /** Not valid before this instant: epoch seconds or a Date. */
  notBefore?: number | Date;
  /** The signing instant (iat): epoch milliseconds or a Date. Default: now. */
  now?: number | Date;
  /** Prefix the JWT with `es1.` (core/token-format.ts TOKEN_PREFIX). Default true; false gives the bare JWT. */
  prefix?: boolean;
}

export type SignTokenOptions = CommonOptions &
  ({ secret: string | Uint8Array; kid?: string } | { privateKey: CryptoKey | KeyLike | JWK; alg: AsymmetricAlgorithm; kid?: string });

const encoder = new TextEncoder();

function invalid(field: string, message: string, limit?: number): EventsockError {
  return new EventsockError('INVALID_TOKEN_OPTIONS', `${field}: ${message}`, { field, limit });
}

/** Signs a token the Eventsock authorizer accepts. Throws EventsockError (code INVALID_TOKEN_OPTIONS) naming the option at fault. */
export async function signToken(opts: SignTokenOptions): Promise<string> {
  const ttl = opts.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl <= 0) throw invalid('ttlSeconds', 'must be a positive whole number of seconds');
  const nowMs = opts.now === undefined ? Date.now() : opts.now instanceof Date ? opts.now.getTime() : opts.now;
  if (!Number.isFinite(nowMs)) throw invalid('now', 'must be a Date or epoch milliseconds');
  const iat = Math.floor(nowMs / 1000);

  const scope = opts.scope === undefined ? 'connect subscribe' : Array.isArray(opts.scope) ? opts.scope.join(' ') : opts.scope;
  const payload: Record<string, unknown> = { scope, channels: opts.channels };
  if (opts.uid !== undefined) payload.uid = opts.uid;
  if (opts.umd !== undefined) payload.umd = opts.umd;

  // The authorizer's own shape check, so what we sign is what it accepts.
  const parsed = parseClaims({ ...payload, exp: iat + ttl });
  if (!parsed.ok) throw invalid(parsed.reason === 'SCOPE_INVALID' ? 'scope' : parsed.reason.startsWith('UMD') ? 'umd' : parsed.reason === 'UID_INVALID' ? 'uid' : 'channels', `${parsed.reason}: ${parsed.detail}`);

  let jwt = new SignJWT(payload).setIssuedAt(iat).setExpirationTime(iat + ttl);
  if (opts.issuer !== undefined) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience !== undefined) jwt = jwt.setAudience(opts.audience);
  if (opts.subject !== undefined) jwt = jwt.setSubject(opts.subject);
  if (opts.jti !== undefined) jwt = jwt.setJti(opts.jti);
  if (opts.notBefore !== undefined) {
    const nbf = opts.notBefore instanceof Date ? Math.floor(opts.notBefore.getTime() / 1000) : opts.notBefore;
    if (!Number.isFinite(nbf)) throw invalid('notBefore', 'must be a Date or epoch seconds');
    jwt = jwt.setNotBefore(nbf);
  }

  let token: string;
  if ('secret' in opts) {
    const secret = typeof opts.secret === 'string' ? encoder.encode(opts.secret) : opts.secret;
    if (!(secret instanceof Uint8Array) || secret.length === 0) throw invalid('secret', 'must be a non-empty string or Uint8Array');
    token = await jwt.setProtectedHeader(opts.kid === undefined ? { alg: 'HS256', typ: 'JWT' } : { alg: 'HS256', typ: 'JWT', kid: opts.kid }).sign(secret);
  } else {
    const { alg } = opts;
    if (alg !== 'RS256' && alg !== 'ES256' && alg !== 'EdDSA') throw invalid('alg', 'must be RS256, ES256 or EdDSA');
    const isJwk = typeof opts.privateKey === 'object' && opts.privateKey !== null && 'kty' in opts.privateKey;
    const key = isJwk ? await importJWK(opts.privateKey as JWK, alg) : (opts.privateKey as KeyLike);
    const kid = opts.kid ?? (isJwk ? (opts.privateKey as JWK).kid : undefined);
    token = await jwt.setProtectedHeader(kid === undefined ? { alg, typ: 'JWT' } : { alg, typ: 'JWT', kid }).sign(key);
  }
  if (opts.prefix !== false) token = withTokenPrefix(token);
  if (token.length > LIMITS.tokenMaxLength) {
    throw invalid('channels', `the signed token is ${token.length} characters; the authorizer refuses tokens over ${LIMITS.tokenMaxLength} (grant fewer patterns or a smaller umd)`, LIMITS.tokenMaxLength);
  }
  return token;
}
