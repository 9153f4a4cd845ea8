/**
 * Client errors: one class per place a failure comes from, each with a stable
 * `code` (what programs branch on) and, when the server answered, the server's
 * `errorType` / `errorCode` and its full `errors` list. Messages never carry a
 * token, a key or a signature.
 */
import { EventsockError } from '../functions/core/errors';

/** One entry of a server `errors` list (subscribe_error, publish_error, connection_error, HTTP 4xx). */
export interface ServerError {
  errorType?: string;
  message?: string;
  errorCode?: number;
}

export type ClientErrorCode =
  /** The server refused the connection (connection_error). */
  | 'CONNECTION_REFUSED'
  /** The socket closed or failed before the operation was answered. */
  | 'CONNECTION_LOST'
  /** No `ka` or `data` within connectionTimeoutMs: the connection is presumed dead. */
  | 'KEEPALIVE_LOST'
  /** No answer (ack, subscribe_success, publish_success) within the configured time. */
  | 'TIMEOUT'
  /** subscribe_error. */
  | 'SUBSCRIBE_REFUSED'
  /** publish_error, or an HTTP publish answered with an error. */
  | 'PUBLISH_REFUSED'
  /** The history API could not be read during a catch-up. */
  | 'HISTORY_FAILED'
  /** A presence join, heartbeat, leave or member list failed (`errors[0].errorType` is the API's code, e.g. TOKEN_REVOKED). */
  | 'PRESENCE_FAILED'
  /** A frame or event the client cannot use (not JSON, not an envelope). */
  | 'INVALID_FRAME'
  /** The endpoint string is not something the client can connect to. */
  | 'INVALID_ENDPOINT'
  /** The auth option is malformed, or the credentials/token provider failed. */
  | 'INVALID_AUTH'
  /** close() was called. */
  | 'CLIENT_CLOSED'
  /** Bad arguments: too many events, too many subscriptions, an event over the size limit. */
  | 'INVALID_ARGUMENT'
  /** A subscription handler threw (reported, delivery to others continues). */
  | 'HANDLER_FAILED';

/**
 * What the server's `errorType` means, one stable name per kind of refusal, so programs
 * need not know the service's spellings (the same mapping as the official Kotlin SDK,
 * aws-amplify/amplify-android appsync/aws-sdk-appsync-events/.../data/EventsError.kt:32-41;
 * which refusal carries which type: local/event-api/errors.ts and docs/errors.md).
 */
export type ServiceErrorKind =
  /** UnauthorizedException: credentials refused, an auth mode the namespace does not take, or an unknown namespace. */
  | 'UNAUTHORIZED'
  /** Unauthorized: a namespace handler's util.unauthorized() refused this subscription or publish. */
  | 'HANDLER_UNAUTHORIZED'
  /** ResourceNotFound: the namespace does not exist (mapped by the SDKs; AppSync has been seen answering UnauthorizedException instead). */
  | 'NAMESPACE_NOT_FOUND'
  /** InvalidInputError (WebSocket) or BadRequestException (HTTP): too many events, a bad channel or frame. */
  | 'INVALID_INPUT'
  /** MaxSubscriptionsReachedError: the connection holds the most subscriptions it may. */
  | 'MAX_SUBSCRIPTIONS'
  /** LimitExceededError: rate limited; retry later. */
  | 'RATE_LIMITED'
  /** UnsupportedOperation: a frame type the realtime endpoint does not take. */
  | 'UNSUPPORTED_OPERATION'
  /** EventTooLargeException: an event over 240 KB. */
  | 'EVENT_TOO_LARGE'
  /** InternalFailureException: a service fault; retry. */
  | 'SERVICE_FAULT';

const KINDS = new Map<string, ServiceErrorKind>([
  ['UnauthorizedException', 'UNAUTHORIZED'],
  ['Unauthorized', 'HANDLER_UNAUTHORIZED'],
  ['ResourceNotFound', 'NAMESPACE_NOT_FOUND'],
  ['InvalidInputError', 'INVALID_INPUT'],
  ['BadRequestException', 'INVALID_INPUT'],
  ['MaxSubscriptionsReachedError', 'MAX_SUBSCRIPTIONS'],
  ['LimitExceededError', 'RATE_LIMITED'],
  ['UnsupportedOperation', 'UNSUPPORTED_OPERATION'],
  ['EventTooLargeException', 'EVENT_TOO_LARGE'],
  ['InternalFailureException', 'SERVICE_FAULT'],
]);

/** The kind of a server errorType, or undefined for one the service is not known to send. */
export function serviceErrorKind(errorType: string | undefined): ServiceErrorKind | undefined {
  return errorType === undefined ? undefined : KINDS.get(errorType);
}

/** Kinds worth retrying as they are (after a pause); the others need a change first. */
export const RETRYABLE_KINDS: readonly ServiceErrorKind[] = ['RATE_LIMITED', 'SERVICE_FAULT'];

export class EventsockClientError extends EventsockError {
  declare readonly code: ClientErrorCode | string;
  /** The server's error type, e.g. `UnauthorizedException`, when it sent one. */
  readonly errorType?: string;
  /** The server's numeric error code (e.g. 401), when it sent one. */
  readonly errorCode?: number;
  /** Everything the server sent in `errors`. */
  readonly errors: ServerError[];
  /** The channel concerned, for subscribe/publish/history errors. */
  readonly channel?: string;
  /** What the server's errorType means (`serviceErrorKind`), when it sent one the service is known to send. */
  readonly kind?: ServiceErrorKind;

  constructor(
    code: ClientErrorCode | string,
    message: string,
    opts: { errors?: ServerError[]; channel?: string; field?: string; limit?: number | string } = {},
  ) {
    super(code, message, { field: opts.field, limit: opts.limit });
    this.name = 'EventsockClientError';
    this.errors = opts.errors ?? [];
    this.errorType = this.errors[0]?.errorType;
    this.errorCode = this.errors[0]?.errorCode;
    this.kind = serviceErrorKind(this.errorType);
    this.channel = opts.channel;
  }
}

export class ConnectionError extends EventsockClientError {
  constructor(code: ClientErrorCode, message: string, errors?: ServerError[]) {
    super(code, message, { errors });
    this.name = 'ConnectionError';
  }
}

export class SubscribeError extends EventsockClientError {
  constructor(code: ClientErrorCode, message: string, channel: string, errors?: ServerError[]) {
    super(code, message, { channel, errors });
    this.name = 'SubscribeError';
  }
}

export class PublishError extends EventsockClientError {
  constructor(code: ClientErrorCode, message: string, channel: string, errors?: ServerError[]) {
    super(code, message, { channel, errors });
    this.name = 'PublishError';
  }
}

/** Turns a server `errors` list into one readable line ("UnauthorizedException: ..."). */
export function describeServerErrors(errors: unknown): { list: ServerError[]; text: string } {
  const list: ServerError[] = Array.isArray(errors)
    ? errors
        .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
        .map((e) => ({
          // AppSync says errorType; Eventsock's HTTP APIs say `{ error: { code, message } }`.
          errorType: typeof e.errorType === 'string' ? e.errorType : typeof e.code === 'string' ? e.code : undefined,
          message: typeof e.message === 'string' ? e.message : undefined,
          errorCode: typeof e.errorCode === 'number' ? e.errorCode : undefined,
        }))
    : [];
  const text = list.length
    ? list.map((e) => [e.errorType, e.message].filter(Boolean).join(': ') || 'unknown error').join('; ')
    : 'no error details from the server';
  return { list, text };
}
