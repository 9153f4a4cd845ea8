/**
 * The publish API's bearer keys: two SSM parameters, either valid, so a key can be
 * rotated without downtime (set the new one in the idle slot, move callers, replace
 * the old one). Values come from a SecretSource, which re-reads them after its cache
 * time, so rotation needs no redeploy. Comparison is over SHA-256 digests with
 * timingSafeEqual: constant time, and equal lengths whatever the key lengths.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecretSource } from '../shared/secrets';

export type KeyCheck = 'ok' | 'mismatch' | 'unavailable';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function createApiKeyCheck(secrets: SecretSource, parameterNames: readonly string[]): (presented: string | undefined) => Promise<KeyCheck> {
  return async (presented) => {
    const values = await Promise.all(parameterNames.map((n) => secrets.get(n).catch(() => undefined)));
    const keys = values.filter((v): v is string => typeof v === 'string' && v.length > 0);
    if (keys.length === 0) return 'unavailable';
    if (presented === undefined) return 'mismatch';
    const p = digest(presented);
    // Check every slot, so the time taken does not say which one matched.
    let ok = false;
    for (const k of keys) ok = timingSafeEqual(p, digest(k)) || ok;
    return ok ? 'ok' : 'mismatch';
  };
}
