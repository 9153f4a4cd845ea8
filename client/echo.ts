/**
 * Echo control: recognising the messages this client published itself.
 *
 * With echo off, every published event that a subscription of this client will
 * receive carries a fresh random `nonce` (12 random bytes, hex). The namespace handler copies it to the envelope's top level
 * (functions/namespace/handlers.js), and this filter drops an envelope whose nonce
 * it handed out, once per subscription, then forgets the nonce: when every
 * subscription that matched the channel at publish time has dropped its copy, or
 * after REMEMBER_MS at the latest.
 *
 * Why per message and not one nonce per connection: every subscriber of the
 * channel sees the nonce. With a per-connection nonce anyone could publish
 * messages carrying it and this client would silently drop them all. A per-message
 * nonce is consumed by the echo it marks, so copying a nonce that was already
 * seen achieves nothing (the copy is delivered like any other message). The only
 * window left is a copy overtaking the original on its way to this client, and
 * even then the copy must have the same channel and event name to be dropped
 * (the original is then delivered instead: nothing is lost that was not the
 * client's own).
 *
 * There is no fallback by content (channel, event, data): it cannot tell this
 * client's message from an identical one published by someone else (the same user
 * on another device, say) and dropped those. An envelope without a nonce is
 * always delivered, so against a namespace handler that does not keep the nonce
 * (a stack deployed before it did) echo off delivers the client's own messages
 * rather than losing anybody else's. IAM publishes over the socket pass through
 * the handler unchanged, nonce included, so they need no fallback either.
 *
 * The nonce is removed from every envelope before delivery: it is the client's
 * business, not the application's.
 */
import type { Envelope } from '../functions/core/envelope';
import { randomId } from './ids';

/** How long a nonce waits for its echo. */
export const REMEMBER_MS = 60_000;

interface Sent {
  channel: string;
  event: string;
  /** Subscriptions that matched the channel when it was published and have not dropped it yet. */
  waiting: Set<string>;
  /** Subscriptions that dropped it: a second copy on one of them is not an echo. */
  dropped: Set<string>;
  expires: number;
}

export class EchoFilter {
  private readonly sent = new Map<string, Sent>();

  /** Deliver own messages back (true) or drop them (false). */
  constructor(readonly echo: boolean) {}

  /**
   * A fresh nonce for one event about to be published, or undefined when nothing needs
   * marking: echo on, or no subscription of this client receives the channel.
   * `subscriptions`: this client's subscriptions (also those still being set up) that
   * match the channel now. Call before sending: an echo can beat publish_success.
   */
  mark(channel: string, event: string, subscriptions: Iterable<string>): string | undefined {
    if (this.echo) return undefined;
    const waiting = new Set(subscriptions);
    if (waiting.size === 0) return undefined;
    const now = Date.now();
    this.prune(now);
    const nonce = randomId(12);
    this.sent.set(nonce, { channel, event, waiting, dropped: new Set(), expires: now + REMEMBER_MS });
    return nonce;
  }

  /** The publish of these nonces failed: no echo will come. */
  forget(nonces: Iterable<string | undefined>): void {
    for (const n of nonces) if (n !== undefined) this.sent.delete(n);
  }

  /** Is this envelope one of ours that this subscription must not deliver? Strips the nonce either way. */
  isOwnEcho(subscriptionId: string, env: Envelope): boolean {
    const e = env as Envelope & { nonce?: unknown };
    if (e.nonce === undefined) return false;
    const nonce = e.nonce;
    delete e.nonce;
    if (typeof nonce !== 'string' || this.sent.size === 0) return false;
    const now = Date.now();
    this.prune(now);
    const s = this.sent.get(nonce);
    if (!s || s.channel !== env.channel || s.event !== env.event || s.dropped.has(subscriptionId)) return false;
    s.dropped.add(subscriptionId);
    s.waiting.delete(subscriptionId);
    if (s.waiting.size === 0) this.sent.delete(nonce);
    return true;
  }

  /** Nonces still waiting for an echo (for tests and leak checks). */
  get size(): number {
    return this.sent.size;
  }

  private prune(now: number): void {
    // Insertion order is expiry order: stop at the first live one.
    for (const [k, s] of this.sent) {
      if (s.expires > now) break;
      this.sent.delete(k);
    }
  }
}
