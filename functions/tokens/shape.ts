/**
 * The cheap, attacker-proof checks that come before any key lookup or crypto:
 * three base64url parts, a JSON object header, an algorithm from the allow-list,
 * no `crit`, a signature spelled the one canonical way. A hostile token is refused
 * here, naming the defence that fired.
 *
 * Canonical signatures (issue #13): base64url without padding leaves unused low bits in
 * the last character (2 bits for HS256's 43 characters, 4 for RS256's 342 and ES256's /
 * EdDSA's 86), and base64 decoders ignore them, so one signature has 4 (or 16) spellings
 * that all verify. Every cache keyed by the token text (remembered.ts here, AppSync's
 * authorizer cache, any deny list a customer keeps) would hold each spelling apart; a
 * spelling with those bits set is refused (SIGNATURE_NOT_CANONICAL) before any key is
 * looked up, so only the spelling a signer produces can ever be accepted or cached.
 */
import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import { fail, quote, type TokenRefusal } from './result';

const BASE64URL_PART = /^[A-Za-z0-9_-]+$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Is this base64url text (alphabet already checked, no padding) the one encoding of its
 * bytes: its unused low bits zero? A length of 4n+1 encodes no whole byte and is left to
 * the decoder's own refusal (TOKEN_MALFORMED).
 */
export function isCanonicalBase64url(part: string): boolean {
  const rest = part.length % 4;
  if (rest === 0 || rest === 1) return true;
  const last = BASE64URL_ALPHABET.indexOf(part[part.length - 1]);
  return (last & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

export interface TokenShape {
  header: ProtectedHeaderParameters;
  alg: string;
}

export function checkShape(token: string, allowed: ReadonlySet<string>): TokenShape | TokenRefusal {
  const parts = token.split('.');
  if (parts.length !== 3) return fail('TOKEN_MALFORMED', `a JWT has 3 dot-separated parts; this one has ${parts.length}`);
  if (!BASE64URL_PART.test(parts[0])) return fail('TOKEN_MALFORMED', 'the JWT header is empty or not base64url');
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return fail('TOKEN_MALFORMED', 'the JWT header is not base64url-encoded JSON');
  }
  const alg = header.alg;
  if (typeof alg !== 'string') return fail('TOKEN_MALFORMED', 'the JWT header has no alg');
  // Before the signature-part check: an unsecured JWT has an empty one, and deserves its own code.
  if (alg.toLowerCase() === 'none') return fail('ALG_NONE', 'unsecured JWTs (alg none) are never accepted');
  for (let i = 1; i < 3; i++) {
    if (!BASE64URL_PART.test(parts[i])) return fail('TOKEN_MALFORMED', `part ${i + 1} of the JWT is empty or not base64url`);
  }
  if (!allowed.has(alg)) return fail('ALG_NOT_ALLOWED', `alg ${quote(alg)} is not one of the allowed algorithms ${[...allowed].join(', ')}`);
  if (header.crit !== undefined) return fail('TOKEN_MALFORMED', 'JWT header crit parameters are not supported');
  if (!isCanonicalBase64url(parts[2])) {
    return fail('SIGNATURE_NOT_CANONICAL', 'the signature is not in canonical base64url (unused bits of its last character are set); send it as the signer encoded it');
  }
  return { header, alg };
}
