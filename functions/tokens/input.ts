/**
 * The token as presented: whatever surrounds it (whitespace, a `Bearer ` scheme) is
 * removed, its length is bounded before anything decodes it, and the Eventsock prefix
 * (`es1.`, core/token-format.ts) is removed: a token is accepted with or without it.
 * The limit counts the prefix, as signToken does. Accepting both spellings is safe: the
 * prefix is routing for AppSync, not signed, and everything keyed by a token here (the
 * claims cache) is keyed by the JWT without it.
 */
import { LIMITS } from '../core/limits';
import { withoutTokenPrefix } from '../core/token-format';
import { fail, type TokenRefusal } from './result';

const BEARER = /^bearer(?:\s+|$)/i;
/** `Bearer ` and the whitespace around it: room allowed over the token limit before the strip. */
const WRAPPING_ALLOWANCE = 7;

/** The JWT, or TOKEN_MISSING / TOKEN_TOO_LONG. */
export function presentedToken(input: unknown): string | TokenRefusal {
  if (typeof input !== 'string' || input.length === 0) return fail('TOKEN_MISSING', 'no token was presented');
  // The length check comes before anything else touches the token, the prefix strip included.
  if (input.length > LIMITS.tokenMaxLength + WRAPPING_ALLOWANCE) return fail('TOKEN_TOO_LONG', `the token is over ${LIMITS.tokenMaxLength} characters`);
  // Shell-built headers arrive with stray whitespace or a trailing newline; the token itself has none.
  const bare = input.trim();
  const token = BEARER.test(bare) ? bare.replace(BEARER, '') : bare;
  if (token.length > LIMITS.tokenMaxLength) return fail('TOKEN_TOO_LONG', `the token is ${token.length} characters; at most ${LIMITS.tokenMaxLength} are allowed`);
  const jwt = withoutTokenPrefix(token);
  if (jwt.length === 0) return fail('TOKEN_MISSING', 'no token was presented');
  return jwt;
}
