/**
 * Reads the Eventsock history API (`GET /history?channel=&after=&limit=` with a
 * Bearer JWT granting `history`; `channel` a channel or a wildcard pattern), which
 * answers `{ items: [envelope...], next? }` in id order. The client uses it to
 * deliver what a reconnect made it miss.
 */
import { isEnvelope, type Envelope } from '../functions/core/envelope';
import { LIMITS } from '../functions/core/limits';
import { readToken, type TokenSource } from './auth';
import { EventsockClientError, describeServerErrors } from './errors';
import { fetchText, type FetchFailure } from './fetch-text';

export interface HistoryOptions {
  /** The history API: its base URL (`/history` is appended unless the path already ends with it). */
  url: string;
  /** A JWT granting `history` on the channels; default: the connection's token when auth is a token. */
  token?: TokenSource;
  /** Page size. Default: the API's maximum (100). */
  limit?: number;
  /**
   * For a channel that had delivered nothing before a drop, the catch-up starts at the
   * old connection's last keep-alive minus this margin (client and server clocks differ). Default: 2000.
   */
  clockSkewMs?: number;
  /** Stop after this many messages in one catch-up and report HISTORY_FAILED. Default: 10000. */
  maxMessages?: number;
  /** Give up on one history request after this long (HISTORY_FAILED); live messages wait meanwhile. Default: 15000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface HistoryPage {
  items: Envelope[];
  next?: string;
}

export function historyUrl(base: string): string {
  const u = new URL(base);
  if (!u.pathname.replace(/\/+$/, '').endsWith('/history')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/history`;
  return u.toString();
}

/** One page of stored messages after `after` (exclusive). */
export async function readHistoryPage(
  opts: { url: string; token: TokenSource; fetch?: typeof fetch; timeoutMs?: number },
  channel: string,
  after: string | undefined,
  limit: number,
): Promise<HistoryPage> {
  const f = opts.fetch ?? globalThis.fetch;
  const u = new URL(historyUrl(opts.url));
  u.searchParams.set('channel', channel);
  if (after) u.searchParams.set('after', after);
  u.searchParams.set('limit', String(limit));
  const token = await readToken(opts.token, 'history.token');
  // A history API that never answers must not hold a subscription's live messages forever.
  // A history API that never answers must not hold a subscription's live messages forever.
  let res: Response;
  let text: string;
  try {
    ({ res, text } = await fetchText(f, u.toString(), { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }, opts.timeoutMs ?? 15_000));
  } catch (e) {
    throw new EventsockClientError('HISTORY_FAILED', `history request for ${channel} failed (${(e as FetchFailure).message})`, { channel });
  }
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const b = (body ?? {}) as Record<string, unknown>;
    const { list, text: detail } = describeServerErrors(b.errors ?? (b.error ? [b.error] : b.message ? [{ message: b.message }] : []));
    throw new EventsockClientError('HISTORY_FAILED', `history for ${channel} answered HTTP ${res.status}: ${detail}`, { channel, errors: list });
  }
  const page = body as { items?: unknown; next?: unknown } | undefined;
  if (!page || !Array.isArray(page.items)) {
    throw new EventsockClientError('HISTORY_FAILED', `history for ${channel} answered without an items list`, { channel });
  }
  const bad = page.items.findIndex((i) => !isEnvelope(i));
  if (bad >= 0) throw new EventsockClientError('HISTORY_FAILED', `history for ${channel}: items[${bad}] is not an envelope`, { channel });
  return { items: page.items as Envelope[], next: typeof page.next === 'string' && page.next ? page.next : undefined };
}

/**
 * Every stored message after `after`, following pages, in id order. `channel` may be a
 * wildcard pattern (`/chat/*`): the API then bounds its work per request and may answer
 * a page with no items but a `next`, which is followed like any other.
 */
export async function readHistorySince(
  opts: { url: string; token: TokenSource; fetch?: typeof fetch; limit?: number; maxMessages?: number; timeoutMs?: number },
  channel: string,
  after: string | undefined,
): Promise<{ items: Envelope[]; truncated: boolean }> {
  const limit = Math.min(opts.limit ?? LIMITS.historyMaxLimit, LIMITS.historyMaxLimit);
  const max = opts.maxMessages ?? 10_000;
  const items: Envelope[] = [];
  let cursor = after;
  for (;;) {
    const page = await readHistoryPage(opts, channel, cursor, limit);
    items.push(...page.items);
    if (items.length >= max) return { items: items.slice(0, max), truncated: true };
    // A `next` that does not move forward would loop: stop there.
    if (!page.next || (cursor !== undefined && page.next <= cursor)) break;
    cursor = page.next;
  }
  items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { items, truncated: false };
}
