/** jose's error classes to Eventsock's reason codes. */
import { errors as joseErrors, type ProtectedHeaderParameters } from 'jose';
import type { TokenReason } from './reasons';
import { quote, type TokenRefusal } from './result';

export function mapJoseError(e: unknown, header?: ProtectedHeaderParameters): TokenRefusal {
  const f = (reason: TokenReason, detail: string) => ({ ok: false as const, reason, detail });
  if (e instanceof joseErrors.JWTExpired) {
    if (e.claim === 'iat') return f('TOKEN_TOO_OLD', 'the token was issued longer ago than tokens.maxTokenAgeSeconds');
    return f('TOKEN_EXPIRED', 'the token has expired (exp)');
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return f('TOKEN_NOT_YET_VALID', 'the token is not valid yet (nbf)');
      case 'iss':
        return f('ISSUER_MISMATCH', e.reason === 'missing' ? 'the token has no iss claim' : 'the token iss is not the configured issuer');
      case 'aud':
        return f('AUDIENCE_MISMATCH', e.reason === 'missing' ? 'the token has no aud claim' : 'the token aud is not the configured audience');
      case 'exp':
        return f('EXP_MISSING', 'exp is required and must be a number');
      case 'iat':
        return f('TOKEN_TOO_OLD', e.reason === 'missing' ? 'iat is required when tokens.maxTokenAgeSeconds is set' : 'iat must be a number in the past');
      default:
        return f('CLAIMS_INVALID', `claim ${quote(e.claim)} is invalid`);
    }
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return f('SIGNATURE_INVALID', 'the signature does not verify');
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return f('ALG_NOT_ALLOWED', 'the algorithm is not allowed');
  if (e instanceof joseErrors.JWKSNoMatchingKey) {
    return f('KID_UNKNOWN', `no configured public key matches kid ${quote(header?.kid)} and alg ${quote(header?.alg)}`);
  }
  if (e instanceof joseErrors.JWKSTimeout) return f('JWKS_UNAVAILABLE', 'the JWKS URL did not answer in time');
  if (e instanceof joseErrors.JWKSInvalid) return f('JWKS_UNAVAILABLE', 'the JWKS is malformed');
  if (e instanceof joseErrors.JWTInvalid || e instanceof joseErrors.JWSInvalid) return f('TOKEN_MALFORMED', 'the JWT payload is not a JSON object or the JWS is malformed');
  if (e instanceof joseErrors.JOSENotSupported) return f('TOKEN_MALFORMED', 'the token uses an unsupported header or key type');
  if (e instanceof joseErrors.JOSEError) {
    // Remote key set fetch failures (non-200, bad JSON) surface as plain JOSEError.
    return f('JWKS_UNAVAILABLE', 'the JWKS could not be fetched');
  }
  return f('VERIFY_FAILED', 'the token could not be verified');
}
