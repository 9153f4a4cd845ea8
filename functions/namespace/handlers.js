/**
 * Eventsock's channel-namespace handlers (APPSYNC_JS). One file serves every
 * namespace: the stack deploys it as each namespace's code and the emulator runs
 * it through local/appsync-js. APPSYNC_JS is restricted JavaScript (no try/catch,
 * throw, while, classic for, ++, regex literals, `in`, recursion or classes) and
 * @aws-appsync/eslint-plugin checks this file in test/namespace.
 *
 * onPublish
 * - IAM publishers (the publish function, trusted services) already send finished
 *   envelopes: they pass through unchanged.
 * - Publishers authorized by the Eventsock Lambda authorizer are clients: each
 *   event `{ event, data? }` is checked against the token's publish grants (carried
 *   in the authorizer's handlerContext) and wrapped in the envelope
 *   `{ id, event, channel, data, meta: { uid, umd } }`; id and meta come from here
 *   and from the verified identity, never from the payload. A client-chosen
 *   `nonce` (1-64 of A-Z a-z 0-9 _ -) is copied as a top-level `nonce` (never into
 *   meta: it is the publisher's own marker for echo control, not an identity
 *   claim); a malformed one fails that event (INVALID_NONCE). Refused events come
 *   back as `{ id, error }`, which the service reports to the publisher as failed.
 * - Anything else (API key, OIDC, Cognito, or a namespace without client
 *   publishing) is refused outright.
 * onSubscribe
 * - Refuses `/*` subscriptions on namespaces configured with
 *   allowWildcardSubscribe: false; the authorizer has already checked the grants.
 */
import { util } from '@aws-appsync/utils';

// The deployed config, written into this line by namespaceHandlerCode()
// (functions/namespace/code.ts). `namespaces: null` means this copy does not know
// the config, so only IAM publishers are let through.
const SETTINGS = { namespaces: null, maxDataBytes: 32768 }; // @eventsock:settings

const RESERVED_PREFIX = 'eventsock.';
const EVENT_NAME_MAX = 128;
const NONCE_MAX = 64;
const NONCE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const HEX = '0123456789abcdef';
// APPSYNC_JS has no counting for-loop; these index lists stand in for one.
const TIME_DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const RANDOM_DIGITS_DESC = [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
const RANDOM_GROUPS = [0, 1, 2, 3];
const GROUP_OFFSETS = [0, 1, 2, 3, 4];

function namespaceSettings(name) {
  const all = SETTINGS.namespaces;
  if (all === null || typeof all !== 'object') return null;
  // Own properties only: `constructor` or `toString` must not read as configured. APPSYNC_JS has no
  // `in` and lists Object.hasOwn (docs.aws.amazon.com/appsync/latest/eventapi/runtime-supported-features.html).
  if (!Object.hasOwn(all, name)) return null;
  return all[name];
}

// AppSync Events hands the authorizer's handlerContext to handlers as
// ctx.identity.handlerContext; GraphQL APIs call it resolverContext. Read both.
function authorizerContext(identity) {
  if (identity === null || typeof identity !== 'object') return null;
  const hc = identity.handlerContext;
  if (hc !== null && typeof hc === 'object') return hc;
  const rc = identity.resolverContext;
  if (rc !== null && typeof rc === 'object') return rc;
  return null;
}

function isIamIdentity(identity) {
  return identity !== null && typeof identity === 'object' && typeof identity.userArn === 'string' && typeof identity.accountId === 'string';
}

function pathSegments(path) {
  let s = path;
  if (s.startsWith('/')) s = s.slice(1);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s.split('/');
}

// Same semantics as functions/core/channels.ts patternMatches: `*` inside the
// pattern is exactly one segment, a trailing `*` is one or more deeper segments.
function patternMatches(pattern, segments) {
  const p = pathSegments(pattern);
  const tail = p[p.length - 1] === '*';
  if (tail && segments.length < p.length) return false;
  if (!tail && segments.length !== p.length) return false;
  const fixed = tail ? p.length - 1 : p.length;
  let ok = true;
  let i = 0;
  for (const seg of p) {
    if (i >= fixed) break;
    if (seg !== '*' && seg !== segments[i]) {
      ok = false;
      break;
    }
    i = i + 1;
  }
  return ok;
}

// The publish grants arrive as JSON text `[[pattern, true | [names...]], ...]`.
// Answer: true (any name), the union of allowed names (a list: an object keyed by
// client-chosen names would misbehave for `__proto__`), or null (nothing granted).
function allowedNames(grantsText, segments) {
  if (typeof grantsText !== 'string' || grantsText === '') return null;
  const grants = JSON.parse(grantsText);
  if (!Array.isArray(grants)) return null;
  let any = false;
  const names = [];
  for (const grant of grants) {
    const usable = Array.isArray(grant) && typeof grant[0] === 'string' && (grant[1] === true || Array.isArray(grant[1]));
    if (usable && patternMatches(grant[0], segments)) {
      if (grant[1] === true) {
        any = true;
      } else {
        for (const n of grant[1]) {
          if (typeof n === 'string' && !names.includes(n)) names.push(n);
        }
      }
    }
  }
  if (any) return true;
  return names.length > 0 ? names : null;
}

function eventNameProblem(name) {
  if (typeof name !== 'string') return 'INVALID_EVENT: event must be a string';
  if (name.length === 0) return 'INVALID_EVENT: event must not be empty';
  if (name.length > EVENT_NAME_MAX) return `INVALID_EVENT: event is ${name.length} characters; at most ${EVENT_NAME_MAX} are allowed`;
  for (const ch of name.split('')) {
    if (ch === '*' || ch < ' ') return "INVALID_EVENT: event must not contain '*' or control characters";
  }
  // In any letter case, as isReservedEventName in functions/core/limits.ts.
  if (name.toLowerCase().startsWith(RESERVED_PREFIX)) return `RESERVED_EVENT: event must not start with the reserved prefix '${RESERVED_PREFIX}' (in any letter case)`;
  return null;
}

// The client's echo-control marker: absent (undefined or null) or a short safe token.
function nonceProblem(nonce) {
  if (nonce === undefined || nonce === null) return null;
  let ok = typeof nonce === 'string' && nonce.length > 0 && nonce.length <= NONCE_MAX;
  if (ok) {
    for (const ch of nonce.split('')) {
      if (NONCE_CHARS.indexOf(ch) < 0) ok = false;
    }
  }
  return ok ? null : `INVALID_NONCE: nonce must be 1-${NONCE_MAX} characters of A-Z a-z 0-9 _ -`;
}

// UTF-8 length of a string without charCodeAt (not in APPSYNC_JS): a UTF-16 unit
// is at most 3 bytes, so only long strings need the exact count from base64.
function utf8Bytes(s) {
  if (s.length * 3 <= SETTINGS.maxDataBytes) return s.length;
  const b64 = util.base64Encode(s);
  let pad = 0;
  if (b64.endsWith('==')) pad = 2;
  else if (b64.endsWith('=')) pad = 1;
  return (b64.length / 4) * 3 - pad;
}

// ULID: 48-bit millisecond time then 80 random bits, Crockford base32, 26 chars.
// Within one invocation the random part is incremented instead of redrawn, so the
// ids of one batch strictly increase even inside the same millisecond.
function freshRandom() {
  const hex = util.autoId().split('-').join('').toLowerCase();
  // Skip the UUID's version nibble (12) and variant nibble (16): they are not random.
  const usable = hex.slice(0, 12) + hex.slice(13, 16) + hex.slice(17);
  const digits = [];
  for (const g of RANDOM_GROUPS) {
    let v = 0;
    for (const k of GROUP_OFFSETS) {
      v = v * 16 + HEX.indexOf(usable[g * 5 + k]);
    }
    digits.push(Math.floor(v / 32768) % 32, Math.floor(v / 1024) % 32, Math.floor(v / 32) % 32, v % 32);
  }
  return digits;
}

function incrementRandom(digits) {
  let carry = true;
  for (const i of RANDOM_DIGITS_DESC) {
    if (!carry) break;
    if (digits[i] === 31) {
      digits[i] = 0;
    } else {
      digits[i] = digits[i] + 1;
      carry = false;
    }
  }
  return !carry;
}

function nextUlid(state) {
  const now = util.time.nowEpochMilliSeconds();
  if (state.random === null || now > state.time) {
    state.time = now;
    state.random = freshRandom();
  } else if (!incrementRandom(state.random)) {
    // 2^80 ids in one millisecond overflowed: move to the next millisecond.
    state.time = state.time + 1;
    state.random = freshRandom();
  }
  let id = '';
  let t = state.time;
  for (const _ of TIME_DIGITS) {
    id = CROCKFORD[t % 32] + id;
    t = Math.floor(t / 32);
  }
  for (const d of state.random) id = id + CROCKFORD[d];
  return id;
}

function parseUmd(text) {
  if (typeof text !== 'string' || text === '') return null;
  return JSON.parse(text);
}

function clientEvent(incoming, allowed, channel, meta, state) {
  const p = incoming.payload;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) {
    return { id: incoming.id, error: 'INVALID_PAYLOAD: an event must be a JSON object { "event": string, "data"?: any }' };
  }
  const problem = eventNameProblem(p.event);
  if (problem !== null) return { id: incoming.id, error: problem };
  if (allowed !== true && !allowed.includes(p.event)) {
    return { id: incoming.id, error: `EVENT_NOT_ALLOWED: the token does not allow event '${p.event}' on ${channel}` };
  }
  const badNonce = nonceProblem(p.nonce);
  if (badNonce !== null) return { id: incoming.id, error: badNonce };
  const data = p.data === undefined ? null : p.data;
  const bytes = utf8Bytes(JSON.stringify(data));
  if (bytes > SETTINGS.maxDataBytes) {
    return { id: incoming.id, error: `DATA_TOO_LARGE: data is ${bytes} bytes serialized; at most ${SETTINGS.maxDataBytes} are allowed` };
  }
  const payload = { id: nextUlid(state), event: p.event, channel, data, meta: { uid: meta.uid, umd: meta.umd } };
  if (typeof p.nonce === 'string') payload.nonce = p.nonce;
  return { id: incoming.id, payload };
}

export function onPublish(ctx) {
  const identity = ctx.identity;
  const auth = authorizerContext(identity);
  if (auth === null) {
    if (isIamIdentity(identity)) return ctx.events;
    util.unauthorized();
  }
  const ns = namespaceSettings(ctx.info.channelNamespace.name);
  if (ns === null || ns.clientPublish !== true) util.unauthorized();
  const channel = ctx.info.channel.path;
  const allowed = allowedNames(auth.publish, pathSegments(channel));
  if (allowed === null) util.unauthorized();
  const meta = { uid: typeof auth.uid === 'string' && auth.uid !== '' ? auth.uid : null, umd: parseUmd(auth.umd) };
  const state = { time: 0, random: null };
  const out = [];
  for (const incoming of ctx.events) {
    out.push(clientEvent(incoming, allowed, channel, meta, state));
  }
  return out;
}

export function onSubscribe(ctx) {
  const ns = namespaceSettings(ctx.info.channelNamespace.name);
  if (ns !== null && ns.allowWildcardSubscribe === false && ctx.info.channel.path.endsWith('/*')) {
    util.unauthorized();
  }
}
