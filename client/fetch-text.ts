/**
 * One HTTP request with a time limit, answered with its body text: what the history
 * and publish API calls share. Browser-safe (global fetch and AbortController only).
 */

/** The request failed before a body arrived: no answer in time, or a network error. */
export class FetchFailure extends Error {
  constructor(
    readonly timedOut: boolean,
    message: string,
  ) {
    super(message);
  }
}

export async function fetchText(f: typeof fetch, url: string, init: RequestInit, timeoutMs: number): Promise<{ res: Response; text: string }> {
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  try {
    const res = await f(url, { ...init, signal: abort.signal });
    return { res, text: await res.text() };
  } catch (e) {
    throw new FetchFailure(timedOut, timedOut ? `no answer within ${timeoutMs} ms` : ((e as Error)?.message ?? String(e)));
  } finally {
    clearTimeout(timer);
  }
}
