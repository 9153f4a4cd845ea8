/**
 * The registered claims (exp, nbf, iat, iss, aud, max age, clock tolerance) as the
 * settings ask for them, applied by jose's own claims-set validation, then the
 * Eventsock claims' shape (core/claims). Also: until when a verified token stays
 * acceptable, which bounds how long the cache may keep it.
 */
import { type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify, UnsecuredJWT } from 'jose';
import { type ParsedClaims, parseClaims } from '../core/claims';
import type { RuntimeSettings } from '../core/config';
import { fail, type TokenRefusal } from './result';

/** base64url of `{"alg":"none"}`: the header validatePayload puts before an already verified payload. */
const UNSECURED_HEADER = 'eyJhbGciOiJub25lIn0';

export function createClaimsRules(tokens: RuntimeSettings['tokens'], now: () => number) {
  const tolerance = tokens.clockToleranceSeconds ?? 0;
  const baseOptions: Omit<JWTVerifyOptions, 'algorithms' | 'currentDate'> = {
    issuer: tokens.issuer,
    audience: tokens.audience,
    clockTolerance: tolerance,
    maxTokenAge: tokens.maxTokenAgeSeconds,
    requiredClaims: ['exp'],
  };

  return {
    /** jose's jwtVerify, signature and registered claims, with the one algorithm the header named. Throws jose's errors. */
    async joseVerify(token: string, key: CryptoKey | Uint8Array | JWTVerifyGetKey, alg: string): Promise<Record<string, unknown>> {
      const options: JWTVerifyOptions = { ...baseOptions, algorithms: [alg], currentDate: new Date(now()) };
      const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, options);
      return payload as Record<string, unknown>;
    },

    /**
     * jose's claims-set validation of a payload part whose signature has already been
     * verified, reached through UnsecuredJWT.decode: the string handed to it is built
     * here from a fixed `{"alg":"none"}` header and that payload part; nothing a client
     * sends is ever decoded as an unsecured JWT (alg none is ALG_NONE). Throws jose's errors.
     */
    validatePayload(payloadPart: string): Record<string, unknown> {
      const { payload } = UnsecuredJWT.decode(`${UNSECURED_HEADER}.${payloadPart}.`, { ...baseOptions, currentDate: new Date(now()) });
      return payload as Record<string, unknown>;
    },

    /** The instant (epoch s) after which jose would refuse this payload; the cache must not outlive it. */
    validUntil(payload: Record<string, unknown>): number {
      let until = (payload.exp as number) + tolerance;
      if (tokens.maxTokenAgeSeconds !== undefined && typeof payload.iat === 'number') {
        until = Math.min(until, payload.iat + tokens.maxTokenAgeSeconds + tolerance);
      }
      return until;
    },
  };
}

export type ClaimsRules = ReturnType<typeof createClaimsRules>;

/** The Eventsock claims of a verified payload (core/claims), or EXP_MISSING / CLAIMS_INVALID. */
export function eventsockClaims(payload: Record<string, unknown>): ParsedClaims | TokenRefusal {
  const parsed = parseClaims(payload);
  if (!parsed.ok) return fail(parsed.reason === 'EXP_MISSING' ? 'EXP_MISSING' : 'CLAIMS_INVALID', `${parsed.reason}: ${parsed.detail}`);
  return parsed.claims;
}
