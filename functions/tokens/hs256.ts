/**
 * HS256 key resolution: the `kid` picks the keyring slot (hmac-keys.ts); without a
 * kid every configured slot is tried in turn. A kid naming an asymmetric key is key
 * confusion (KEY_ALG_MISMATCH); a slot whose secret cannot be read does not block
 * the other one (rotation in progress).
 */
import { errors as joseErrors, type ProtectedHeaderParameters } from 'jose';
import type { Logger } from '../shared/log';
import type { ClaimsRules } from './claims-rules';
import type { HmacKeyring, HmacKeySlot } from './hmac-keys';
import { verifyHs256 } from './hs256-signature';
import { mapJoseError } from './jose-errors';
import { fail, isRefusal, quote, type TokenRefusal, type VerifiedPayload } from './result';

export interface Hs256VerifierDeps {
  keyring: HmacKeyring;
  /** kids of the inline JWKS (tokens.jwks): named by an HS256 token, they are key confusion. */
  inlineKids: ReadonlySet<string>;
  rules: ClaimsRules;
  logger?: Logger;
  /** Tests only: jose.jwtVerify with the secret bytes instead of node:crypto (the differential test's reference). */
  viaJose?: boolean;
}

const encoder = new TextEncoder();

export function createHs256Verifier(deps: Hs256VerifierDeps) {
  const { keyring, inlineKids, rules } = deps;

  function candidates(header: ProtectedHeaderParameters): readonly HmacKeySlot[] | TokenRefusal {
    if (header.kid === undefined) return keyring.slots();
    const slot = typeof header.kid === 'string' ? keyring.slot(header.kid) : undefined;
    if (slot) return [slot];
    if (typeof header.kid === 'string' && inlineKids.has(header.kid)) {
      return fail('KEY_ALG_MISMATCH', `kid ${quote(header.kid)} is an asymmetric key; it cannot verify an HS256 token`);
    }
    return fail('KID_UNKNOWN', `kid ${quote(header.kid)} names no configured HS256 key`);
  }

  return async function verify(token: string, header: ProtectedHeaderParameters): Promise<VerifiedPayload | TokenRefusal> {
    const slots = candidates(header);
    if (isRefusal(slots)) return slots;
    if (slots.length === 0) return fail('KID_UNKNOWN', 'no HS256 key is configured');
    let unavailable = 0;
    let lastError: unknown;
    for (const slot of slots) {
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
        const payload = deps.viaJose ? await rules.joseVerify(token, encoder.encode(resolved.secret), 'HS256') : verifyHs256(token, resolved.key, rules);
        return { payload, hmac: { parameterName: slot.parameterName, secret: resolved.secret } };
      } catch (e) {
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
          lastError = e;
          continue;
        }
        return mapJoseError(e);
      }
    }
    if (unavailable === slots.length) return fail('SECRET_UNAVAILABLE', 'the HS256 secret could not be read');
    return mapJoseError(lastError);
  };
}
