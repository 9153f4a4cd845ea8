/**
 * The cheap, attacker-proof checks that come before any key lookup or crypto:
 * three base64url parts, a JSON object header, an algorithm from the allow-list,
 * no `crit`. A hostile token is refused here, naming the defence that fired.
 */
import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import { fail, quote, type TokenRefusal } from './result';

const BASE64URL_PART = /^[A-Za-z0-9_-]+$/;

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
  return { header, alg };
}
