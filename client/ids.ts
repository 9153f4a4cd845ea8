/**
 * Random ids for subscriptions, publishes and the echo nonce. getRandomValues
 * works in Node, in browsers and in insecure browser contexts (randomUUID does not).
 */
export function randomId(bytes = 16): string {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * The ids a subscription has delivered, bounded: enough to drop the overlap between
 * a history catch-up and live delivery, without growing for the life of a connection.
 */
export class SeenIds {
  private readonly set = new Set<string>();
  constructor(private readonly max = 5000) {}
  has(id: string): boolean {
    return this.set.has(id);
  }
  add(id: string): void {
    if (this.set.has(id)) return;
    this.set.add(id);
    if (this.set.size > this.max) this.set.delete(this.set.values().next().value as string);
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The smallest ULID of a millisecond: history `after` for "everything since then". */
export function ulidFloor(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + '0'.repeat(16);
}
