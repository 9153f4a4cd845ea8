/**
 * Structured JSON logs, one line per entry (CloudWatch and the emulator print the
 * same). Callers pass plain fields; never pass a token, a key or a secret: log a
 * reason code and the token's jti/sub instead.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields (e.g. requestId) to every entry. */
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const REDACTIONS: Array<[RegExp, string]> = [
  // AWS signature-mismatch messages quote the canonical request (signed header values,
  // the session token among them) and the string to sign: everything from there on goes.
  [/(The Canonical String for this request should have been|The String-to-Sign should have been)[\s\S]*/g, '$1 [redacted]'],
  [/(x-amz-security-token\s*[:=]\s*)[^\s"'&,;]+/gi, '$1[redacted]'],
  [/(Signature=)[0-9a-f]{16,}/gi, '$1[redacted]'],
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  [/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted jwt]'],
];

/**
 * Strips what must never be written down from text that came from elsewhere (an AWS
 * error message, a refusal from the Event API): bearer credentials, JWTs, SigV4
 * signatures, session tokens, quoted canonical requests. A safety net under the rule
 * that callers never pass secrets; every string a log entry carries goes through it.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, by] of REDACTIONS) out = out.replace(re, by);
  return out;
}

const redactingReplacer = (_key: string, value: unknown) => (typeof value === 'string' ? redactSecrets(value) : value);

export function createLogger(opts: { level?: LogLevel; fields?: LogFields; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const base = opts.fields ?? {};
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...base, ...fields }, redactingReplacer));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/**
 * The logger of a Lambda entry point: level from EVENTSOCK_LOG_LEVEL (debug, info,
 * warn, error; anything else is info), every entry tagged with the function's name.
 */
export function functionLogger(fn: string, env: Record<string, string | undefined> = process.env): Logger {
  const raw = env.EVENTSOCK_LOG_LEVEL?.toLowerCase();
  const level: LogLevel = raw !== undefined && raw in ORDER ? (raw as LogLevel) : 'info';
  return createLogger({ level, fields: { fn } });
}

/** A logger that keeps entries in memory (tests assert on them). */
export function memoryLogger(): Logger & { entries: Array<LogFields & { level: LogLevel; msg: string }> } {
  const entries: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const logger = createLogger({ level: 'debug', write: (line) => entries.push(JSON.parse(line)) });
  return Object.assign(logger, { entries });
}
