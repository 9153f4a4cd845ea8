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

export function createLogger(opts: { level?: LogLevel; fields?: LogFields; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const base = opts.fields ?? {};
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that keeps entries in memory (tests assert on them). */
export function memoryLogger(): Logger & { entries: Array<LogFields & { level: LogLevel; msg: string }> } {
  const entries: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const logger = createLogger({ level: 'debug', write: (line) => entries.push(JSON.parse(line)) });
  return Object.assign(logger, { entries });
}
