/**
 * Verified tokens kept in memory until they stop being acceptable.
 *
 * One client presents the same token on its connect and on every subscribe and
 * publish, and jose verifies ~30x slower than a Map lookup, so a warm container
 * answers repeats from here. Two tiers, both bounded (bounded-map.ts):
 * - `marks`: a token seen once and verified: only its validity and the secret that
 *   verified it. Cheap to keep, so a stream of tokens that never come back costs
 *   little memory and little GC: keeping full parsed claims for each of them made
 *   such a stream ~40% slower (they outlive young-generation collections).
 * - `entries`: a token seen twice or more: its parsed claims, ready for decisions.
 *   The second sighting skips the signature check (the same bytes were verified)
 *   and only decodes and parses the payload again.
 */
import type { ParsedClaims } from '../core/claims';
import { createBoundedMap } from './bounded-map';

export interface VerifiedMark {
  /** Epoch seconds after which the token is no longer accepted (exp, max age, key set age, with tolerance). */
  validUntilSec: number;
  /** For HS256 tokens: the secret that verified it, re-checked on hits so a rotated-out secret stops working. */
  hmac?: { parameterName: string; secret: string };
}

export interface CachedToken extends VerifiedMark {
  claims: ParsedClaims;
  payload: Record<string, unknown>;
}

export function createClaimsCache(maxEntries: number) {
  const entries = createBoundedMap<string, CachedToken>(maxEntries);
  const marks = createBoundedMap<string, VerifiedMark>(maxEntries);

  function fresh<T extends VerifiedMark>(map: typeof entries | typeof marks, token: string, nowSec: number): T | undefined {
    const hit = map.get(token) as T | undefined;
    if (!hit) return undefined;
    if (nowSec > hit.validUntilSec) {
      map.delete(token);
      return undefined;
    }
    return hit;
  }

  return {
    /** A token seen at least twice, with its claims. */
    get(token: string, nowSec: number): CachedToken | undefined {
      return fresh<CachedToken>(entries, token, nowSec);
    },
    /** A token verified once. */
    mark(token: string, nowSec: number): VerifiedMark | undefined {
      return fresh<VerifiedMark>(marks, token, nowSec);
    },
    /** After a full verification. */
    remember(token: string, mark: VerifiedMark): void {
      marks.set(token, mark);
    },
    /** On the second sighting. */
    set(token: string, entry: CachedToken): void {
      marks.delete(token);
      entries.set(token, entry);
    },
    delete(token: string): void {
      entries.delete(token);
      marks.delete(token);
    },
    get size(): number {
      return entries.size + marks.size;
    },
  };
}

export type ClaimsCache = ReturnType<typeof createClaimsCache>;
