/**
 * Stored client publishes: `POST /publish` on the publish API with the client's own
 * JWT (functions/publish/token-publish.ts). Unlike a publish over the WebSocket, the
 * message goes through the publish function: stored with the namespace's
 * `defaultStoreSeconds` (so history catch-up finds it), ordered per channel,
 * deduplicated, and the answer carries each message's id.
 */
import { readToken, type TokenSource } from './auth';
import { EventsockClientError, PublishError, describeServerErrors } from './errors';
import { fetchText, type FetchFailure } from './fetch-text';

export interface PublishApiOptions {
  /** The publish API: its base URL (`/publish` is appended unless the path already ends with it). */
  url: string;
  /** A JWT granting `publish` on the channels; default: the connection's token when auth is a token. */
  token?: TokenSource;
  /** Give up on one request after this long (TIMEOUT; the messages may still have been published). Default: 15000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * One message's outcome: its id, or its error. A repeat of a deduplicationId answers the
 * first one's id with `duplicate: true` and `duplicateOf: { id, channel }` (the first
 * message's channel, which may be another one: nothing was delivered for this one).
 */
export type StoredPublishOutcome = { id: string; duplicate?: true; duplicateOf?: { id: string; channel: string } } | { error: { code: string; message: string } };

export function publishApiUrl(base: string): string {
  const u = new URL(base);
  if (!u.pathname.replace(/\/+$/, '').endsWith('/publish')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/publish`;
  return u.toString();
}

/**
 * Sends the messages in one batch and answers one outcome per message, in order.
 * Throws PublishError PUBLISH_REFUSED when the whole request was refused (`errors[0].errorType`
 * is the API's code, e.g. UNAUTHORIZED, EVENT_NOT_ALLOWED), TIMEOUT or CONNECTION_LOST when
 * no answer came.
 */
export async function publishStored(
  opts: PublishApiOptions & { token: TokenSource },
  channel: string,
  messages: Array<{ event: string; data: unknown; deduplicationId?: string }>,
): Promise<StoredPublishOutcome[]> {
  const f = opts.fetch ?? globalThis.fetch;
  const token = await readToken(opts.token, 'publishApi.token');
  const body = JSON.stringify({ messages: messages.map((m) => ({ channel, event: m.event, data: m.data, ...(m.deduplicationId !== undefined ? { deduplicationId: m.deduplicationId } : {}) })) });
  const init = { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' }, body };
  let res: Response;
  let text: string;
  try {
    ({ res, text } = await fetchText(f, publishApiUrl(opts.url), init, opts.timeoutMs ?? 15_000));
  } catch (e) {
    const failure = e as FetchFailure;
    throw new PublishError(failure.timedOut ? 'TIMEOUT' : 'CONNECTION_LOST', `stored publish to ${channel} failed (${failure.message}); it may still have been published`, channel);
  }
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  const b = (parsed ?? {}) as Record<string, unknown>;
  if (res.status !== 202 && res.status !== 207) {
    const { list, text: detail } = describeServerErrors(b.error ? [b.error] : b.message ? [{ message: b.message }] : []);
    throw new PublishError('PUBLISH_REFUSED', `stored publish to ${channel} answered HTTP ${res.status}: ${detail}`, channel, list);
  }
  const results = b.results;
  if (!Array.isArray(results) || results.length !== messages.length) {
    throw new EventsockClientError('INVALID_FRAME', `the publish API answered without one result per message`, { channel });
  }
  return results.map((r: Record<string, unknown>) =>
    typeof r?.id === 'string'
      ? r.duplicate === true
        ? { id: r.id, duplicate: true as const, duplicateOf: duplicateOfIn(r.duplicateOf, r.id) }
        : { id: r.id }
      : { error: { code: String((r?.error as { code?: unknown })?.code ?? 'UNKNOWN'), message: String((r?.error as { message?: unknown })?.message ?? '') } },
  );
}

/** The answer's `duplicateOf`, or (from a publish API that predates it) the first id on an unknown channel. */
function duplicateOfIn(v: unknown, id: string): { id: string; channel: string } {
  const d = (v ?? {}) as Record<string, unknown>;
  return { id: typeof d.id === 'string' ? d.id : id, channel: typeof d.channel === 'string' ? d.channel : '' };
}
