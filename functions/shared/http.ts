/**
 * The Function URL side of the HTTP handlers (publish, history): the payload 2.0
 * event fields they read, the structured answer they return, and the one JSON error
 * body every 4xx/5xx carries: `{ error: { code, message, field?, limit? } }`.
 * Declared here (structurally APIGatewayProxyEventV2) so handlers need no types package.
 */
import { EventsockError } from '../core/errors';
import { own } from '../core/own';

export interface HttpEvent {
  version: '2.0';
  rawPath: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { http: { method: string; path?: string; sourceIp?: string }; requestId?: string };
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; limit?: number | string };
}

export function isHttpEvent(e: unknown): e is HttpEvent {
  const r = e as { version?: unknown; requestContext?: { http?: { method?: unknown } } } | null;
  return typeof r === 'object' && r !== null && r.version === '2.0' && typeof r.requestContext?.http?.method === 'string';
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function errorBody(code: string, message: string, opts: { field?: string; limit?: number | string } = {}): ErrorBody {
  const error: ErrorBody['error'] = { code, message };
  if (opts.field !== undefined) error.field = opts.field;
  if (opts.limit !== undefined) error.limit = opts.limit;
  return { error };
}

/** An EventsockError as an error body; anything else becomes a generic INTERNAL error (details go to the log only). */
export function toErrorBody(e: unknown): ErrorBody {
  if (e instanceof EventsockError) return errorBody(e.code, e.message, { field: e.field, limit: e.limit });
  return errorBody('INTERNAL', 'internal error');
}

/** Header lookup by lower-case name (Function URLs lower-case them; direct callers may not). */
export function header(event: HttpEvent, name: string): string | undefined {
  const h = event.headers ?? {};
  const exact = own(h, name);
  if (exact !== undefined) return exact;
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** The request body as text (Function URLs base64 non-text bodies). */
export function bodyText(event: HttpEvent): string {
  if (event.body === undefined) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/** The token after `Bearer ` (scheme case-insensitive), or undefined. */
export function bearerToken(event: HttpEvent): string | undefined {
  const v = header(event, 'authorization');
  const m = v === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(v);
  return m ? m[1] : undefined;
}

/** Byte length of the body as sent (before base64 decoding), for the 413 check without decoding first. */
export function bodyBytes(event: HttpEvent): number {
  if (event.body === undefined) return 0;
  return event.isBase64Encoded ? Math.floor((event.body.length * 3) / 4) : Buffer.byteLength(event.body, 'utf8');
}
