/**
 * The ids of this client's own socket publishes. The service's publish answer names
 * only its own event identifiers, not the envelope ids the namespace's data source
 * gave (functions/socket-publish): so each published event that one of this client's
 * subscriptions will receive carries a fresh nonce (client/echo.ts's marker, which the
 * pipeline copies to the envelope), and the id is read off the envelope that comes back
 * with it. Without a subscription receiving the channel there is nothing to read it
 * from, and the result has no `id`.
 *
 * A repeated `deduplicationId` is answered by the pipeline as a failed event whose
 * message names the first message's id (`DUPLICATE: ... published as <id>`); that is
 * turned back into a success with `duplicate: true`.
 */
import { MESSAGE_ID_RE } from '../functions/core/message';
import { randomId } from './ids';

interface Waiting {
  id?: string;
  done?: (id: string) => void;
}

const DUPLICATE_RE = /^DUPLICATE: .*published as ([0-7][0-9A-HJKMNP-TV-Z]{25})/;

/** The first message's id when a failed event's message is the pipeline's DUPLICATE answer. */
export function duplicateOf(message: unknown): string | undefined {
  if (typeof message !== 'string') return undefined;
  const m = DUPLICATE_RE.exec(message);
  return m && MESSAGE_ID_RE.test(m[1]) ? m[1] : undefined;
}

export class OwnIds {
  private readonly waiting = new Map<string, Waiting>();

  /** A nonce for an event about to be published (or the echo filter's, when it made one). */
  track(nonce: string | undefined): string {
    const n = nonce ?? randomId(12);
    this.waiting.set(n, {});
    return n;
  }

  /** Call with every envelope before its nonce is stripped. */
  observe(env: { id: string; nonce?: unknown }): void {
    if (typeof env.nonce !== 'string') return;
    const w = this.waiting.get(env.nonce);
    if (!w || w.id !== undefined) return;
    w.id = env.id;
    w.done?.(env.id);
  }

  /** The id each nonce came back with, waiting at most `waitMs` for those not back yet; forgets them all. */
  async take(nonces: Array<string | undefined>, waitMs: number): Promise<Array<string | undefined>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((r) => (timer = setTimeout(r, waitMs)));
    try {
      return await Promise.all(
        nonces.map(async (n) => {
          if (n === undefined) return undefined;
          const w = this.waiting.get(n);
          if (!w) return undefined;
          if (w.id !== undefined) return w.id;
          const got = new Promise<string>((r) => (w.done = r));
          return Promise.race([got, deadline.then(() => undefined)]);
        }),
      );
    } finally {
      clearTimeout(timer);
      this.forget(nonces);
    }
  }

  forget(nonces: Iterable<string | undefined>): void {
    for (const n of nonces) if (n !== undefined) this.waiting.delete(n);
  }
}
