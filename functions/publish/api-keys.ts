/**
 * The publish API's bearer keys: two SSM parameters, either valid, so a key can be
 * rotated without downtime (set the new one in the idle slot, move callers, replace
 * the old one). Values come from a SecretSource, which re-reads them after its cache
 * time, so rotation needs no redeploy. Comparison is over SHA-256 digests with
 * timingSafeEqual: constant time, and equal lengths whatever the key lengths.
 *
 * A slot that is definitively not set (parameter missing or empty) simply holds no
 * key. A slot that cannot be read right now (SSM throttling or down, and no value
 * the SecretSource may still serve) makes a key that matches no readable slot
 * 'unavailable' (503, retry), not 'mismatch' (401, which clients take as final):
 * the key may be the one in that slot. Which slot failed is never said.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isRetryableSecretError, retryAfterSecondsOf, type SecretSource } from '../shared/secrets';

export type KeyCheck =
  | { result: 'ok' }
  | { result: 'mismatch' }
  /** `parameters`: the slots that could not be read (names only, for the log). */
  | { result: 'unavailable'; retryAfterSeconds: number; parameters: string[] };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function createApiKeyCheck(secrets: SecretSource, parameterNames: readonly string[]): (presented: string | undefined) => Promise<KeyCheck> {
  return async (presented) => {
    const reads = await Promise.all(
      parameterNames.map((name) =>
        secrets.get(name).then(
          (value) => ({ name, value }),
          (error: unknown) => ({ name, error }),
        ),
      ),
    );
    const keys: string[] = [];
    const failed: Array<{ name: string; error: unknown }> = [];
    for (const r of reads) {
      if ('value' in r) {
        if (typeof r.value === 'string' && r.value.length > 0) keys.push(r.value);
      } else if (isRetryableSecretError(r.error)) {
        failed.push(r);
      }
    }
    const unavailable = (): KeyCheck => ({
      result: 'unavailable',
      retryAfterSeconds: failed.length > 0 ? Math.min(...failed.map((f) => retryAfterSecondsOf(f.error))) : retryAfterSecondsOf(undefined),
      parameters: (failed.length > 0 ? failed.map((f) => f.name) : [...parameterNames]),
    });
    // No key at all (nothing readable, or none configured): nobody can be told their key is wrong.
    if (keys.length === 0) return unavailable();
    if (presented === undefined) return { result: 'mismatch' };
    const p = digest(presented);
    // Check every slot, so the time taken does not say which one matched.
    let ok = false;
    for (const k of keys) ok = timingSafeEqual(p, digest(k)) || ok;
    if (ok) return { result: 'ok' };
    return failed.length > 0 ? unavailable() : { result: 'mismatch' };
  };
}
