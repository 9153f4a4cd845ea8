/**
 * HS256 secrets, looked up by `kid` in `tokens.hs256Keys` and read from the
 * SecretSource (SSM in AWS, a static map in the emulator). The SecretSource owns
 * the refresh policy; this module only turns a secret value into a node:crypto
 * KeyObject once per value, so a verification does not re-encode the secret.
 *
 * node:crypto is imported on the first resolve, not with the module: loading it
 * costs several milliseconds, which belongs to the first token, not to the
 * Lambda's import (the authorizer's 20 ms load budget).
 */
import type { KeyObject } from 'node:crypto';
import { EventsockError } from '../core/errors';
import type { SecretSource, SecretUnavailableError } from '../shared/secrets';

export interface HmacKeySlot {
  kid: string;
  parameterName: string;
}

export interface HmacKey {
  /** Does `signature` equal HMAC-SHA256(secret, signingInput)? Constant time for a signature of the right length. */
  matches(signingInput: string, signature: Uint8Array): boolean;
}

export interface ResolvedHmacKey {
  kid: string;
  /** The secret value the key was made from; compared on cache hits to notice rotation. */
  secret: string;
  key: HmacKey;
}

let nodeCrypto: Promise<typeof import('node:crypto')> | undefined;

function hmacKey(crypto: typeof import('node:crypto'), secret: string): HmacKey {
  const key: KeyObject = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    matches(signingInput, signature) {
      // signingInput is a JWS signing input, base64url text: latin1 and UTF-8 give the same bytes.
      const expected = crypto.createHmac('sha256', key).update(signingInput, 'latin1').digest();
      return signature.length === expected.length && crypto.timingSafeEqual(signature, expected);
    },
  };
}

/** Distinct secret values kept as keys; two slots rotate, so a handful is plenty. */
const MAX_IMPORTED = 16;

/**
 * A slot whose secret is not set is not asked again for this long, so that hostile
 * tokens naming an unset slot cost no lookups. A secret that is set but cannot be
 * read right now (SSM throttling or down: a retryable SecretUnavailableError) is not
 * remembered here: the SecretSource already serves its last value or backs off, and
 * remembering it would delay recovery past the source's own retry.
 */
export const UNAVAILABLE_RETRY_MS = 10_000;

export function createHmacKeyring(slots: readonly HmacKeySlot[], secrets: SecretSource, now: () => number = Date.now) {
  const byKid = new Map(slots.map((s) => [s.kid, s]));
  const imported = new Map<string, HmacKey>();
  const unavailableUntil = new Map<string, { until: number; error: unknown }>();

  async function importSecret(secret: string): Promise<HmacKey> {
    let key = imported.get(secret);
    if (!key) {
      const crypto = await (nodeCrypto ??= import('node:crypto'));
      // Old values are dropped wholesale: after a rotation they are never asked for again.
      if (imported.size >= MAX_IMPORTED) imported.clear();
      key = hmacKey(crypto, secret);
      imported.set(secret, key);
    }
    return key;
  }

  return {
    has(kid: string): boolean {
      return byKid.has(kid);
    },
    slots(): readonly HmacKeySlot[] {
      return slots;
    },
    slot(kid: string): HmacKeySlot | undefined {
      return byKid.get(kid);
    },
    /** Rejects with the SecretSource's SECRET_UNAVAILABLE error, remembered for UNAVAILABLE_RETRY_MS. */
    async resolve(slot: HmacKeySlot): Promise<ResolvedHmacKey> {
      const down = unavailableUntil.get(slot.parameterName);
      if (down && down.until > now()) throw down.error;
      let secret: string;
      try {
        secret = await secrets.get(slot.parameterName);
        // An empty HMAC key would verify tokens anyone can sign (Web Crypto refuses one outright).
        if (secret.length === 0) throw new EventsockError('SECRET_UNAVAILABLE', `secret ${slot.parameterName} is empty`);
      } catch (error) {
        // Duck-typed: importing the class would pull the SSM client into the authorizer's entry chunk.
        if ((error as Partial<SecretUnavailableError> | null)?.retryable !== true) unavailableUntil.set(slot.parameterName, { until: now() + UNAVAILABLE_RETRY_MS, error });
        throw error;
      }
      unavailableUntil.delete(slot.parameterName);
      return { kid: slot.kid, secret, key: imported.get(secret) ?? (await importSecret(secret)) };
    },
  };
}

export type HmacKeyring = ReturnType<typeof createHmacKeyring>;
