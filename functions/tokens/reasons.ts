/**
 * Why a token was refused: stable codes that logs, tests and HTTP answers use.
 * Each attack the authorizer defends against has its own code, so a log line says
 * which defence fired without ever showing the token.
 */
export type TokenReason =
  /** No token, or not a string. */
  | 'TOKEN_MISSING'
  /** Longer than LIMITS.tokenMaxLength; refused before any decoding or crypto. */
  | 'TOKEN_TOO_LONG'
  /** Not three base64url parts, header or payload not JSON, unsupported header. */
  | 'TOKEN_MALFORMED'
  /** `alg: none` (an unsecured JWT). */
  | 'ALG_NONE'
  /** An algorithm outside `tokens.algorithms`. */
  | 'ALG_NOT_ALLOWED'
  /** The `kid` names a key of another family (HS/RS key confusion). */
  | 'KEY_ALG_MISMATCH'
  /** The `kid` names no configured key. */
  | 'KID_UNKNOWN'
  /** The signature part is not the canonical base64url spelling (unused bits of its last character set), see shape.ts. */
  | 'SIGNATURE_NOT_CANONICAL'
  /** The signature does not verify with the selected key(s): tampered or foreign. */
  | 'SIGNATURE_INVALID'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  /** `iat` older than `tokens.maxTokenAgeSeconds`, or in the future. */
  | 'TOKEN_TOO_OLD'
  | 'ISSUER_MISMATCH'
  | 'AUDIENCE_MISMATCH'
  /** `exp` absent or not a number. */
  | 'EXP_MISSING'
  /** Eventsock claims of the wrong shape (see core/claims.ts ClaimsReason in the detail). */
  | 'CLAIMS_INVALID'
  /** The HS256 secret could not be read (SSM down, parameter empty). */
  | 'SECRET_UNAVAILABLE'
  /** The JWKS URL could not be fetched or parsed. */
  | 'JWKS_UNAVAILABLE'
  /** Anything jose refused that has no more specific code. */
  | 'VERIFY_FAILED'
  /** The token's uid or jti was revoked by a backend (functions/shared/revocations.ts). */
  | 'TOKEN_REVOKED'
  /** The revocations table could not be read: refused while in doubt (an outage, retry). */
  | 'REVOCATIONS_UNAVAILABLE';
