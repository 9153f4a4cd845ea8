/**
 * Secrets the handlers read at run time (HS256 token secrets, publish API keys).
 * In AWS they are SSM SecureString parameters; the emulator hands in a static map.
 * Values are cached for a bounded time and re-read, so rotating a parameter needs
 * no redeploy: after at most `ttlSeconds` every warm container sees the new value.
 * Secret values never appear in errors or logs; only parameter names do.
 *
 * What SSM answers is one of two kinds:
 * - definitive: the value, or "there is none" (ParameterNotFound, an empty value).
 *   Absence is refused at once, never papered over with an older value: deleting a
 *   parameter is how an operator revokes a secret.
 * - transient: anything else (throttling, 5xx, network errors, the read timing out,
 *   also AccessDenied/KMS errors: a policy slip is not a revocation). The last
 *   definitive answer keeps being served for at most `maxStaleSeconds` past its
 *   refresh time; reads are retried with jittered exponential backoff on later
 *   calls (never more than one read per parameter in flight, whatever the number
 *   of callers), and each failed attempt is logged once with the parameter name.
 *   With nothing to serve (a cold start during an outage, or the bound exceeded),
 *   get() rejects with a SecretUnavailableError whose `retryable` is true, which
 *   the HTTP handlers answer with 503 and Retry-After rather than 401.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { EventsockError } from '../core/errors';
import { createLogger, type Logger, type LogLevel } from './log';

export interface SecretSource {
  /** The current value of the named secret. Rejects with code SECRET_UNAVAILABLE (a SecretUnavailableError). */
  get(name: string): Promise<string>;
}

/**
 * Code SECRET_UNAVAILABLE. `retryable` false: the secret is definitively not set
 * (refuse); true: it could not be read right now (answer 503, retry after
 * `retryAfterSeconds`).
 */
export class SecretUnavailableError extends EventsockError {
  readonly retryable: boolean;
  readonly retryAfterSeconds: number;
  constructor(message: string, opts: { retryable: boolean; retryAfterSeconds: number }) {
    super('SECRET_UNAVAILABLE', message);
    this.name = 'SecretUnavailableError';
    this.retryable = opts.retryable;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/** Is this a failure to read a secret that may go away by itself (as opposed to the secret not being set)? Unknown errors count as retryable. */
export function isRetryableSecretError(e: unknown): boolean {
  return !(e instanceof SecretUnavailableError) || e.retryable;
}

/** Seconds a caller should wait before retrying after `e` (1 to 60). */
export function retryAfterSecondsOf(e: unknown): number {
  const s = e instanceof SecretUnavailableError ? e.retryAfterSeconds : DEFAULT_RETRY_AFTER_SECONDS;
  return Math.min(60, Math.max(1, Math.ceil(s)));
}

const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** A fixed map of secrets (the emulator and tests). Changing the map takes effect at once. */
export function staticSecretSource(values: Map<string, string> | Record<string, string>): SecretSource {
  const map = values instanceof Map ? values : new Map(Object.entries(values));
  return {
    async get(name) {
      const v = map.get(name);
      if (v === undefined) throw new SecretUnavailableError(`secret ${name} is not set`, { retryable: false, retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS });
      return v;
    },
  };
}

export interface SsmSecretSourceOptions {
  /** How long a value is used before it is re-read (the rotation delay). */
  ttlSeconds: number;
  /**
   * How long past its refresh time the last definitive answer is still served while
   * SSM cannot be read. Default 900 (15 minutes): longer than typical throttling
   * bursts and short regional SSM/KMS incidents, short enough that a secret rotated
   * during an outage stops working soon after. Rotation while SSM answers is not
   * delayed by it at all; 0 turns stale serving off.
   */
  maxStaleSeconds?: number;
  /** A read (SDK retries included) is abandoned after this long and counts as a transient failure. Default 3000. */
  readTimeoutMs?: number;
  /** First retry delay after a transient failure; doubles per consecutive failure up to `backoffMaxMs`. Default 1000. */
  backoffBaseMs?: number;
  /** Default 30000. */
  backoffMaxMs?: number;
  /** A parameter found missing is asked again after this long at the earliest. Default min(ttl, 10 s). */
  absentRetryMs?: number;
  /** Default: JSON lines on stdout, level from EVENTSOCK_LOG_LEVEL. */
  logger?: Logger;
  now?: () => number;
  /** [0, 1); jitters the backoff. */
  random?: () => number;
}

export const DEFAULT_MAX_STALE_SECONDS = 900;

type Answer = { value: string } | { absent: true };

interface Entry {
  /** The last definitive answer and when it was read. */
  answer?: Answer;
  answeredAt: number;
  /** No read before this (the TTL of a value, the backoff after a failure). */
  nextReadAt: number;
  failures: number;
  /** When the current run of transient failures started. */
  failingSince?: number;
  lastError?: string;
  inflight?: Promise<void>;
}

function errorName(e: unknown): string {
  const n = (e as { name?: unknown } | null)?.name;
  return typeof n === 'string' && n.length > 0 ? n.slice(0, 80) : 'Error';
}

function httpStatus(e: unknown): number | undefined {
  const s = (e as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

function defaultLogger(): Logger {
  const env = process.env.EVENTSOCK_LOG_LEVEL;
  const level: LogLevel = env === 'debug' || env === 'info' || env === 'warn' || env === 'error' ? env : 'info';
  return createLogger({ level, fields: { component: 'secrets' } });
}

/** SSM SecureString parameters, each cached for `ttlSeconds` and served stale through SSM outages (see the top of this file). */
export function ssmSecretSource(ssm: Pick<SSMClient, 'send'>, opts: SsmSecretSourceOptions): SecretSource {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const ttlMs = Math.max(0, opts.ttlSeconds) * 1000;
  const maxStaleMs = Math.max(0, opts.maxStaleSeconds ?? DEFAULT_MAX_STALE_SECONDS) * 1000;
  const readTimeoutMs = opts.readTimeoutMs ?? 3000;
  const backoffBaseMs = opts.backoffBaseMs ?? 1000;
  const backoffMaxMs = Math.max(backoffBaseMs, opts.backoffMaxMs ?? 30_000);
  const absentRetryMs = opts.absentRetryMs ?? Math.min(ttlMs, 10_000);
  let logger = opts.logger;
  const log = () => (logger ??= defaultLogger());
  const entries = new Map<string, Entry>();

  /** The SSM answer as a definitive Answer; throws for transient failures. */
  async function read(name: string): Promise<Answer> {
    let out;
    try {
      out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }), { abortSignal: AbortSignal.timeout(readTimeoutMs) });
    } catch (e) {
      if (errorName(e) === 'ParameterNotFound') return { absent: true };
      throw e;
    }
    const v = out?.Parameter?.Value;
    return typeof v === 'string' && v.length > 0 ? { value: v } : { absent: true };
  }

  function refresh(name: string, entry: Entry): Promise<void> {
    const started = now();
    return read(name).then(
      (answer) => {
        const t = now();
        if (entry.failures > 0) log().info('secret read recovered', { parameterName: name, failedAttempts: entry.failures, outageSeconds: Math.round((t - (entry.failingSince ?? t)) / 1000) });
        else if ('absent' in answer && !(entry.answer && 'absent' in entry.answer)) log().info('secret parameter is not set', { parameterName: name });
        entry.answer = answer;
        entry.answeredAt = t;
        entry.nextReadAt = t + ('absent' in answer ? absentRetryMs : ttlMs);
        entry.failures = 0;
        entry.failingSince = undefined;
        entry.lastError = undefined;
      },
      (e: unknown) => {
        const t = now();
        entry.failures++;
        entry.failingSince ??= started;
        const backoff = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(entry.failures - 1, 30));
        // Equal jitter: containers that failed together do not come back together.
        entry.nextReadAt = t + backoff / 2 + (random() * backoff) / 2;
        entry.lastError = errorName(e);
        const staleUntil = entry.answer ? entry.answeredAt + ttlMs + maxStaleMs : undefined;
        const serving = staleUntil !== undefined && t <= staleUntil;
        // The parameter name, the error's name and status; never its message (it could quote anything).
        const fields = {
          parameterName: name,
          error: entry.lastError,
          httpStatus: httpStatus(e),
          failedAttempts: entry.failures,
          retryInMs: Math.round(entry.nextReadAt - t),
          serving: serving ? 'last good value' : 'nothing (callers get SECRET_UNAVAILABLE)',
          staleSeconds: entry.answer ? Math.max(0, Math.round((t - entry.answeredAt - ttlMs) / 1000)) : undefined,
          maxStaleSeconds: maxStaleMs / 1000,
        };
        if (serving) log().warn('secret read failed; serving the last value read', fields);
        else log().error('secret read failed; no value to serve', fields);
      },
    );
  }

  function answer(name: string, entry: Entry): string {
    const t = now();
    // Current (the last read succeeded), or stale within the bound.
    const usable = entry.answer !== undefined && (entry.failures === 0 || t <= entry.answeredAt + ttlMs + maxStaleMs);
    if (usable) {
      const a = entry.answer!;
      if ('value' in a) return a.value;
      throw new SecretUnavailableError(`SSM parameter ${name} is not set`, { retryable: false, retryAfterSeconds: absentRetryMs / 1000 });
    }
    const retryAfterSeconds = Math.max(1, (entry.nextReadAt - t) / 1000);
    const why = entry.answer ? `has not been readable for longer than ${maxStaleMs / 1000} s past its refresh` : 'could not be read';
    throw new SecretUnavailableError(`SSM parameter ${name} ${why} (${entry.lastError ?? 'error'})`, { retryable: true, retryAfterSeconds });
  }

  return {
    async get(name) {
      let entry = entries.get(name);
      if (!entry) {
        entry = { answeredAt: 0, nextReadAt: 0, failures: 0 };
        entries.set(name, entry);
      }
      if (now() >= entry.nextReadAt) {
        // One read per parameter at a time: concurrent callers wait for the same one.
        entry.inflight ??= refresh(name, entry).finally(() => {
          entry!.inflight = undefined;
        });
      }
      if (entry.inflight) await entry.inflight;
      return answer(name, entry);
    },
  };
}
