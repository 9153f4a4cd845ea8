/**
 * The HS256 signature check on the calling thread: node:crypto HMAC-SHA256 and
 * timingSafeEqual (hmac-keys.ts), then jose's own claims-set validation. Web Crypto
 * runs every HMAC as a job on the libuv thread pool, and that round trip, not the
 * hash, was most of the cost of a first-seen token.
 *
 * What `jwtVerify(token, secret, { algorithms: ['HS256'], ...options })` does for a
 * token whose header shape.ts has already checked (base64url parts, JSON object
 * header, alg HS256 allowed, no crit, so b64 is true), and with the same errors:
 * 1. the signature part is decoded as jose decodes it (a length of 4n+1 is not base64:
 *    JWSInvalid) and compared in constant time with HMAC-SHA256 over `header.payload`
 *    (a mismatch, wrong length included, is JWSSignatureVerificationFailed);
 * 2. only then is the payload decoded and validated (claims-rules.ts validatePayload).
 * test/tokens/hs256-equivalence.test.ts checks the outcomes against jwtVerify itself.
 */
import { errors as joseErrors } from 'jose';
import type { ClaimsRules } from './claims-rules';
import type { HmacKey } from './hmac-keys';

/** The validated payload; throws jose's errors (JWSInvalid, JWSSignatureVerificationFailed, claim errors). */
export function verifyHs256(token: string, key: HmacKey, rules: ClaimsRules): Record<string, unknown> {
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  const signature = token.slice(lastDot + 1);
  if (signature.length % 4 === 1) throw new joseErrors.JWSInvalid('Failed to base64url decode the signature');
  if (!key.matches(token.slice(0, lastDot), Buffer.from(signature, 'base64url'))) throw new joseErrors.JWSSignatureVerificationFailed();
  return rules.validatePayload(token.slice(firstDot + 1, lastDot));
}
