/**
 * Random ids for subscriptions, publishes and the echo nonce, and ULIDs for the
 * envelopes an IAM-authorized client publishes. getRandomValues
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

/**
 * A ULID generator (Crockford base32: 10 characters of millisecond time, 16 random),
 * monotonic within this generator: in the same (or an earlier) millisecond the random
 * part is incremented instead of drawn again.
 */
export function monotonicUlid(now: () => number = Date.now): () => string {
  let lastTime = -1;
  let random: number[] = [];
  return () => {
    const t = Math.max(0, Math.floor(now()));
    if (t > lastTime) {
      lastTime = t;
      const b = new Uint8Array(16);
      globalThis.crypto.getRandomValues(b);
      random = Array.from(b, (x) => x & 31);
    } else {
      let i = random.length - 1;
      while (i >= 0 && random[i] === 31) random[i--] = 0;
      if (i < 0) {
        // 2^80 ids in one millisecond: borrow the next one.
        lastTime++;
        random = random.map(() => 0);
      } else random[i]++;
    }
    return ulidFloor(lastTime).slice(0, 10) + random.map((d) => CROCKFORD[d]).join('');
  };
}
