/**
 * The service's error vocabulary. `errorType` strings are what AppSync Events puts
 * in `errors[].errorType` (WebSocket) and `x-amzn-ErrorType` (HTTP); clients switch
 * on them, so they are spelled exactly as the service spells them.
 *
 * Which refusal carries which type, from sources tested against AWS (mirrors read with
 * `git show`; "unconfirmed" ones are listed in README.md "Unconfirmed"):
 * - More than 5 events: over the WebSocket `publish_error` InvalidInputError
 *   "input exceeded 5 event limit" (aws-amplify/amplify-android
 *   appsync/aws-sdk-appsync-events/src/androidTest/.../EventsWebSocketClientTests.kt:166,
 *   an integration test run against AWS); over HTTP BadRequestException
 *   "Input exceeded 5 event limit" (EventsRestClientTests.kt:144; the SDK reads the error
 *   from any non-2xx answer, EventsRestClient.kt:121-129, so 400 is unconfirmed).
 * - Other invalid `events` over the WebSocket: InvalidInputError, from the SDK's own
 *   description ("too many events or invalid request over websocket",
 *   .../data/EventsException.kt:137); unconfirmed by a test.
 * - Unknown namespace, publish (WebSocket and HTTP): UnauthorizedException with no
 *   message: the tests expect the SDK's fallback text ("Failed to publish event(s)",
 *   EventsWebSocketClientTests.kt:182; "Failed to post event(s)", EventsRestClientTests.kt:160),
 *   which it only uses when the error has none (.../data/EventsError.kt:31). Subscribe:
 *   the same is assumed (aws-amplify/aws-appsync-events-swift
 *   Tests/IntegrationTestApp/IntegrationTestAppTests/EventsWebSocketSubscribeTests.swift
 *   testUndefinedNamespacePublishFailure only checks for a service error): unconfirmed.
 *   `ResourceNotFound` ("Namespace not found", EventsError.kt:37) is mapped by the SDK but
 *   no test shows the service sending it: the emulator never does.
 * - `util.unauthorized()` in onSubscribe: `subscribe_error` with errorType `Unauthorized`
 *   (aws-amplify/amplify-js issue #14947, fixed by PR #14951 in
 *   packages/api-graphql/src/Providers/AWSWebSocketProvider/index.ts, whose AUTH_ERROR_TYPES
 *   at :706-710 list it). onPublish and HTTP: the same type is assumed, unconfirmed.
 * - Refused credentials: UnauthorizedException, "You are not authorized to make this call."
 *   (EventsWebSocketClientTests.kt:147, EventsRestClientTests.kt:125); connection_error
 *   also carries errorCode 401 (auvred/aws-appsync-events tests/e2e.test.ts:30).
 * - MaxSubscriptionsReachedError and LimitExceededError (rate limit): mapped by the SDK
 *   (EventsError.kt:35-36); which frame carries them is unconfirmed (the emulator answers
 *   subscribe_error; it models no rate limit, so never sends LimitExceededError).
 * - An event over 240 KB: `failed[]` code EventTooLargeException, "Transformed event is
 *   larger than 240KB" (auvred/aws-appsync-events tests/e2e.test.ts:118-135, HTTP, a
 *   namespace without handler). One a handler makes larger is dropped silently (see publish.ts).
 */
import { EventsockError } from '../../functions/core/errors';
import type { ServiceError } from './types';

export const ERROR_TYPES = {
  unauthorized: 'UnauthorizedException',
  /** A namespace handler's util.unauthorized(). */
  handlerUnauthorized: 'Unauthorized',
  badRequest: 'BadRequestException',
  /** Invalid publish input over the WebSocket (over HTTP the same is BadRequestException). */
  invalidInput: 'InvalidInputError',
  maxSubscriptions: 'MaxSubscriptionsReachedError',
  /** Rate limit (mapped by the SDKs; the emulator models no rate limit and never sends it). */
  limitExceeded: 'LimitExceededError',
  /** "Namespace not found" in the SDKs; never observed, never sent by the emulator. */
  resourceNotFound: 'ResourceNotFound',
  unknownOperation: 'UnknownOperationError',
  unsupportedOperation: 'UnsupportedOperation',
  eventTooLarge: 'EventTooLargeException',
  handlerError: 'HandlerError',
  internal: 'InternalFailureException',
} as const;

/** A refusal that becomes one `errors[]` entry (and an HTTP status). */
export class EventApiError extends EventsockError {
  readonly errorType: string;
  readonly status: number;
  /** False when the service sends this refusal without a message: `message` then only goes to the log. */
  readonly wireMessage: boolean;
  constructor(errorType: string, message: string, opts: { status?: number; field?: string; limit?: number | string; wireMessage?: boolean } = {}) {
    super(`EVENT_API_${errorType}`, message, { field: opts.field, limit: opts.limit });
    this.name = 'EventApiError';
    this.errorType = errorType;
    this.status = opts.status ?? statusFor(errorType);
    this.wireMessage = opts.wireMessage ?? true;
  }
  toServiceError(): ServiceError {
    return {
      errorType: this.errorType,
      ...(this.wireMessage ? { message: this.message } : {}),
      ...(this.errorType === ERROR_TYPES.unauthorized && this.wireMessage ? { errorCode: 401 } : {}),
    };
  }
}

function statusFor(errorType: string): number {
  switch (errorType) {
    case ERROR_TYPES.unauthorized:
    case ERROR_TYPES.handlerUnauthorized:
      return 401;
    case ERROR_TYPES.resourceNotFound:
      return 404;
    case ERROR_TYPES.limitExceeded:
      return 429;
    case ERROR_TYPES.internal:
      return 500;
    default:
      return 400;
  }
}

/**
 * What AppSync Events says when it refuses a connection (errorType UnauthorizedException,
 * errorCode 401); asserted by auvred/aws-appsync-events' end-to-end test against AWS
 * (tests/e2e.test.ts, "invalid api key").
 */
export const SERVICE_UNAUTHORIZED_MESSAGE = 'You are not authorized to make this call.';

export const unauthorized = (message = SERVICE_UNAUTHORIZED_MESSAGE) => new EventApiError(ERROR_TYPES.unauthorized, message);
export const badRequest = (message: string, field?: string, limit?: number) => new EventApiError(ERROR_TYPES.badRequest, message, { field, limit });

/** Publish to or subscribe on a namespace the API does not have: UnauthorizedException with no message (see above). */
export const unknownNamespace = (namespace: string) => new EventApiError(ERROR_TYPES.unauthorized, `Namespace ${namespace} does not exist.`, { wireMessage: false });

/** The service's words for more than 5 events: BadRequestException over HTTP, InvalidInputError over the WebSocket (see above). */
export const tooManyEvents = (limit: number) => new EventApiError(ERROR_TYPES.badRequest, `Input exceeded ${limit} event limit`, { field: 'events', limit });

/**
 * The same refusal as the WebSocket reports it: invalid publish input is InvalidInputError
 * there (the service's message starts lower-case: "input exceeded 5 event limit").
 */
export function overWebSocket(e: EventApiError): EventApiError {
  if (e.errorType !== ERROR_TYPES.badRequest || e.field === undefined || !e.field.startsWith('events')) return e;
  const message = e.message.startsWith('Input exceeded') ? 'i' + e.message.slice(1) : e.message;
  return new EventApiError(ERROR_TYPES.invalidInput, message, { status: e.status, field: e.field, limit: e.limit });
}

/** Any thrown value as a service error, never leaking a stack or a secret. */
export function toEventApiError(e: unknown): EventApiError {
  if (e instanceof EventApiError) return e;
  if (e instanceof EventsockError) return badRequest(e.message, e.field, typeof e.limit === 'number' ? e.limit : undefined);
  return new EventApiError(ERROR_TYPES.internal, 'internal error');
}
