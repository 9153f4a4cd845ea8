/**
 * OPENID_CONNECT and AMAZON_COGNITO_USER_POOLS for the emulator: the caller's JWT,
 * sent as the bare `Authorization` value, verified the way AppSync documents it.
 *
 * What the service checks, with the sources (AppSync API reference OpenIDConnectConfig
 * and CognitoConfig, https://docs.aws.amazon.com/appsync/latest/APIReference/API_OpenIDConnectConfig.html
 * and API_CognitoConfig.html; the same text in AWS::AppSync::Api OpenIDConnectConfig /
 * CognitoConfig in the CloudFormation reference; aws-cdk-lib aws_appsync.OpenIdConnectConfig):
 * - signature: against the issuer's public keys. OIDC: "The issuer returned by discovery
 *   must exactly match the value of iss in the ID token", i.e. OpenID Connect Discovery
 *   (`${issuer}/.well-known/openid-configuration` → `jwks_uri`). Cognito: the user pool's
 *   `https://cognito-idp.${region}.amazonaws.com/${userPoolId}/.well-known/jwks.json`
 *   (Cognito developer guide, "Verifying JSON web tokens").
 * - `iss`: exactly the issuer (OIDC) / `https://cognito-idp.${region}.amazonaws.com/${userPoolId}` (Cognito).
 * - OIDC ClientId: "You can specify a regular expression so that AWS AppSync can validate
 *   against multiple client identifiers at a time" (aws-cdk-lib example: 'ABCD|CDEF').
 *   The docs do not name the claim; the emulator matches `aud` (any entry of an array),
 *   and `client_id` only when the token has no `aud` (RFC 9068 access tokens).
 * - Cognito appIdClientRegex: "A regular expression for validating the incoming Amazon
 *   Cognito user pool app client ID. If this value isn't set, no filtering is applied."
 *   The app client id is `aud` in ID tokens and `client_id` in access tokens (Cognito
 *   developer guide; `token_use` must be `id` or `access`).
 * - AuthTTL: "The number of milliseconds that a token is valid after being authenticated";
 *   "auth_time claim in OIDC token is required for this validation to work" (aws-cdk-lib).
 *   IatTTL: "valid after it's issued to a user", using `iat`. Eventsock configures both in
 *   seconds (authTtlSeconds / iatTtlSeconds); 0 or unset means no check (aws-cdk-lib:
 *   "Default: no validation").
 * - `exp`: expired tokens are refused (every AppSync client guide; jose checks exp and nbf).
 *
 * Where the docs are silent the emulator chooses the stricter reading, and says so:
 * regular expressions must match the whole client id (`^(?:re)$`), `exp` is required,
 * there is no clock tolerance, and only asymmetric algorithms verify (an HS256 token can
 * never match a public JWKS; Cognito only signs RS256, so Cognito accepts RS256 alone).
 * No `Bearer ` prefix is stripped: AppSync clients (Amplify among them) send the bare JWT.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { ExtraAuthConfig } from '../../functions/core/config';
import { ConfigError, EventsockError } from '../../functions/core/errors';
import type { TokenIdentity } from '../appsync-js/types';

export type TokenMode = 'OPENID_CONNECT' | 'AMAZON_COGNITO_USER_POOLS';

/** A refusal with the reason for the log (never the token). */
export class TokenRefusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TokenRefusal';
  }
}

export interface TokenVerifierOptions {
  /** The issuer's public keys; without them they are fetched (discovery for OIDC). */
  jwks?: JSONWebKeySet;
  fetch?: typeof fetch;
  cooldownMs?: number;
  now: () => number;
}

export interface ModeVerifier {
  mode: TokenMode;
  issuer: string;
  /** Where the keys come from, for logs and the banner. */
  keySource: 'local' | 'remote';
  verify(token: string): Promise<TokenIdentity>;
}

const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
const COGNITO_ALGORITHMS = ['RS256'];
const DISCOVERY_TIMEOUT_MS = 5000;
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function cognitoIssuer(c: NonNullable<ExtraAuthConfig['cognito']>): string {
  return `https://cognito-idp.${c.awsRegion}.amazonaws.com/${c.userPoolId}`;
}

/** Validates a JWKS given to the emulator: JSON `{ keys: [...] }` of public keys only. `source` names it in errors. */
export function publicJwks(value: unknown, source: string): JSONWebKeySet {
  const bad = (why: string) => new EventsockError('INVALID_JWKS', `${source} ${why}`, { field: source });
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof value !== 'object' || value === null || !Array.isArray(keys) || keys.length === 0) throw bad('must be a JWKS: a JSON object with a non-empty "keys" array');
  keys.forEach((k, i) => {
    if (typeof k !== 'object' || k === null || typeof (k as { kty?: unknown }).kty !== 'string') throw bad(`keys[${i}] is not a JWK (no kty)`);
    const jwk = k as Record<string, unknown>;
    // A private or symmetric key in a file that is meant to be public is a mistake worth stopping for.
    if (jwk.kty === 'oct' || jwk.d !== undefined || jwk.k !== undefined) throw bad(`keys[${i}] is a private or symmetric key; give the issuer's public keys only`);
  });
  try {
    createLocalJWKSet(value as JSONWebKeySet);
  } catch (e) {
    throw bad(`is not a usable JWKS (${(e as Error).message})`);
  }
  return value as JSONWebKeySet;
}

/** The unverified `iss` of a JWT, or undefined when the value is not a JWT. Only for routing. */
export function unverifiedIssuer(token: string): string | undefined {
  if (token.split('.').length !== 3) return undefined;
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

function anchored(re: string, field: string): RegExp {
  try {
    return new RegExp(`^(?:${re})$`);
  } catch (e) {
    throw new ConfigError(field, `is not a valid regular expression (${(e as Error).message})`);
  }
}

/**
 * OIDC discovery, then jose's remote key set over the `jwks_uri` (which caches the set,
 * and fetches again, at most once per cooldown, when a token names a kid it lacks).
 * A failed discovery is retried on the next token.
 */
function discoveredKeySet(issuer: string, opts: TokenVerifierOptions): JWTVerifyGetKey {
  const doFetch = opts.fetch ?? fetch;
  let set: Promise<JWTVerifyGetKey> | undefined;
  const discover = async (): Promise<JWTVerifyGetKey> => {
    // OpenID Connect Discovery 1.0 §4: the issuer without its trailing slash + /.well-known/openid-configuration.
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await doFetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
      if (!res.ok) throw new TokenRefusal(`OIDC discovery answered HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (e) {
      if (e instanceof TokenRefusal) throw e;
      throw new TokenRefusal(`OIDC discovery failed (${(e as Error).name})`);
    }
    if (doc?.issuer !== issuer) throw new TokenRefusal('OIDC discovery names another issuer than auth.openIdConnect.issuer');
    if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw new TokenRefusal('OIDC discovery has no valid jwks_uri');
    return remoteKeySet(doc.jwks_uri, opts);
  };
  return async (header, token) => {
    set ??= discover().catch((e) => {
      set = undefined;
      throw e;
    });
    return (await set)(header, token);
  };
}

function remoteKeySet(url: string, opts: TokenVerifierOptions): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url), {
    cooldownDuration: opts.cooldownMs,
    ...(opts.fetch ? { [customFetch]: opts.fetch } : {}),
  });
}

function reasonOf(e: unknown): string {
  if (e instanceof TokenRefusal) return e.reason;
  if (e instanceof joseErrors.JWTExpired) return e.claim === 'iat' ? 'issued longer ago than iatTtl (iat)' : 'expired (exp)';
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return e.reason === 'missing' ? 'no iss claim' : 'iss is not the configured issuer';
    if (e.claim === 'iat') return e.reason === 'missing' ? 'no iat claim (iatTtl is set)' : 'iat is not a number in the past';
    if (e.claim === 'exp') return 'no exp claim';
    if (e.claim === 'nbf') return 'not valid yet (nbf)';
    return `claim ${JSON.stringify(e.claim)} is invalid`;
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'the algorithm is not allowed (asymmetric keys only)';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the issuer matches the token kid/alg (unknown kid)';
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several keys of the issuer match and the token has no kid';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (e instanceof joseErrors.JWKSTimeout) return 'the JWKS did not answer in time';
  if (e instanceof joseErrors.JWKSInvalid) return 'the JWKS is malformed';
  if (e instanceof joseErrors.JWTInvalid || e instanceof joseErrors.JWSInvalid) return 'not a valid JWS/JWT';
  if (e instanceof joseErrors.JOSENotSupported) return 'unsupported key or algorithm';
  if (e instanceof joseErrors.JOSEError) return `the JWKS could not be fetched (${e.code})`;
  return `the keys could not be fetched (${e instanceof Error ? e.name : 'error'})`;
}

/** Array-or-string claim values as strings. */
function claimValues(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function createVerifier(
  mode: TokenMode,
  issuer: string,
  keys: JWTVerifyGetKey,
  keySource: 'local' | 'remote',
  checks: { algorithms: string[]; authTtlSeconds?: number; iatTtlSeconds?: number; claimsCheck: (p: JWTPayload) => void; identity: (p: JWTPayload) => TokenIdentity },
  now: () => number,
): ModeVerifier {
  return {
    mode,
    issuer,
    keySource,
    async verify(token: string): Promise<TokenIdentity> {
      try {
        // A cheap shape check first: a malformed value never reaches the key set (or the network).
        if (!JWS_COMPACT.test(token)) throw new TokenRefusal('not a JWT (three base64url parts)');
        try {
          decodeProtectedHeader(token);
        } catch {
          throw new TokenRefusal('not a JWT (the header is not base64url JSON)');
        }
        const { payload } = await jwtVerify(token, keys, {
          issuer,
          algorithms: checks.algorithms,
          requiredClaims: ['exp'],
          currentDate: new Date(now()),
          ...(checks.iatTtlSeconds ? { maxTokenAge: checks.iatTtlSeconds } : {}),
        });
        if (checks.authTtlSeconds) {
          if (typeof payload.auth_time !== 'number') throw new TokenRefusal('no auth_time claim (authTtl is set)');
          if (Math.floor(now() / 1000) > payload.auth_time + checks.authTtlSeconds) throw new TokenRefusal('authenticated longer ago than authTtl (auth_time)');
        }
        if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new TokenRefusal('no sub claim');
        checks.claimsCheck(payload);
        return checks.identity(payload);
      } catch (e) {
        throw new TokenRefusal(reasonOf(e));
      }
    },
  };
}

export function oidcVerifier(cfg: NonNullable<ExtraAuthConfig['openIdConnect']>, opts: TokenVerifierOptions): ModeVerifier {
  const clientRe = cfg.clientId !== undefined ? anchored(cfg.clientId, 'auth.openIdConnect.clientId') : undefined;
  const keys = opts.jwks ? createLocalJWKSet(opts.jwks) : discoveredKeySet(cfg.issuer, opts);
  return createVerifier(
    'OPENID_CONNECT',
    cfg.issuer,
    keys,
    opts.jwks ? 'local' : 'remote',
    {
      algorithms: OIDC_ALGORITHMS,
      authTtlSeconds: cfg.authTtlSeconds,
      iatTtlSeconds: cfg.iatTtlSeconds,
      claimsCheck: (p) => {
        if (!clientRe) return;
        const ids = p.aud !== undefined ? claimValues(p.aud) : claimValues(p.client_id);
        if (!ids.some((id) => clientRe.test(id))) throw new TokenRefusal(p.aud !== undefined ? 'aud does not match auth.openIdConnect.clientId' : 'the token has no aud (nor client_id) matching auth.openIdConnect.clientId');
      },
      // AppSync's OIDC identity: { claims, issuer, sub } (resolver context reference, AppSyncIdentityOIDC).
      identity: (p) => ({ sub: p.sub as string, issuer: cfg.issuer, claims: { ...p } }),
    },
    opts.now,
  );
}

export function cognitoVerifier(cfg: NonNullable<ExtraAuthConfig['cognito']>, opts: TokenVerifierOptions): ModeVerifier {
  const issuer = cognitoIssuer(cfg);
  const clientRe = cfg.appIdClientRegex !== undefined ? anchored(cfg.appIdClientRegex, 'auth.cognito.appIdClientRegex') : undefined;
  const keys = opts.jwks ? createLocalJWKSet(opts.jwks) : remoteKeySet(`${issuer}/.well-known/jwks.json`, opts);
  return createVerifier(
    'AMAZON_COGNITO_USER_POOLS',
    issuer,
    keys,
    opts.jwks ? 'local' : 'remote',
    {
      algorithms: COGNITO_ALGORITHMS,
      claimsCheck: (p) => {
        if (p.token_use !== 'id' && p.token_use !== 'access') throw new TokenRefusal('token_use is neither id nor access');
        if (!clientRe) return;
        const clientId = p.token_use === 'id' ? p.aud : p.client_id;
        if (typeof clientId !== 'string' || !clientRe.test(clientId)) {
          throw new TokenRefusal(`the app client id (${p.token_use === 'id' ? 'aud' : 'client_id'}) does not match auth.cognito.appIdClientRegex`);
        }
      },
      // AppSync's user pool identity: { sub, issuer, username, claims, sourceIp, defaultAuthStrategy, groups }
      // (resolver context reference, AppSyncIdentityCognito). Events has no default action: ALLOW.
      identity: (p) => {
        const groups = claimValues(p['cognito:groups']);
        const username = typeof p['cognito:username'] === 'string' ? p['cognito:username'] : typeof p.username === 'string' ? p.username : (p.sub as string);
        return { sub: p.sub as string, issuer, username, claims: { ...p }, sourceIp: [], defaultAuthStrategy: 'ALLOW', groups: groups.length ? groups : null };
      },
    },
    opts.now,
  );
}
