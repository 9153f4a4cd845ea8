/**
 * Asymmetric key resolution (RS256, ES256, EdDSA): the inline JWKS (`tokens.jwks`)
 * first, then the remote one (`tokens.jwksUrl`, jose's remote key set with its
 * cooldown and cache age); jose's `jwtVerify` checks the signature and the claims.
 * Bad key configuration is a deployment error: it fails when the verifier is made,
 * naming the setting, not per token.
 */
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors as joseErrors, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';
import type { RuntimeSettings } from '../core/config';
import { ConfigError } from '../core/errors';
import type { ClaimsRules } from './claims-rules';
import type { HmacKeyring } from './hmac-keys';
import { mapJoseError } from './jose-errors';
import { fail, quote, type TokenRefusal, type VerifiedPayload } from './result';

export interface JwksOptions {
  /** fetch used for `tokens.jwksUrl` (jose's customFetch). */
  fetch?: typeof fetch;
  cooldownMs?: number;
  /** How long jose keeps the remote set before refetching it. */
  cacheMaxAgeMs: number;
  timeoutMs?: number;
}

/** The kids of the inline JWKS (an HS256 token naming one is key confusion). */
export function inlineKidsOf(tokens: RuntimeSettings['tokens']): Set<string> {
  return new Set((tokens.jwks ?? []).map((k) => k?.kid).filter((k): k is string => typeof k === 'string'));
}

export function createAsymmetricVerifier(tokens: RuntimeSettings['tokens'], rules: ClaimsRules, keyring: HmacKeyring, inlineKids: ReadonlySet<string>, options: JwksOptions) {
  const localSet: JWTVerifyGetKey | undefined = tokens.jwks?.length ? configured('tokens.jwks', () => createLocalJWKSet({ keys: tokens.jwks as never })) : undefined;
  const remoteSet: JWTVerifyGetKey | undefined = tokens.jwksUrl
    ? configured('tokens.jwksUrl', () =>
        createRemoteJWKSet(new URL(tokens.jwksUrl!), {
          cooldownDuration: options.cooldownMs,
          cacheMaxAge: options.cacheMaxAgeMs,
          timeoutDuration: options.timeoutMs,
          ...(options.fetch ? { [customFetch]: options.fetch } : {}),
        }),
      )
    : undefined;
  const sets = [localSet, remoteSet].filter((s): s is JWTVerifyGetKey => s !== undefined);

  async function tryEach(token: string, keys: AsyncIterable<CryptoKey>, alg: string): Promise<TokenRefusal | { payload: Record<string, unknown> }> {
    let last: TokenRefusal = fail('SIGNATURE_INVALID', 'the signature does not verify with any matching key');
    for await (const key of keys) {
      try {
        return { payload: await rules.joseVerify(token, key, alg) };
      } catch (e) {
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        last = mapJoseError(e);
        break;
      }
    }
    return last;
  }

  return async function verify(token: string, header: ProtectedHeaderParameters, alg: string): Promise<VerifiedPayload | TokenRefusal> {
    if (typeof header.kid === 'string' && keyring.has(header.kid) && !inlineKids.has(header.kid)) {
      return fail('KEY_ALG_MISMATCH', `kid ${quote(header.kid)} is an HS256 secret; it cannot verify an ${alg} token`);
    }
    if (sets.length === 0) return fail('KID_UNKNOWN', `no public keys are configured for ${alg}`);
    let last: TokenRefusal = fail('KID_UNKNOWN', `no configured public key matches kid ${quote(header.kid)} and alg ${alg}`);
    for (const set of sets) {
      try {
        return { payload: await rules.joseVerify(token, set, alg), remote: set === remoteSet };
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
        if (last.reason === 'KID_UNKNOWN') continue;
        return last;
      }
    }
    return last;
  };
}

function configured<T>(field: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new ConfigError(field, `cannot be used for token verification (${(e as Error).message})`);
  }
}
