/**
 * The service's error vocabulary. `errorType` strings are what AppSync Events puts
 * in `errors[].errorType` (WebSocket) and `x-amzn-ErrorType` (HTTP); clients switch
 * on them, so they are spelled exactly as the service spells them.
 */
import { EventsockError } from '../../functions/core/errors';
import type { ServiceError } from './types';

export const ERROR_TYPES = {
  unauthorized: 'UnauthorizedException',
  badRequest: 'BadRequestException',
  maxSubscriptions: 'MaxSubscriptionsReachedError',
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
  constructor(errorType: string, message: string, opts: { status?: number; field?: string; limit?: number | string } = {}) {
    super(`EVENT_API_${errorType}`, message, { field: opts.field, limit: opts.limit });
    this.name = 'EventApiError';
    this.errorType = errorType;
    this.status = opts.status ?? statusFor(errorType);
  }
  toServiceError(): ServiceError {
    return { errorType: this.errorType, message: this.message, ...(this.errorType === ERROR_TYPES.unauthorized ? { errorCode: 401 } : {}) };
  }
}

function statusFor(errorType: string): number {
  switch (errorType) {
    case ERROR_TYPES.unauthorized:
      return 401;
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

/** Any thrown value as a service error, never leaking a stack or a secret. */
export function toEventApiError(e: unknown): EventApiError {
  if (e instanceof EventApiError) return e;
  if (e instanceof EventsockError) return badRequest(e.message, e.field, typeof e.limit === 'number' ? e.limit : undefined);
  return new EventApiError(ERROR_TYPES.internal, 'internal error');
}
