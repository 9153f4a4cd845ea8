/**
 * JWT verification shared by the authorizer, the history API and the publish API.
 *
 * One step per module, in this order (the cheap, attacker-proof checks first, so a
 * hostile token is refused before any crypto runs):
 * 1. input.ts: the token as presented (whitespace, `Bearer `), its length;
 * 2. remembered.ts: a token verified before is answered from memory (claims-cache.ts);
 * 3. shape.ts: three base64url parts, the header, the algorithm allow-list;
 * 4. key resolution and signature: hs256.ts (the HS256 keyring by `kid`, hmac-keys.ts;
 *    the node:crypto check in hs256-signature.ts) or jwks.ts (RS256, ES256, EdDSA with
 *    jose's `jwtVerify` against the inline and remote JWKS);
 * 5. claims-rules.ts: the registered claims (jose's claims-set validation) and the
 *    Eventsock claims' shape (core/claims); jose-errors.ts maps jose's errors to codes.
 *
 * Every refusal is a `{ ok: false, reason, detail }` with a stable code (reasons.ts);
 * verify never throws for a bad token, and neither the token nor a secret ever appears
 * in `detail`.
 */
import type { RuntimeSettings, TokenAlgorithm } from '../core/config';
import type { Logger } from '../shared/log';
import type { SecretSource } from '../shared/secrets';
import { createClaimsRules, eventsockClaims } from './claims-rules';
import { createHmacKeyring } from './hmac-keys';
import { createHs256Verifier } from './hs256';
import { presentedToken } from './input';
import { createAsymmetricVerifier, inlineKidsOf } from './jwks';
import { createRememberedTokens } from './remembered';
import { fail, isRefusal, quote, type TokenResult, type VerifiedPayload } from './result';
import { checkShape } from './shape';

export type { TokenReason } from './reasons';
export type { TokenResult } from './result';

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

const ASYMMETRIC: readonly TokenAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

export function createTokenVerifier(tokens: RuntimeSettings['tokens'], deps: TokenVerifierDeps): TokenVerifier {
  const now = deps.now ?? Date.now;
  const allowed = new Set<string>(tokens.algorithms);
  const keyring = createHmacKeyring(tokens.hs256Keys ?? [], deps.secrets, now);
  const remembered = createRememberedTokens(deps.cacheMaxEntries ?? 10_000, deps.secrets);
  const rules = createClaimsRules(tokens, now);
  const inlineKids = inlineKidsOf(tokens);
  const jwksMaxAgeMs = deps.jwksCacheMaxAgeMs ?? 600_000;
  const hs256 = createHs256Verifier({ keyring, inlineKids, rules, logger: deps.logger, viaJose: deps.hs256ViaJose });
  const asymmetric = createAsymmetricVerifier(tokens, rules, keyring, inlineKids, {
    fetch: deps.jwksFetch,
    cooldownMs: deps.jwksCooldownMs,
    cacheMaxAgeMs: jwksMaxAgeMs,
    timeoutMs: deps.jwksTimeoutMs,
  });

  async function verifyFresh(token: string): Promise<TokenResult> {
    const shape = checkShape(token, allowed);
    if (isRefusal(shape)) return shape;
    const { header, alg } = shape;
    const verified: VerifiedPayload | TokenResult =
      alg === 'HS256' ? await hs256(token, header) : (ASYMMETRIC as readonly string[]).includes(alg) ? await asymmetric(token, header, alg) : fail('ALG_NOT_ALLOWED', `alg ${quote(alg)} is not supported`);
    if ('ok' in verified) return verified;

    const claims = eventsockClaims(verified.payload);
    if ('ok' in claims) return claims;
    let until = rules.validUntil(verified.payload);
    // A key removed from the JWKS must stop working once jose would have refetched the set.
    if (verified.remote) until = Math.min(until, Math.floor(now() / 1000) + jwksMaxAgeMs / 1000);
    remembered.remember(token, { validUntilSec: until, hmac: verified.hmac });
    return { ok: true, claims, payload: verified.payload };
  }

  async function verify(input: string): Promise<TokenResult> {
    try {
      const token = presentedToken(input);
      if (typeof token !== 'string') return token;
      const hit = await remembered.lookup(token, Math.floor(now() / 1000));
      if (hit) return { ok: true, ...hit };
      return await verifyFresh(token);
    } catch (e) {
      deps.logger?.error('token verification failed unexpectedly', { error: (e as Error)?.name ?? 'unknown' });
      return fail('VERIFY_FAILED', 'the token could not be verified');
    }
  }

  return { verify };
}
