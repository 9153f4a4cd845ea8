/**
 * Verified claims kept in memory per token until the token stops being acceptable.
 * One client presents the same token on its connect and on every subscribe, and
 * jose verifies ~30x slower than a Map lookup, so a warm container answers repeats
 * from here. Bounded: the oldest entries go first when it is full, so a flood of
 * distinct tokens costs memory proportional to `maxEntries`, never more.
 */
import type { ParsedClaims } from '../core/claims';

export interface CachedToken {
  claims: ParsedClaims;
  payload: Record<string, unknown>;
  /** Epoch seconds after which the token is no longer accepted (exp, max age, both with tolerance). */
  validUntilSec: number;
  /** For HS256 tokens: the secret that verified it, re-checked on hits so a rotated-out secret stops working. */
  hmac?: { parameterName: string; secret: string };
}

export function createClaimsCache(maxEntries: number) {
  const entries = new Map<string, CachedToken>();
  return {
    get(token: string, nowSec: number): CachedToken | undefined {
      const hit = entries.get(token);
      if (!hit) return undefined;
      if (nowSec > hit.validUntilSec) {
        entries.delete(token);
        return undefined;
      }
      return hit;
    },
    set(token: string, entry: CachedToken): void {
      if (maxEntries <= 0) return;
      if (entries.size >= maxEntries) {
        // Map iterates in insertion order: the first key is the oldest entry.
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(token, entry);
    },
    delete(token: string): void {
      entries.delete(token);
    },
    get size(): number {
      return entries.size;
    },
  };
}

export type ClaimsCache = ReturnType<typeof createClaimsCache>;
