/** Turns whatever a callback, the core or the platform threw into the client's error type. */
import { EventsockError } from '../functions/core/errors';
import { EventsockClientError, type ClientErrorCode } from './errors';

/** An EventsockClientError as is; a core EventsockError keeps its code, field and limit; anything else gets `fallback`. */
export function asClientError(e: unknown, fallback: ClientErrorCode): EventsockClientError {
  if (e instanceof EventsockClientError) return e;
  if (e instanceof EventsockError) return new EventsockClientError(e.code, e.message, { field: e.field, limit: e.limit });
  return new EventsockClientError(fallback, (e as Error)?.message ?? String(e));
}
