/**
 * The `util` object APPSYNC_JS code imports from '@aws-appsync/utils', as far as
 * Event API handlers use it (AppSync Events "Built-in utilities"). util.error and
 * util.unauthorized end the handler, as in the service: they throw a HandlerAbort
 * that the runtime catches; handler code cannot catch it (APPSYNC_JS has no try).
 */
import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

export class HandlerAbort {
  constructor(
    readonly kind: 'unauthorized' | 'error' | 'earlyReturn',
    readonly message: string,
    readonly errorType?: string,
    readonly data?: unknown,
  ) {}
}

export interface AppendedError {
  message: string;
  errorType?: string;
  data?: unknown;
  errorInfo?: unknown;
}

export interface UtilOptions {
  now: () => number;
  /** Source of util.autoId(). */
  uuid: () => string;
  /** Receives util.appendError entries of the current invocation. */
  appendError: (e: AppendedError) => void;
}

const KSUID_EPOCH_SECONDS = 1_400_000_000;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function ksuid(nowMs: number): string {
  const bytes = Buffer.alloc(20);
  bytes.writeUInt32BE((Math.floor(nowMs / 1000) - KSUID_EPOCH_SECONDS) >>> 0, 0);
  randomBytes(16).copy(bytes, 4);
  let n = BigInt('0x' + bytes.toString('hex'));
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(27, '0');
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new TypeError(`util.${name} expects a string`);
  return v;
}

/** application/x-www-form-urlencoded, as Java's URLEncoder does it (AppSync's reference). */
function formEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/**
 * `runtime` from '@aws-appsync/utils': `runtime.earlyReturn(obj)` ends a data-source
 * handler's request function with `obj` as the result, skipping the data source and the
 * response function (AppSync Events "Runtime utilities": "When this function is called in
 * an AWS AppSync Events handler, the data source and response function are skipped").
 */
export function createRuntime() {
  return {
    earlyReturn(obj?: unknown): never {
      throw new HandlerAbort('earlyReturn', 'runtime.earlyReturn', undefined, obj);
    },
  };
}

export function createUtil(opts: UtilOptions) {
  const ulid = monotonicFactory();
  const isNull = (v: unknown) => v === null || v === undefined;
  const isEmpty = (v: unknown) => isNull(v) || ((typeof v === 'string' || Array.isArray(v)) && v.length === 0);
  return {
    autoId: () => opts.uuid(),
    autoUlid: () => ulid(opts.now()),
    autoKsuid: () => ksuid(opts.now()),
    error(message: unknown, errorType?: unknown, data?: unknown): never {
      throw new HandlerAbort('error', String(message), typeof errorType === 'string' ? errorType : undefined, data);
    },
    appendError(message: unknown, errorType?: unknown, data?: unknown, errorInfo?: unknown): void {
      opts.appendError({ message: String(message), errorType: typeof errorType === 'string' ? errorType : undefined, data, errorInfo });
    },
    unauthorized(): never {
      throw new HandlerAbort('unauthorized', 'You are not authorized to make this call.', 'UnauthorizedException');
    },
    urlEncode: (s: unknown) => formEncode(str(s, 'urlEncode')),
    urlDecode: (s: unknown) => decodeURIComponent(str(s, 'urlDecode').replace(/\+/g, ' ')),
    base64Encode: (s: unknown) => Buffer.from(str(s, 'base64Encode'), 'utf8').toString('base64'),
    base64Decode: (s: unknown) => Buffer.from(str(s, 'base64Decode'), 'base64').toString('utf8'),
    escapeJavaScript: (s: unknown) => JSON.stringify(str(s, 'escapeJavaScript')).slice(1, -1),
    matches: (pattern: unknown, s: unknown) => new RegExp(`^(?:${str(pattern, 'matches')})$`).test(str(s, 'matches')),
    isNull,
    isNullOrEmpty: isEmpty,
    isNullOrBlank: (v: unknown) => isNull(v) || (typeof v === 'string' && v.trim().length === 0),
    defaultIfNull: (v: unknown, d: unknown) => (isNull(v) ? d : v),
    defaultIfNullOrEmpty: (v: unknown, d: unknown) => (isEmpty(v) ? d : v),
    time: {
      nowEpochMilliSeconds: () => opts.now(),
      nowEpochSeconds: () => Math.floor(opts.now() / 1000),
      nowISO8601: () => new Date(opts.now()).toISOString(),
      epochMilliSecondsToSeconds: (ms: number) => Math.floor(ms / 1000),
      epochMilliSecondsToISO8601: (ms: number) => new Date(ms).toISOString(),
      parseISO8601ToEpochMilliSeconds: (s: unknown) => Date.parse(str(s, 'time.parseISO8601ToEpochMilliSeconds')),
    },
  };
}
