/**
 * `POST /event`: the HTTP publish, auth in plain headers (PROTOCOL.md "HTTP
 * publish"). Failures carry `x-amzn-ErrorType` (clients take the error name from it)
 * and a body with both `errors` and a top-level `message` (Amplify reads the text
 * from there). CORS is open: the endpoint is authenticated per request, no cookies.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventApiCore } from './core';
import { queryOf } from '../sigv4-verify';
import { badRequest, EventApiError, toEventApiError } from './errors';
import { runPublish } from './publish';
import { ownRecord } from '../../functions/core/own';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  // `*` never covers Authorization (Fetch standard), so it is listed with what clients send.
  'access-control-allow-headers': '*, authorization, content-type, accept, content-encoding, x-api-key, x-amz-date, x-amz-security-token, x-amz-content-sha256, x-amz-user-agent',
  'access-control-expose-headers': 'x-amzn-ErrorType, x-amzn-RequestId',
  'access-control-max-age': '600',
};

export function isEventPath(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0];
  return path === '/event' || path === '/event/';
}

/**
 * Reads the body up to `limit` bytes. A body declared or found to be larger is refused
 * at once (413) instead of being read to its end first: a client may declare 100 MB and
 * send it slowly, or never finish.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new EventApiError('BadRequestException', `The request body is over ${limit} bytes.`, { status: 413, field: 'body', limit });
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(tooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks).toString('utf8'));
      done = true;
    });
    req.on('error', (e) => {
      if (!done) reject(e);
      done = true;
    });
  });
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out = ownRecord<string>();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function answer(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID(), ...CORS, ...extra });
  res.end(text);
}

export async function handleEventHttp(core: EventApiCore, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (!isEventPath(req.url)) return false;
  if (req.method === 'OPTIONS') {
    const asked = req.headers['access-control-request-headers'];
    // Echo what the browser asks for as well, so a header not listed above still passes.
    res.writeHead(204, typeof asked === 'string' && /^[\w\s,-]{1,1000}$/.test(asked) ? { ...CORS, 'access-control-allow-headers': `${CORS['access-control-allow-headers']}, ${asked}` } : CORS);
    res.end();
    return true;
  }
  if (req.method !== 'POST') {
    answer(res, 405, { errors: [{ errorType: 'BadRequestException', message: 'Use POST /event to publish.' }], message: 'Use POST /event to publish.' }, { allow: 'POST, OPTIONS', 'x-amzn-ErrorType': 'BadRequestException' });
    return true;
  }
  try {
    const body = await readBody(req, core.settings.maxFrameBytes);
    const headers = headerRecord(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw badRequest('The request body is not valid JSON.', 'body');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('The request body must be a JSON object with channel and events.', 'body');
    const p = parsed as Record<string, unknown>;
    if (core.settings.verbose) core.logger.info('http publish', { channel: p.channel, events: p.events });
    const result = await runPublish(core, {
      channel: p.channel,
      events: p.events,
      authorization: headers,
      httpRequest: { method: req.method ?? 'POST', path: (req.url ?? '/event').split('?')[0], query: queryOf(req.url), headers: req.headers, body },
      requestHeaders: withoutSecrets(headers),
    });
    answer(res, 200, result);
  } catch (e) {
    const err = toEventApiError(e);
    if (err.status >= 500) core.logger.error('http publish failed', { error: e instanceof Error ? e.message : String(e) });
    else if (!err.wireMessage) core.logger.info('http publish refused', { errorType: err.errorType, reason: err.message });
    const entry = err.toServiceError();
    // A refused body may still be arriving; node discards the rest after the answer. Closing
    // instead could reset the connection before the client has read the 413. The top-level
    // `message` (what Amplify shows) is there whenever the entry has one.
    answer(res, err.status, { errors: [entry], ...(entry.message !== undefined ? { message: entry.message } : {}) }, { 'x-amzn-ErrorType': err.errorType });
  }
  return true;
}

/** The authorizer gets the request headers, but not the credentials it is not meant to see. */
function withoutSecrets(h: Record<string, string>): Record<string, string> {
  const { authorization: _a, 'x-api-key': _k, 'x-amz-security-token': _t, ...rest } = h;
  return rest;
}
