/**
 * The one HTTP answer to a refused token, shared by the publish API and the history
 * API so both name the same reason for the same token (issue #13): 401 `UNAUTHORIZED`
 * with `token refused (<TokenReason>)`, or 503 with the reason as the code and a
 * Retry-After when the key material cannot be read (an outage, not a bad token).
 */
import { errorBody, type ErrorBody } from '../shared/http';
import type { TokenRefusal } from './result';

/** Retry-After of a 503 for unreadable token keys: about the secret source's backoff after the first failures. */
export const KEYS_RETRY_AFTER_SECONDS = 5;

export interface TokenRefusalAnswer {
  status: 401 | 503;
  body: ErrorBody;
  headers: Record<string, string>;
  /** The keys could not be read: log it as an error, not as a refused caller. */
  outage: boolean;
}

export function tokenRefusalAnswer(v: Pick<TokenRefusal, 'reason'>): TokenRefusalAnswer {
  if (v.reason === 'REVOCATIONS_UNAVAILABLE') {
    return { status: 503, body: errorBody(v.reason, 'revocations could not be checked; try again'), headers: { 'retry-after': String(KEYS_RETRY_AFTER_SECONDS) }, outage: true };
  }
  if (v.reason === 'SECRET_UNAVAILABLE' || v.reason === 'JWKS_UNAVAILABLE') {
    return { status: 503, body: errorBody(v.reason, 'token keys are unavailable; try again'), headers: { 'retry-after': String(KEYS_RETRY_AFTER_SECONDS) }, outage: true };
  }
  return { status: 401, body: errorBody('UNAUTHORIZED', `token refused (${v.reason})`), headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, outage: false };
}
