/**
 * The cache in front of verification (claims-cache.ts holds the entries): a token
 * verified before is answered without crypto while it is still acceptable and, for
 * HS256, while the secret that verified it is still the current one.
 */
import { decodeJwt } from 'jose';
import { type ParsedClaims, parseClaims } from '../core/claims';
import type { SecretSource } from '../shared/secrets';
import { createClaimsCache, type VerifiedMark } from './claims-cache';

export interface Remembered {
  claims: ParsedClaims;
  payload: Record<string, unknown>;
}

export function createRememberedTokens(maxEntries: number, secrets: SecretSource) {
  const cache = createClaimsCache(maxEntries);

  /** The secret may have been rotated out since; a token it signed must stop working with it. */
  async function secretStillCurrent(mark: VerifiedMark): Promise<boolean> {
    if (!mark.hmac) return true;
    const current = await secrets.get(mark.hmac.parameterName).catch(() => undefined);
    return current === mark.hmac.secret;
  }

  function reparse(token: string): Remembered | undefined {
    try {
      const payload = decodeJwt(token) as Record<string, unknown>;
      const parsed = parseClaims(payload);
      return parsed.ok ? { claims: parsed.claims, payload } : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    /** A verified token's claims when it may be answered from memory; undefined means verify it afresh. */
    async lookup(token: string, nowSec: number): Promise<Remembered | undefined> {
      const hit = cache.get(token, nowSec);
      if (hit) {
        if (await secretStillCurrent(hit)) return { claims: hit.claims, payload: hit.payload };
        cache.delete(token);
        return undefined;
      }
      const seen = cache.mark(token, nowSec);
      if (seen) {
        // These exact bytes were verified on first sight; only the payload needs decoding again.
        const again = (await secretStillCurrent(seen)) ? reparse(token) : undefined;
        if (again) {
          cache.set(token, { ...seen, ...again });
          return again;
        }
        cache.delete(token);
      }
      return undefined;
    },
    /** After a full verification. */
    remember(token: string, mark: VerifiedMark): void {
      cache.remember(token, mark);
    },
  };
}
