/**
 * The WebSocket handshake as real AppSync Events clients perform it
 * (PROTOCOL.md "WebSocket handshake"): the subprotocol list in any order, with or
 * without spaces; connect authorization as a `header-<base64url JSON>` subprotocol or,
 * from the Swift and Kotlin SDKs, as plain upgrade headers.
 */
import type { IncomingMessage } from 'node:http';
import { ownRecord } from '../../functions/core/own';

export const EVENT_SUBPROTOCOL = 'aws-appsync-event-ws';
const HEADER_PREFIX = 'header-';

/** Paths the realtime endpoint answers on: `/event/realtime` and what Amplify builds from custom endpoints. */
export function isRealtimePath(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0];
  return path === '/event/realtime' || path === '//realtime' || path === '/realtime' || path === '/event//realtime';
}

export function parseSubprotocols(header: string | string[] | undefined): string[] {
  const raw = Array.isArray(header) ? header.join(',') : header ?? '';
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Decodes `header-…`: base64url or base64, padded or not, tolerating whitespace such as a trailing newline. */
export function decodeHeaderSubprotocol(value: string): Record<string, string> | undefined {
  const b64 = value.slice(HEADER_PREFIX.length).replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (b64.length === 0 || !/^[A-Za-z0-9+/]+$/.test(b64)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  return stringRecord(parsed);
}

/** Keeps the string-valued fields of an authorization object (numbers are stringified, the rest dropped). */
export function stringRecord(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out = ownRecord<string>();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number') out[k] = String(x);
  }
  return out;
}

// Headers that can carry connect authorization on a plain upgrade request.
const AUTH_HEADERS = ['authorization', 'x-api-key', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];

export interface ConnectAuth {
  /** The authorization object, or undefined when the client sent none. */
  authorization?: Record<string, string>;
  /** Where it came from, for logs. */
  carrier: 'subprotocol' | 'headers' | 'none' | 'invalid';
}

/** Finds the connect authorization of an upgrade request. */
export function connectAuthorization(req: IncomingMessage): ConnectAuth {
  const protocols = parseSubprotocols(req.headers['sec-websocket-protocol']);
  const header = protocols.find((p) => p.startsWith(HEADER_PREFIX));
  if (header !== undefined) {
    const authorization = decodeHeaderSubprotocol(header);
    return authorization ? { authorization, carrier: 'subprotocol' } : { carrier: 'invalid' };
  }
  const out: Record<string, string> = {};
  for (const name of AUTH_HEADERS) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  if (out.authorization === undefined && out['x-api-key'] === undefined) return { carrier: 'none' };
  // The SDKs that use plain headers sign the HTTP host; the upgrade's own Host is the best stand-in here.
  if (typeof req.headers.host === 'string') out.host = req.headers.host;
  return { authorization: out, carrier: 'headers' };
}

const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The Sec-WebSocket-Protocol header to hand to `ws`: without the `header-` entry
 * (ws refuses the whole upgrade when a padded base64 value carries `=`) and without
 * duplicates. The client accepts any subprotocol it offered, and we answer with
 * aws-appsync-event-ws, so dropping the credentials entry changes nothing it sees.
 */
export function sanitizedSubprotocolHeader(header: string | string[] | undefined): string | undefined {
  const kept = [...new Set(parseSubprotocols(header).filter((p) => !p.startsWith(HEADER_PREFIX) && TOKEN_RE.test(p)))];
  return kept.length > 0 ? kept.join(', ') : undefined;
}

/** Picks the subprotocol to answer with: always aws-appsync-event-ws when offered (Amplify breaks otherwise). */
export function selectSubprotocol(offered: Set<string>): string | false {
  for (const p of offered) if (p.trim() === EVENT_SUBPROTOCOL) return p;
  return false;
}
