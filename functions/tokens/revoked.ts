/**
 * Refusing revoked tokens on top of any verifier, without a DynamoDB import here: the
 * authorizer's entry chunk stays small (its client is loaded lazily, as SSM's is), and
 * the check itself lives in functions/shared/revocations.ts.
 */
import type { ParsedClaims } from '../core/claims';
import type { TokenResult } from './result';
import type { TokenVerifier } from './verify';

export interface RevocationCheck {
  /** The key the claims are revoked under (`uid:...` / `jti:...`), or undefined. Throws when the table cannot be read. */
  revokedKey(claims: Pick<ParsedClaims, 'uid' | 'jti'>): Promise<string | undefined>;
}

/**
 * A verifier that also refuses revoked tokens: TOKEN_REVOKED, or REVOCATIONS_UNAVAILABLE
 * when the table cannot be read (an outage: HTTP callers get 503 and retry).
 */
export function withRevocations(verifier: TokenVerifier, check: RevocationCheck, onError?: (e: unknown) => void): TokenVerifier {
  return {
    ...verifier,
    async verify(token: string): Promise<TokenResult> {
      const v = await verifier.verify(token);
      if (!v.ok) return v;
      let key: string | undefined;
      try {
        key = await check.revokedKey(v.claims);
      } catch (e) {
        onError?.(e);
        return { ok: false, reason: 'REVOCATIONS_UNAVAILABLE', detail: 'the revocations table could not be read' };
      }
      // The key names the revoked identity kind only: uid and jti values stay out of details.
      if (key !== undefined) return { ok: false, reason: 'TOKEN_REVOKED', detail: `the token's ${key.slice(0, 3)} is revoked` };
      return v;
    },
  };
}
