/**
 * Who receives a publish. Exact subscriptions are found by path; `/*` subscriptions
 * by each proper prefix of the published channel, so a wildcard matches at any depth
 * (core subscriptionMatches) and a publish costs O(segments), not O(subscriptions).
 */
import type { Channel } from '../../functions/core/channels';

export interface Subscriber<C> {
  /** The subscription id the client chose. */
  id: string;
  channel: Channel;
  owner: C;
  /** `{"type":"data","id":<id>,"event":` serialized once, not per delivery. */
  frameHead?: string;
}

export class SubscriptionIndex<C> {
  private readonly exact = new Map<string, Set<Subscriber<C>>>();
  private readonly below = new Map<string, Set<Subscriber<C>>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(sub: Subscriber<C>): void {
    const [map, key] = this.slot(sub.channel);
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    if (!set.has(sub)) {
      set.add(sub);
      this.count++;
    }
  }

  remove(sub: Subscriber<C>): void {
    const [map, key] = this.slot(sub.channel);
    const set = map.get(key);
    if (set?.delete(sub)) {
      this.count--;
      if (set.size === 0) map.delete(key);
    }
  }

  /** Every subscription that receives events published to this concrete channel. */
  *matching(channel: Channel): Iterable<Subscriber<C>> {
    const exact = this.exact.get(channel.path);
    if (exact) yield* exact;
    if (this.below.size === 0) return;
    let prefix = '';
    for (let i = 0; i < channel.segments.length - 1; i++) {
      prefix += '/' + channel.segments[i];
      const set = this.below.get(prefix);
      if (set) yield* set;
    }
  }

  private slot(channel: Channel): [Map<string, Set<Subscriber<C>>>, string] {
    if (!channel.wildcard) return [this.exact, channel.path];
    return [this.below, '/' + channel.segments.slice(0, -1).join('/')];
  }
}
