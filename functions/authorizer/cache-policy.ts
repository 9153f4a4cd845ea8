/**
 * How long AppSync may cache an authorizer answer (`ttlOverride`).
 *
 * What AppSync Events uses as the cache key is not documented. The AppSync API
 * reference (LambdaAuthorizerConfig.authorizerResultTtlInSeconds,
 * https://docs.aws.amazon.com/appsync/latest/APIReference/API_LambdaAuthorizerConfig.html)
 * and CloudFormation's AWS::AppSync::Api LambdaAuthorizerConfig only say "the number
 * of seconds a response should be cached for ... The Lambda function can override
 * this by returning a ttlOverride key", with no word on the key; the Event API
 * guide's authorization page (https://docs.aws.amazon.com/appsync/latest/eventapi/configure-event-api-auth.html)
 * does not name it either. The GraphQL Lambda authorizer and API Gateway's TOKEN
 * authorizers cache per token value, and nothing we found says Events adds the
 * operation or channel. So we assume the worst case: the key is the token alone,
 * and a cached answer computed for (connect) or (subscribe, /a) may be replayed
 * for (subscribe, /b) or (publish, /b) with the same token.
 *
 * Hence: a denial is never cached (it would lock out the token's allowed channels),
 * and an allow is cached only when the token would get the very same allow, with
 * the very same handlerContext, for every operation on every channel of every
 * configured namespace ("universal" tokens, such as an admin token granting
 * subscribe and publish on `/*` with scope connect). Otherwise ttlOverride is 0,
 * and the verifier's in-memory claims cache absorbs the repeated invocations.
 * (A replayed universal allow could also meet a malformed channel, a wildcard
 * publish or a namespace that does not exist, which this authorizer would refuse;
 * the service refuses those itself whatever the authorizer says, PROTOCOL.md
 * "Channels and namespaces", so nothing is granted there.)
 *
 * A cached universal allow still never outlives the token: at most until exp, until
 * iat + maxTokenAgeSeconds, the secrets refresh interval (a rotated-out HS256
 * secret must stop working within it) and AppSync's own 3600 s ceiling.
 */
import type { ParsedClaims } from '../core/claims';
import { isGranted } from '../core/claims';
import { type Channel, parseChannel, patternCovers } from '../core/channels';
import type { RuntimeSettings } from '../core/config';
import { LIMITS } from '../core/limits';

/** The per-namespace channels that decide universality, parsed once per settings object. */
const probes = new WeakMap<RuntimeSettings, Array<{ bare: Channel; below: Channel }> | null>();

function probesFor(settings: RuntimeSettings): Array<{ bare: Channel; below: Channel }> | null {
  let p = probes.get(settings);
  if (p === undefined) {
    const namespaces = Object.entries(settings.namespaces);
    // A namespace that refuses some client operation to everyone makes every token non-universal.
    const open = namespaces.length > 0 && namespaces.every(([, ns]) => ns.allowWildcardSubscribe && ns.clientPublish && ns.subscribeAuthModes.includes('AWS_LAMBDA') && ns.publishAuthModes.includes('AWS_LAMBDA'));
    // One pattern covering `/<ns>/*` covers every deeper channel and every wildcard subscription below it.
    p = open ? namespaces.map(([name]) => ({ bare: parseChannel(`/${name}`), below: parseChannel(`/${name}/*`, { allowWildcard: true }) })) : null;
    probes.set(settings, p);
  }
  return p;
}

/**
 * Would every (operation, channel) this token can be asked about get an allow?
 * Channels are those of configured namespaces: AppSync refuses channels of
 * namespaces that do not exist before any auth mode applies.
 */
export function isUniversal(claims: ParsedClaims, settings: RuntimeSettings): boolean {
  if (!claims.scopes.has('connect')) return false;
  const p = probesFor(settings);
  if (!p) return false;
  for (const { bare, below } of p) {
    if (!isGranted(claims, 'subscribe', bare) || !isGranted(claims, 'subscribe', below)) return false;
    if (!isGranted(claims, 'publish', bare) || !coversAllPublish(claims, below)) return false;
  }
  return true;
}

/** isGranted refuses publish on a wildcard by design; here we ask whether one publish grant covers every channel below. */
function coversAllPublish(claims: ParsedClaims, below: Channel): boolean {
  return claims.grants.some((g) => {
    const p = g.permissions.publish;
    return (p === true || (Array.isArray(p) && p.length > 0)) && patternCovers(g.pattern, below);
  });
}

/** ttlOverride for an allow. 0 unless the token is universal; never past exp or the secrets refresh. */
export function allowTtlSeconds(claims: ParsedClaims, payload: Record<string, unknown>, settings: RuntimeSettings, nowMs: number, universal: boolean): number {
  if (!universal) return 0;
  const nowSec = nowMs / 1000;
  let ttl = Math.min(LIMITS.authorizerTtlMaxSeconds, claims.exp - nowSec, settings.tokens.secretsCacheSeconds ?? 0);
  const maxAge = settings.tokens.maxTokenAgeSeconds;
  if (maxAge !== undefined && typeof payload.iat === 'number') ttl = Math.min(ttl, payload.iat + maxAge - nowSec);
  return ttl > 0 ? Math.floor(ttl) : 0;
}
