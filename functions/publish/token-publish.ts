/**
 * Client publishes through the publish API: `POST /publish` with
 * `Authorization: Bearer <JWT>` (the token a client connects with), so that what
 * clients publish is stored (namespace `defaultStoreSeconds`), gets per-channel
 * ordered ids and is deduplicated like any backend publish.
 *
 * Telling a JWT from an API key: the API keys are checked first, exactly as before
 * (so no API key, whatever its characters, is ever taken for a token). Only a
 * value that matches no key and looks like a JWT (base64url parts separated by dots,
 * the first decoding to a JSON object: a JOSE header) is verified as a token, by the
 * shared verifier of functions/tokens (the authorizer's and history API's code), and
 * refused with the history API's answer naming the reason. That includes values that
 * then fail the shape check (an unsecured `header.payload.` with its empty signature,
 * 2 or 4 parts: TOKEN_MALFORMED / ALG_NONE, issue #13) rather than the generic "missing
 * or invalid API key or token". The generated API keys are 48 letters and digits,
 * never that shape.
 *
 * What a token may do, per message (a batch is refused whole, 403, when any message
 * is not granted: the error names the index and the reason, and nothing is sent):
 * - the namespace must take client publishes (`clientPublish` and `AWS_LAMBDA` among
 *   its publishAuthModes): else CLIENT_PUBLISH_DISABLED; this is the authorizer's
 *   EVENT_PUBLISH rule;
 * - a pattern covering the channel must grant `publish`: else PUBLISH_NOT_GRANTED;
 * - when the granting patterns list event names, the event must be one of them:
 *   else EVENT_NOT_ALLOWED (the namespace handler's rule for socket publishes);
 * - the reserved `eventsock.` prefix is refused for everyone by validation (400).
 * `store` and `emitPubSubEvent` are backend decisions: 400 FIELD_NOT_ALLOWED naming
 * the field (the namespace default store applies). `meta.uid`/`meta.umd` come from
 * the verified claims only. A `deduplicationId` is scoped to the token's `uid` (or
 * `sub` when it has no uid) before it reaches the dedup table, so one user can
 * never suppress another's message, nor a backend's; a token with neither cannot
 * use deduplicationId.
 */
import type { ParsedClaims } from '../core/claims';
import { publishAllowList } from '../core/claims';
import type { RuntimeSettings } from '../core/config';
import { EventsockError } from '../core/errors';
import type { ValidatedMessage } from '../core/message';
import { own } from '../core/own';
import { withoutTokenPrefix } from '../core/token-format';

/** A non-empty base64url first part, then one or more dot-separated parts (empty ones too: `alg none` has no signature). */
const JWT_LIKE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)+$/;

/** Dot-separated base64url parts whose first decodes to a JSON object: a JWT (maybe a bad one), not an API key. */
export function looksLikeJwt(value: string): boolean {
  // An Eventsock token's `es1.` prefix (core/token-format.ts) is not part of the JWT.
  value = withoutTokenPrefix(value);
  if (!JWT_LIKE.test(value)) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(value.slice(0, value.indexOf('.')), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header);
  } catch {
    return false;
  }
}

/** Message fields only a backend may set. */
export const BACKEND_ONLY_FIELDS = ['store', 'emitPubSubEvent'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws FIELD_NOT_ALLOWED (400) for `store` / `emitPubSubEvent` anywhere in a token's request, before any other validation. */
export function refuseBackendFields(input: unknown): void {
  const check = (m: unknown, at: string) => {
    if (!isObject(m)) return;
    for (const f of BACKEND_ONLY_FIELDS) {
      if (f in m) {
        throw new EventsockError('FIELD_NOT_ALLOWED', `${at}${f} is decided by the backend; a token publish takes channel, event, data, deduplicationId (the namespace's default store applies)`, {
          field: `${at}${f}`,
        });
      }
    }
  };
  if (isObject(input) && Array.isArray(input.messages)) input.messages.forEach((m, i) => check(m, `messages[${i}].`));
  else check(input, '');
}

export interface Refusal {
  code: 'CLIENT_PUBLISH_DISABLED' | 'PUBLISH_NOT_GRANTED' | 'EVENT_NOT_ALLOWED';
  message: string;
  field: string;
  index: number;
}

/** The first message the token may not publish, or undefined when it may publish them all. */
export function firstRefusal(messages: ValidatedMessage[], claims: ParsedClaims, settings: Pick<RuntimeSettings, 'namespaces'>, batch: boolean): Refusal | undefined {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const at = batch ? `messages[${i}].` : '';
    const where = batch ? `messages[${i}]: ` : '';
    const ns = own(settings.namespaces, m.channel.namespace);
    if (!ns?.clientPublish || !ns.publishAuthModes.includes('AWS_LAMBDA')) {
      return { code: 'CLIENT_PUBLISH_DISABLED', message: `${where}namespace ${m.channel.namespace} does not take client publishes (clientPublish)`, field: `${at}channel`, index: i };
    }
    const allowed = publishAllowList(claims, m.channel);
    if (allowed === false) {
      return { code: 'PUBLISH_NOT_GRANTED', message: `${where}the token does not grant publish on ${m.channel.path}`, field: `${at}channel`, index: i };
    }
    if (allowed !== true && !allowed.includes(m.event)) {
      return { code: 'EVENT_NOT_ALLOWED', message: `${where}the token does not allow event ${JSON.stringify(m.event)} on ${m.channel.path}`, field: `${at}event`, index: i };
    }
  }
  return undefined;
}

/**
 * The dedup key of a token publish: `uid "<uid>" <id>` or `sub "<sub>" <id>`. It
 * contains spaces, which a deduplicationId never does, so it can equal neither a
 * backend's key nor another user's.
 */
export function scopedDedupId(claims: ParsedClaims, deduplicationId: string): string | undefined {
  if (claims.uid) return `uid ${JSON.stringify(claims.uid)} ${deduplicationId}`;
  if (claims.sub) return `sub ${JSON.stringify(claims.sub)} ${deduplicationId}`;
  return undefined;
}

/** Messages with their deduplicationId scoped to the publisher; throws INVALID_FIELD when the token names nobody. */
export function scopeDedupIds(messages: ValidatedMessage[], claims: ParsedClaims, batch: boolean): ValidatedMessage[] {
  return messages.map((m, i) => {
    if (m.deduplicationId === undefined) return m;
    const scoped = scopedDedupId(claims, m.deduplicationId);
    if (scoped === undefined) {
      const field = `${batch ? `messages[${i}].` : ''}deduplicationId`;
      throw new EventsockError('INVALID_FIELD', `${field}: a token without uid or sub cannot use deduplicationId (ids are kept per user)`, { field });
    }
    return { ...m, deduplicationId: scoped };
  });
}

/** The envelope `meta` of a token publish, as JSON: from the verified claims, never from the body. */
export function metaJsonOf(claims: ParsedClaims): string {
  return JSON.stringify({ uid: typeof claims.uid === 'string' && claims.uid !== '' ? claims.uid : null, umd: claims.umd ?? null });
}
