/**
 * Eventsock token claims: what a customer's backend puts in the JWT and what the
 * authorizer, the history API and the client read from it. Verification (signature,
 * exp, iss, aud) is the authorizer's job; this module only checks the shape of the
 * Eventsock-specific claims and answers "may this token do X on channel Y".
 */
import { type Channel, type ChannelPattern, parsePattern, patternCovers } from './channels';
import { LIMITS } from './limits';

export type Scope = 'connect' | 'subscribe';
export const SCOPES: readonly Scope[] = ['connect', 'subscribe'];

/** Permissions granted on a channel pattern. `publish` is true (any event) or the allowed event names. */
export interface ChannelPermissions {
  subscribe?: boolean;
  publish?: boolean | string[];
  history?: boolean;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** The claims a signing backend sets (registered claims plus Eventsock's). */
export interface EventsockClaims {
  exp: number;
  nbf?: number;
  iat?: number;
  iss?: string;
  aud?: string | string[];
  sub?: string;
  jti?: string;
  /** Space-separated string or list: `connect`, `subscribe`. */
  scope?: string | Scope[];
  channels: Record<string, ChannelPermissions>;
  uid?: string;
  umd?: JsonValue;
}

/** Claims after shape validation: patterns parsed once. */
export interface ParsedClaims {
  scopes: Set<Scope>;
  grants: Array<{ pattern: ChannelPattern; permissions: ChannelPermissions }>;
  uid?: string;
  umd?: JsonValue;
  jti?: string;
  sub?: string;
  exp: number;
}

export type Operation = 'subscribe' | 'publish' | 'history';

/** Why a claim set was refused; stable codes for logs and tests. */
export type ClaimsReason =
  | 'CLAIMS_NOT_OBJECT'
  | 'EXP_MISSING'
  | 'SCOPE_INVALID'
  | 'CHANNELS_MISSING'
  | 'CHANNELS_INVALID'
  | 'PATTERN_INVALID'
  | 'PERMISSIONS_INVALID'
  | 'UID_INVALID'
  | 'UMD_INVALID'
  | 'UMD_TOO_LARGE';

export type ClaimsResult = { ok: true; claims: ParsedClaims } | { ok: false; reason: ClaimsReason; detail: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const fail = (reason: ClaimsReason, detail: string): ClaimsResult => ({ ok: false, reason, detail });

/** Checks the Eventsock claims' types. Never throws. */
export function parseClaims(payload: unknown): ClaimsResult {
  if (!isObject(payload)) return fail('CLAIMS_NOT_OBJECT', 'the token payload is not a JSON object');
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return fail('EXP_MISSING', 'exp must be a number');

  const scopes = new Set<Scope>();
  const rawScope = payload.scope;
  if (rawScope !== undefined) {
    const list = typeof rawScope === 'string' ? rawScope.split(' ').filter(Boolean) : Array.isArray(rawScope) ? rawScope : null;
    if (!list) return fail('SCOPE_INVALID', 'scope must be a space-separated string or a list');
    for (const s of list) {
      if (typeof s !== 'string' || !(SCOPES as readonly string[]).includes(s)) {
        return fail('SCOPE_INVALID', `scope ${JSON.stringify(String(s).slice(0, 40))} is not one of ${SCOPES.join(', ')}`);
      }
      scopes.add(s as Scope);
    }
  }

  if (payload.channels === undefined) return fail('CHANNELS_MISSING', 'channels claim is missing');
  if (!isObject(payload.channels)) return fail('CHANNELS_INVALID', 'channels must be an object of pattern -> permissions');
  const grants: ParsedClaims['grants'] = [];
  for (const [source, perms] of Object.entries(payload.channels)) {
    let pattern: ChannelPattern;
    try {
      pattern = parsePattern(source, 'channels pattern');
    } catch (e) {
      return fail('PATTERN_INVALID', (e as Error).message);
    }
    if (!isObject(perms)) return fail('PERMISSIONS_INVALID', `permissions for ${JSON.stringify(source)} must be an object`);
    for (const key of Object.keys(perms)) {
      if (key !== 'subscribe' && key !== 'publish' && key !== 'history') {
        return fail('PERMISSIONS_INVALID', `unknown permission ${JSON.stringify(key.slice(0, 40))} for ${JSON.stringify(source)}`);
      }
    }
    if (perms.subscribe !== undefined && typeof perms.subscribe !== 'boolean') return fail('PERMISSIONS_INVALID', `subscribe for ${JSON.stringify(source)} must be a boolean`);
    if (perms.history !== undefined && typeof perms.history !== 'boolean') return fail('PERMISSIONS_INVALID', `history for ${JSON.stringify(source)} must be a boolean`);
    const pub = perms.publish;
    if (pub !== undefined && typeof pub !== 'boolean') {
      if (!Array.isArray(pub) || pub.some((n) => typeof n !== 'string' || n.length === 0 || n.length > LIMITS.eventNameMaxLength)) {
        return fail('PERMISSIONS_INVALID', `publish for ${JSON.stringify(source)} must be true, false or a list of event names`);
      }
    }
    grants.push({ pattern, permissions: perms as ChannelPermissions });
  }

  if (payload.uid !== undefined && (typeof payload.uid !== 'string' || payload.uid.length > LIMITS.uidMaxLength)) {
    return fail('UID_INVALID', `uid must be a string of at most ${LIMITS.uidMaxLength} characters`);
  }
  let umd: JsonValue | undefined;
  if (payload.umd !== undefined) {
    let serialized: string;
    try {
      serialized = JSON.stringify(payload.umd);
    } catch {
      return fail('UMD_INVALID', 'umd must be JSON');
    }
    if (serialized === undefined) return fail('UMD_INVALID', 'umd must be JSON');
    if (utf8Length(serialized) > LIMITS.umdMaxBytes) return fail('UMD_TOO_LARGE', `umd is over ${LIMITS.umdMaxBytes} bytes serialized`);
    umd = payload.umd as JsonValue;
  }
  return {
    ok: true,
    claims: {
      scopes,
      grants,
      uid: payload.uid as string | undefined,
      umd,
      jti: typeof payload.jti === 'string' ? payload.jti : undefined,
      sub: typeof payload.sub === 'string' ? payload.sub : undefined,
      exp: payload.exp,
    },
  };
}

/** Is the operation granted on the channel by a pattern that covers it? (Wildcard subscriptions must be covered whole.) */
export function isGranted(claims: ParsedClaims, op: Operation, channel: Channel): boolean {
  if (op !== 'subscribe' && channel.wildcard) return false;
  for (const g of claims.grants) {
    const v = g.permissions[op];
    if (v === undefined || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (patternCovers(g.pattern, channel)) return true;
  }
  return false;
}

/**
 * The event names this token may publish on a concrete channel: `true` for any,
 * a list when every granting pattern restricts names (union of the lists), or
 * `false` when nothing grants publish there.
 */
export function publishAllowList(claims: ParsedClaims, channel: Channel): true | string[] | false {
  if (channel.wildcard) return false;
  let names: Set<string> | null = null;
  for (const g of claims.grants) {
    const v = g.permissions.publish;
    if (v === undefined || v === false) continue;
    if (!patternCovers(g.pattern, channel)) continue;
    if (v === true) return true;
    names ??= new Set();
    for (const n of v) names.add(n);
  }
  return names && names.size > 0 ? [...names] : false;
}

/** UTF-8 byte length without TextEncoder allocation per call site. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
