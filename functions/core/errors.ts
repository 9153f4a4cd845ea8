/**
 * Errors with a stable `code` that tests, logs and HTTP answers use (jose-style).
 * `field` names the input at fault (`channel`, `messages[2].data`, `namespaces.chat.publishAuthModes`)
 * and `limit` the bound that was crossed, so a 400 tells the caller exactly what to change.
 */
export class EventsockError extends Error {
  readonly code: string;
  readonly field?: string;
  readonly limit?: number | string;
  constructor(code: string, message: string, opts: { field?: string; limit?: number | string } = {}) {
    super(message);
    this.name = 'EventsockError';
    this.code = code;
    this.field = opts.field;
    this.limit = opts.limit;
  }
  toJSON(): { code: string; message: string; field?: string; limit?: number | string } {
    return { code: this.code, message: this.message, field: this.field, limit: this.limit };
  }
}

/** An invalid channel path or pattern. */
export class ChannelError extends EventsockError {
  constructor(message: string, field = 'channel', limit?: number | string) {
    super('INVALID_CHANNEL', message, { field, limit });
    this.name = 'ChannelError';
  }
}

/** An invalid project configuration; `field` is the dotted path inside the config. */
export class ConfigError extends EventsockError {
  constructor(field: string, message: string) {
    super('INVALID_CONFIG', `config.${field}: ${message}`, { field });
    this.name = 'ConfigError';
  }
}
