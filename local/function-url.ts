/**
 * HTTP request <-> Lambda Function URL event (payload format 2.0), so the emulator
 * runs the publish and history handlers on exactly the events AWS hands them.
 *
 * What Function URLs do, and what we copy (AWS Lambda developer guide, "Invoking
 * Lambda function URLs", request and response payloads):
 * - header names are lower-cased; repeated headers are joined with `,`; cookies are
 *   taken out of the headers into `cookies`;
 * - `queryStringParameters` joins repeated keys with `,` and is absent with no query;
 * - a text body (text/*, JSON, XML, form) is passed as is, any other body base64
 *   with `isBase64Encoded: true`; no body means no `body` field;
 * - the answer may be a structured `{ statusCode, headers, body, cookies,
 *   isBase64Encoded }`, or anything else, which is sent as JSON with status 200.
 * The shape is declared here rather than taken from @types/aws-lambda so this file
 * needs no extra package; it is structurally the same as APIGatewayProxyEventV2.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { EventsockError } from '../functions/core/errors';
import { hasOwnKey, ownRecord } from '../functions/core/own';
import type { ByteBudget } from './guard';

export interface FunctionUrlEvent {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: '$default';
    stage: '$default';
    time: string;
    timeEpoch: number;
  };
  body?: string;
  pathParameters?: undefined;
  isBase64Encoded: boolean;
  stageVariables?: undefined;
}

export interface FunctionUrlResult {
  statusCode?: number;
  headers?: Record<string, string | number | boolean>;
  body?: string;
  cookies?: string[];
  isBase64Encoded?: boolean;
}

/** Function URLs refuse request payloads over 6 MB; so do we, before buffering more. */
export const FUNCTION_URL_MAX_BODY_BYTES = 6 * 1024 * 1024;

/** The account id the emulator reports everywhere AWS would put a real one. */
export const LOCAL_ACCOUNT_ID = '000000000000';

const TEXT_TYPE_RE = /^(text\/|application\/(json|[a-z0-9.+-]*\+json|xml|[a-z0-9.+-]*\+xml|javascript|x-www-form-urlencoded))/i;

/** The emulator is busy: the bodies being read at once hold `budget.limit` bytes (503, Retry-After). */
export function serverBusy(budget: ByteBudget): EventsockError {
  return new EventsockError('SERVER_BUSY', `the emulator is reading ${budget.inUse} bytes of request bodies at once, its limit (${budget.limit}); retry shortly`, { field: 'body', limit: budget.limit });
}

/**
 * Reads a request body, refusing more than `maxBytes` with a typed error (413). With a
 * budget, the bytes being read count against the total all requests may hold at once
 * (the declared length up front, else each chunk); beyond it, SERVER_BUSY (503).
 */
export async function readBody(req: IncomingMessage, maxBytes = FUNCTION_URL_MAX_BODY_BYTES, budget?: ByteBudget): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new EventsockError('PAYLOAD_TOO_LARGE', `request body is ${declared} bytes; at most ${maxBytes} are allowed`, { field: 'body', limit: maxBytes });
  }
  let held = 0;
  const hold = (n: number) => {
    if (!budget || n <= 0) return;
    if (!budget.take(n)) throw serverBusy(budget);
    held += n;
  };
  try {
    if (Number.isFinite(declared)) hold(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        throw new EventsockError('PAYLOAD_TOO_LARGE', `request body is over ${maxBytes} bytes`, { field: 'body', limit: maxBytes });
      }
      if (size > held) hold(size - held);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  } finally {
    budget?.give(held);
  }
}

function formatTime(d: Date): string {
  // Function URLs use the CLF-style `12/Mar/2020:19:03:58 +0000`.
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * Builds the Function URL event for a request whose body has been read.
 * `domainName` is what the handler sees as its host (the emulator passes its own).
 */
export function toFunctionUrlEvent(
  req: Pick<IncomingMessage, 'method' | 'url' | 'rawHeaders' | 'httpVersion' | 'socket'>,
  body: Buffer,
  opts: { domainName: string; now?: () => number; requestId?: string },
): FunctionUrlEvent {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);

  const headers = ownRecord<string>();
  const cookies: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    if (name === 'cookie') {
      for (const c of value.split(';')) if (c.trim()) cookies.push(c.trim());
      continue;
    }
    headers[name] = hasOwnKey(headers, name) ? `${headers[name]},${value}` : value;
  }

  // Function URLs sit behind AWS's front end, which adds these; handlers may log them.
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  headers['x-forwarded-for'] ??= sourceIp;
  headers['x-forwarded-proto'] ??= (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (req.socket.localPort !== undefined) headers['x-forwarded-port'] ??= String(req.socket.localPort);

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = ownRecord<string>();
    for (const [k, v] of new URLSearchParams(rawQueryString)) {
      queryStringParameters[k] = hasOwnKey(queryStringParameters, k) ? `${queryStringParameters[k]},${v}` : v;
    }
  }

  const now = opts.now ? opts.now() : Date.now();
  const event: FunctionUrlEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: opts.domainName.split('.')[0],
      domainName: opts.domainName,
      domainPrefix: opts.domainName.split('.')[0],
      http: {
        method: (req.method ?? 'GET').toUpperCase(),
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: opts.requestId ?? randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: formatTime(new Date(now)),
      timeEpoch: now,
    },
    isBase64Encoded: false,
  };
  if (cookies.length) event.cookies = cookies;
  if (queryStringParameters) event.queryStringParameters = queryStringParameters;
  if (body.length > 0) {
    const text = TEXT_TYPE_RE.test(headers['content-type'] ?? '');
    event.body = text ? body.toString('utf8') : body.toString('base64');
    event.isBase64Encoded = !text;
  }
  return event;
}

function isStructured(v: unknown): v is FunctionUrlResult {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as FunctionUrlResult).statusCode === 'number';
}

/** Writes a handler's answer as Function URLs do. */
export function writeFunctionUrlResult(res: ServerResponse, result: unknown): void {
  if (!isStructured(result)) {
    // A non-structured answer is JSON-serialised with status 200, as Function URLs do.
    const body = result === undefined ? '' : typeof result === 'string' ? result : JSON.stringify(result);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  if (!headers['content-type'] && result.body !== undefined) headers['content-type'] = 'application/json';
  const body = result.body === undefined ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  res.writeHead(result.statusCode!, headers);
  res.end(body);
}

export type FunctionUrlHandler = (event: FunctionUrlEvent) => Promise<unknown>;

/**
 * Serves one request with a Function URL handler: read, convert, call, answer.
 * A handler that throws gets the 502 a Function URL gives for a failed invocation,
 * with no detail that could carry a secret.
 */
export async function serveFunctionUrl(
  req: IncomingMessage,
  res: ServerResponse,
  handler: FunctionUrlHandler,
  opts: { domainName: string; onError?: (e: unknown) => void; budget?: ByteBudget; before?: (event: FunctionUrlEvent) => Promise<unknown | undefined> },
): Promise<void> {
  // A request the handler refuses on its headers alone (no credentials) is answered before its body is read.
  if (opts.before) {
    const early = await opts.before(toFunctionUrlEvent(req, Buffer.alloc(0), { domainName: opts.domainName }));
    if (early !== undefined) {
      writeFunctionUrlResult(res, early);
      req.resume();
      return;
    }
  }
  let body: Buffer;
  try {
    body = await readBody(req, FUNCTION_URL_MAX_BODY_BYTES, opts.budget);
  } catch (e) {
    const err = e instanceof EventsockError ? e : new EventsockError('BAD_REQUEST', 'request body could not be read');
    const status = err.code === 'PAYLOAD_TOO_LARGE' ? 413 : err.code === 'SERVER_BUSY' ? 503 : 400;
    res.writeHead(status, { 'content-type': 'application/json', ...(status === 503 ? { 'retry-after': '1' } : {}) });
    res.end(JSON.stringify({ error: err.toJSON() }));
    // Drain what the client is still sending so it sees our answer rather than a reset.
    req.resume();
    return;
  }
  let result: unknown;
  try {
    result = await handler(toFunctionUrlEvent(req, body, { domainName: opts.domainName }));
  } catch (e) {
    opts.onError?.(e);
    res.writeHead(502, { 'content-type': 'application/json', 'x-amzn-errortype': 'LambdaFunctionError' });
    res.end(JSON.stringify({ message: 'Internal Server Error' }));
    return;
  }
  writeFunctionUrlResult(res, result);
}
