/**
 * Echo control: recognising the messages this client published itself.
 *
 * Each published event carries the client's nonce. When the namespace handler
 * copies it into the envelope, that settles it; the nonce is removed either way,
 * since it is the client's business, not the application's. When the envelope
 * carries no nonce (the deployed handlers rebuild envelopes from `event` and `data`
 * only), fall back to what this client published (channel, event, data) within a
 * minute, once per subscription: identical messages are indistinguishable anyway.
 */
import type { Envelope } from '../functions/core/envelope';
import { randomId } from './ids';

const REMEMBER_MS = 60_000;

export class EchoFilter {
  /** Per-connection (per-client) nonce sent with every published event. */
  readonly nonce = randomId(8);
  private readonly own = new Map<string, { count: number; droppedBy: Map<string, number>; expires: number }>();

  /** Deliver own messages back (true) or drop them (false). */
  constructor(readonly echo: boolean) {}

  /** Is this envelope one of ours that must not be delivered? Strips the nonce. */
  isOwnEcho(subscriptionId: string, env: Envelope): boolean {
    const e = env as Envelope & { nonce?: unknown };
    if (e.nonce !== undefined) {
      const mine = e.nonce === this.nonce;
      delete e.nonce;
      return mine && !this.echo;
    }
    if (this.echo || this.own.size === 0) return false;
    const now = Date.now();
    for (const [k, r] of this.own) if (r.expires < now) this.own.delete(k);
    const rec = this.own.get(echoKey(env.channel, env.event, env.data));
    if (!rec) return false;
    const dropped = rec.droppedBy.get(subscriptionId) ?? 0;
    if (dropped >= rec.count) return false;
    rec.droppedBy.set(subscriptionId, dropped + 1);
    return true;
  }

  /** Call before sending (echoes can beat publish_success); returns the undo for a failed publish. */
  remember(channel: string, events: Array<{ event: string; data?: unknown }>): () => void {
    if (this.echo) return () => undefined;
    const keys = events.map((e) => echoKey(channel, e.event, e.data ?? null));
    this.adjust(keys, 1);
    return () => this.adjust(keys, -1);
  }

  private adjust(keys: string[], delta: 1 | -1): void {
    for (const k of keys) {
      const rec = this.own.get(k) ?? { count: 0, droppedBy: new Map<string, number>(), expires: 0 };
      rec.count += delta;
      rec.expires = Date.now() + REMEMBER_MS;
      if (rec.count <= 0) this.own.delete(k);
      else this.own.set(k, rec);
    }
  }
}

function echoKey(channel: string, event: string, data: unknown): string {
  return `${channel}\n${event}\n${JSON.stringify(data ?? null)}`;
}
