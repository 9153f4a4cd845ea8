/**
 * JWT verification shared by the authorizer and the history API.
 *
 * Order matters: the cheap, attacker-proof checks come first (length, shape, header,
 * algorithm allow-list, key lookup by `kid`), so a hostile token is refused before
 * any crypto runs; then the signature and the registered claims are verified; then
 * core/claims checks the Eventsock claims' shape.
 *
 * Asymmetric tokens (RS256, ES256, EdDSA) are verified by jose's `jwtVerify`. HS256
 * signatures are checked with node:crypto (HMAC-SHA256 + timingSafeEqual) on the
 * calling thread, and the claims then go through jose's own claims-set validation
 * (see verifyHs256): Web Crypto runs every HMAC as a job on the libuv thread pool,
 * and that round trip, not the hash, was most of the cost of a first-seen token.
 *
 * Every refusal is a `{ ok: false, reason, detail }` with a stable code; verify never
 * throws for a bad token, and neither the token nor a secret ever appears in `detail`.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type ProtectedHeaderParameters,
  UnsecuredJWT,
} from 'jose';
import { type ParsedClaims, parseClaims } from '../core/claims';
import type { RuntimeSettings, TokenAlgorithm } from '../core/config';
import { ConfigError } from '../core/errors';
import { LIMITS } from '../core/limits';
import type { Logger } from '../shared/log';
import type { SecretSource } from '../shared/secrets';
import { createClaimsCache, type VerifiedMark } from './claims-cache';
import { createHmacKeyring, type HmacKey, type HmacKeySlot } from './hmac-keys';
import type { TokenReason } from './reasons';

export type { TokenReason } from './reasons';

export type TokenResult =
  | { ok: true; claims: ParsedClaims; payload: Record<string, unknown> }
  | { ok: false; reason: TokenReason; detail: string };

export interface TokenVerifierDeps {
  secrets: SecretSource;
  /** Milliseconds since the epoch; a test clock in tests. */
  now?: () => number;
  /** fetch used for `tokens.jwksUrl` (jose's customFetch); tests point it at a loopback server. */
  jwksFetch?: typeof fetch;
  logger?: Logger;
  /** Verified tokens kept in memory. Default 10,000; 0 disables the cache. */
  cacheMaxEntries?: number;
  /** jose remote key set timings, ms. Defaults: cooldown 30 s, max age 10 min, timeout 5 s. */
  jwksCooldownMs?: number;
  jwksCacheMaxAgeMs?: number;
  jwksTimeoutMs?: number;
  /**
   * Tests only: verify HS256 with `jose.jwtVerify(token, secretBytes)` instead of node:crypto,
   * the reference the differential test (test/tokens/hs256-equivalence.test.ts) compares against.
   */
  hs256ViaJose?: boolean;
}

export interface TokenVerifier {
  verify(token: string): Promise<TokenResult>;
}

const BASE64URL_PART = /^[A-Za-z0-9_-]+$/;
const ASYMMETRIC: readonly TokenAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
const BEARER = /^bearer(?:\s+|$)/i;
/** base64url of `{"alg":"none"}`: the header verifyHs256 puts before an already verified payload. */
const UNSECURED_HEADER = 'eyJhbGciOiJub25lIn0';
const encoder = new TextEncoder();

const fail = (reason: TokenReason, detail: string): TokenResult => ({ ok: false, reason, detail });
/** Attacker-controlled header values are quoted and cut short before they reach a detail or a log. */
const quote = (v: unknown): string => JSON.stringify(String(v).slice(0, 64));

export function createTokenVerifier(tokens: RuntimeSettings['tokens'], deps: TokenVerifierDeps): TokenVerifier {
  const now = deps.now ?? Date.now;
  const allowed = new Set<string>(tokens.algorithms);
  const keyring = createHmacKeyring(tokens.hs256Keys ?? [], deps.secrets, now);
  const cache = createClaimsCache(deps.cacheMaxEntries ?? 10_000);
  const tolerance = tokens.clockToleranceSeconds ?? 0;

  const inlineKids = new Set((tokens.jwks ?? []).map((k) => k?.kid).filter((k): k is string => typeof k === 'string'));
  // Bad key configuration is a deployment error: it fails here, naming the setting, not per token.
  const localSet: JWTVerifyGetKey | undefined = tokens.jwks?.length ? configured('tokens.jwks', () => createLocalJWKSet({ keys: tokens.jwks as never })) : undefined;
  const jwksMaxAgeMs = deps.jwksCacheMaxAgeMs ?? 600_000;
  const remoteSet: JWTVerifyGetKey | undefined = tokens.jwksUrl
    ? configured('tokens.jwksUrl', () =>
        createRemoteJWKSet(new URL(tokens.jwksUrl!), {
          cooldownDuration: deps.jwksCooldownMs,
          cacheMaxAge: jwksMaxAgeMs,
          timeoutDuration: deps.jwksTimeoutMs,
          ...(deps.jwksFetch ? { [customFetch]: deps.jwksFetch } : {}),
        }),
      )
    : undefined;

  const baseOptions: Omit<JWTVerifyOptions, 'algorithms' | 'currentDate'> = {
    issuer: tokens.issuer,
    audience: tokens.audience,
    clockTolerance: tolerance,
    maxTokenAge: tokens.maxTokenAgeSeconds,
    requiredClaims: ['exp'],
  };

  /** The instant (epoch s) after which jose would refuse this payload; the cache must not outlive it. */
  function validUntil(payload: Record<string, unknown>): number {
    let until = (payload.exp as number) + tolerance;
    if (tokens.maxTokenAgeSeconds !== undefined && typeof payload.iat === 'number') {
      until = Math.min(until, payload.iat + tokens.maxTokenAgeSeconds + tolerance);
    }
    return until;
  }

  async function verifyWith(token: string, key: CryptoKey | Uint8Array | JWTVerifyGetKey, alg: string): Promise<Record<string, unknown>> {
    const options: JWTVerifyOptions = { ...baseOptions, algorithms: [alg], currentDate: new Date(now()) };
    const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, options);
    return payload as Record<string, unknown>;
  }

  /**
   * What `jwtVerify(token, secret, { algorithms: ['HS256'], ...baseOptions })` does for a
   * token whose header verifyFresh has already checked (base64url parts, JSON object
   * header, alg HS256 allowed, no crit, so b64 is true), and with the same errors:
   * 1. the signature part is decoded as jose decodes it (a length of 4n+1 is not base64:
   *    JWSInvalid) and compared in constant time with HMAC-SHA256 over `header.payload`
   *    (a mismatch, wrong length included, is JWSSignatureVerificationFailed);
   * 2. only then is the payload decoded and validated, by jose's own claims-set
   *    validation (exp, nbf, iat, iss, aud, max age, clock tolerance, required claims),
   *    reached through UnsecuredJWT.decode: the string handed to it is built here from a
   *    fixed `{"alg":"none"}` header and the payload part whose signature just verified;
   *    nothing a client sends is ever decoded as an unsecured JWT (alg none is ALG_NONE).
   * test/tokens/hs256-equivalence.test.ts checks the outcomes against jwtVerify itself.
   */
  function verifyHs256(token: string, key: HmacKey): Record<string, unknown> {
    const firstDot = token.indexOf('.');
    const lastDot = token.lastIndexOf('.');
    const signature = token.slice(lastDot + 1);
    if (signature.length % 4 === 1) throw new joseErrors.JWSInvalid('Failed to base64url decode the signature');
    if (!key.matches(token.slice(0, lastDot), Buffer.from(signature, 'base64url'))) throw new joseErrors.JWSSignatureVerificationFailed();
    const { payload } = UnsecuredJWT.decode(`${UNSECURED_HEADER}.${token.slice(firstDot + 1, lastDot)}.`, { ...baseOptions, currentDate: new Date(now()) });
    return payload as Record<string, unknown>;
  }

  /** HS256: the kid picks the slot; without a kid every configured slot is tried. */
  async function verifyHmac(token: string, header: ProtectedHeaderParameters): Promise<TokenResult | { payload: Record<string, unknown>; hmac: VerifiedMark['hmac'] }> {
    let candidates: readonly HmacKeySlot[];
    if (header.kid !== undefined) {
      const slot = typeof header.kid === 'string' ? keyring.slot(header.kid) : undefined;
      if (!slot) {
        if (typeof header.kid === 'string' && inlineKids.has(header.kid)) {
          return fail('KEY_ALG_MISMATCH', `kid ${quote(header.kid)} is an asymmetric key; it cannot verify an HS256 token`);
        }
        return fail('KID_UNKNOWN', `kid ${quote(header.kid)} names no configured HS256 key`);
      }
      candidates = [slot];
    } else {
      candidates = keyring.slots();
    }
    if (candidates.length === 0) return fail('KID_UNKNOWN', 'no HS256 key is configured');
    let unavailable = 0;
    let lastError: unknown;
    for (const slot of candidates) {
      let resolved;
      try {
        resolved = await keyring.resolve(slot);
      } catch (e) {
        // A slot whose secret is not set yet (rotation in progress) must not block the other one.
        unavailable++;
        deps.logger?.error('token secret unavailable', { kid: slot.kid, parameterName: slot.parameterName, code: (e as { code?: string }).code });
        continue;
      }
      try {
        const payload = deps.hs256ViaJose ? await verifyWith(token, encoder.encode(resolved.secret), 'HS256') : verifyHs256(token, resolved.key);
        return { payload, hmac: { parameterName: slot.parameterName, secret: resolved.secret } };
      } catch (e) {
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
          lastError = e;
          continue;
        }
        return mapJoseError(e);
      }
    }
    if (unavailable === candidates.length) return fail('SECRET_UNAVAILABLE', 'the HS256 secret could not be read');
    return mapJoseError(lastError);
  }

  async function verifyAsymmetric(token: string, header: ProtectedHeaderParameters, alg: string): Promise<TokenResult | { payload: Record<string, unknown>; remote?: boolean }> {
    if (typeof header.kid === 'string' && keyring.has(header.kid) && !inlineKids.has(header.kid)) {
      return fail('KEY_ALG_MISMATCH', `kid ${quote(header.kid)} is an HS256 secret; it cannot verify an ${alg} token`);
    }
    const sets = [localSet, remoteSet].filter((s): s is JWTVerifyGetKey => s !== undefined);
    if (sets.length === 0) return fail('KID_UNKNOWN', `no public keys are configured for ${alg}`);
    let last: TokenResult = fail('KID_UNKNOWN', `no configured public key matches kid ${quote(header.kid)} and alg ${alg}`);
    for (const set of sets) {
      try {
        return { payload: await verifyWith(token, set, alg), remote: set === remoteSet };
      } catch (e) {
        // Several keys fit (no kid on the token or the keys): jose hands them over to try in turn.
        if (e instanceof joseErrors.JWKSMultipleMatchingKeys) {
          const tried = await tryEach(token, e as unknown as AsyncIterable<CryptoKey>, alg);
          if ('payload' in tried) return { payload: tried.payload, remote: set === remoteSet };
          return tried;
        }
        // Network failures reach us as fetch's own errors (TypeError 'fetch failed'), not jose's.
        if (set === remoteSet && !(e instanceof joseErrors.JOSEError)) return fail('JWKS_UNAVAILABLE', 'the JWKS URL could not be reached');
        last = mapJoseError(e, header);
        // Inline keys first; a kid they do not hold may still be in the remote set.
        if (last.ok === false && last.reason === 'KID_UNKNOWN') continue;
        return last;
      }
    }
    return last;
  }

  async function tryEach(token: string, keys: AsyncIterable<CryptoKey>, alg: string): Promise<TokenResult | { payload: Record<string, unknown> }> {
    let last: TokenResult = fail('SIGNATURE_INVALID', 'the signature does not verify with any matching key');
    for await (const key of keys) {
      try {
        return { payload: await verifyWith(token, key, alg) };
      } catch (e) {
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        last = mapJoseError(e);
        break;
      }
    }
    return last;
  }

  async function verifyFresh(token: string): Promise<TokenResult> {
    const parts = token.split('.');
    if (parts.length !== 3) return fail('TOKEN_MALFORMED', `a JWT has 3 dot-separated parts; this one has ${parts.length}`);
    if (!BASE64URL_PART.test(parts[0])) return fail('TOKEN_MALFORMED', 'the JWT header is empty or not base64url');
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return fail('TOKEN_MALFORMED', 'the JWT header is not base64url-encoded JSON');
    }
    const alg = header.alg;
    if (typeof alg !== 'string') return fail('TOKEN_MALFORMED', 'the JWT header has no alg');
    // Before the signature-part check: an unsecured JWT has an empty one, and deserves its own code.
    if (alg.toLowerCase() === 'none') return fail('ALG_NONE', 'unsecured JWTs (alg none) are never accepted');
    for (let i = 1; i < 3; i++) {
      if (!BASE64URL_PART.test(parts[i])) return fail('TOKEN_MALFORMED', `part ${i + 1} of the JWT is empty or not base64url`);
    }
    if (!allowed.has(alg)) return fail('ALG_NOT_ALLOWED', `alg ${quote(alg)} is not one of the allowed algorithms ${[...allowed].join(', ')}`);
    if (header.crit !== undefined) return fail('TOKEN_MALFORMED', 'JWT header crit parameters are not supported');

    const verified = alg === 'HS256' ? await verifyHmac(token, header) : (ASYMMETRIC as readonly string[]).includes(alg) ? await verifyAsymmetric(token, header, alg) : fail('ALG_NOT_ALLOWED', `alg ${quote(alg)} is not supported`);
    if ('ok' in verified) return verified;

    const parsed = parseClaims(verified.payload);
    if (!parsed.ok) return fail(parsed.reason === 'EXP_MISSING' ? 'EXP_MISSING' : 'CLAIMS_INVALID', `${parsed.reason}: ${parsed.detail}`);
    let until = validUntil(verified.payload);
    // A key removed from the JWKS must stop working once jose would have refetched the set.
    if ('remote' in verified && verified.remote) until = Math.min(until, Math.floor(now() / 1000) + jwksMaxAgeMs / 1000);
    cache.remember(token, { validUntilSec: until, hmac: 'hmac' in verified ? (verified.hmac as VerifiedMark['hmac']) : undefined });
    return { ok: true, claims: parsed.claims, payload: verified.payload };
  }

  /** The secret may have been rotated out since; a token it signed must stop working with it. */
  async function secretStillCurrent(mark: VerifiedMark): Promise<boolean> {
    if (!mark.hmac) return true;
    const current = await deps.secrets.get(mark.hmac.parameterName).catch(() => undefined);
    return current === mark.hmac.secret;
  }

  function reparse(token: string): { claims: ParsedClaims; payload: Record<string, unknown> } | undefined {
    try {
      const payload = decodeJwt(token) as Record<string, unknown>;
      const parsed = parseClaims(payload);
      return parsed.ok ? { claims: parsed.claims, payload } : undefined;
    } catch {
      return undefined;
    }
  }

  async function verify(input: string): Promise<TokenResult> {
    try {
      if (typeof input !== 'string' || input.length === 0) return fail('TOKEN_MISSING', 'no token was presented');
      // The length check comes before anything else touches the token, the prefix strip included.
      if (input.length > LIMITS.tokenMaxLength + 7) return fail('TOKEN_TOO_LONG', `the token is over ${LIMITS.tokenMaxLength} characters`);
      // Shell-built headers arrive with stray whitespace or a trailing newline; the token itself has none.
      const bare = input.trim();
      const token = BEARER.test(bare) ? bare.replace(BEARER, '') : bare;
      if (token.length > LIMITS.tokenMaxLength) return fail('TOKEN_TOO_LONG', `the token is ${token.length} characters; at most ${LIMITS.tokenMaxLength} are allowed`);
      if (token.length === 0) return fail('TOKEN_MISSING', 'no token was presented');

      const nowSec = Math.floor(now() / 1000);
      const hit = cache.get(token, nowSec);
      if (hit) {
        if (await secretStillCurrent(hit)) return { ok: true, claims: hit.claims, payload: hit.payload };
        cache.delete(token);
      } else {
        const seen = cache.mark(token, nowSec);
        if (seen) {
          // These exact bytes were verified on first sight; only the payload needs decoding again.
          const again = (await secretStillCurrent(seen)) ? reparse(token) : undefined;
          if (again) {
            cache.set(token, { ...seen, ...again });
            return { ok: true, ...again };
          }
          cache.delete(token);
        }
      }
      return await verifyFresh(token);
    } catch (e) {
      deps.logger?.error('token verification failed unexpectedly', { error: (e as Error)?.name ?? 'unknown' });
      return fail('VERIFY_FAILED', 'the token could not be verified');
    }
  }

  return { verify };
}

function configured<T>(field: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new ConfigError(field, `cannot be used for token verification (${(e as Error).message})`);
  }
}

/** jose's error classes to Eventsock's reason codes. */
function mapJoseError(e: unknown, header?: ProtectedHeaderParameters): TokenResult & { ok: false } {
  const f = (reason: TokenReason, detail: string) => ({ ok: false as const, reason, detail });
  if (e instanceof joseErrors.JWTExpired) {
    if (e.claim === 'iat') return f('TOKEN_TOO_OLD', 'the token was issued longer ago than tokens.maxTokenAgeSeconds');
    return f('TOKEN_EXPIRED', 'the token has expired (exp)');
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return f('TOKEN_NOT_YET_VALID', 'the token is not valid yet (nbf)');
      case 'iss':
        return f('ISSUER_MISMATCH', e.reason === 'missing' ? 'the token has no iss claim' : 'the token iss is not the configured issuer');
      case 'aud':
        return f('AUDIENCE_MISMATCH', e.reason === 'missing' ? 'the token has no aud claim' : 'the token aud is not the configured audience');
      case 'exp':
        return f('EXP_MISSING', 'exp is required and must be a number');
      case 'iat':
        return f('TOKEN_TOO_OLD', e.reason === 'missing' ? 'iat is required when tokens.maxTokenAgeSeconds is set' : 'iat must be a number in the past');
      default:
        return f('CLAIMS_INVALID', `claim ${quote(e.claim)} is invalid`);
    }
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return f('SIGNATURE_INVALID', 'the signature does not verify');
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return f('ALG_NOT_ALLOWED', 'the algorithm is not allowed');
  if (e instanceof joseErrors.JWKSNoMatchingKey) {
    return f('KID_UNKNOWN', `no configured public key matches kid ${quote(header?.kid)} and alg ${quote(header?.alg)}`);
  }
  if (e instanceof joseErrors.JWKSTimeout) return f('JWKS_UNAVAILABLE', 'the JWKS URL did not answer in time');
  if (e instanceof joseErrors.JWKSInvalid) return f('JWKS_UNAVAILABLE', 'the JWKS is malformed');
  if (e instanceof joseErrors.JWTInvalid || e instanceof joseErrors.JWSInvalid) return f('TOKEN_MALFORMED', 'the JWT payload is not a JSON object or the JWS is malformed');
  if (e instanceof joseErrors.JOSENotSupported) return f('TOKEN_MALFORMED', 'the token uses an unsupported header or key type');
  if (e instanceof joseErrors.JOSEError) {
    // Remote key set fetch failures (non-200, bad JSON) surface as plain JOSEError.
    return f('JWKS_UNAVAILABLE', 'the JWKS could not be fetched');
  }
  return f('VERIFY_FAILED', 'the token could not be verified');
}
