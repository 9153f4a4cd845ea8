/**
 * A map that holds at most `max` entries, with O(1) get, set and eviction.
 *
 * Two generations: new entries go into `young`; when it holds max/2 entries it
 * becomes `old` and the previous `old` is dropped whole. A hit in `old` is copied
 * into `young`, so entries in use survive and idle ones age out.
 *
 * Why not one Map evicting `keys().next()`: V8 leaves deleted entries as holes at
 * the front of a Map until it rehashes, so "delete the oldest" made every insert
 * walk over thousands of holes. Measured here, that cost more than the HMAC itself.
 */
export interface BoundedMap<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  delete(key: K): void;
  readonly size: number;
}

export function createBoundedMap<K, V>(max: number): BoundedMap<K, V> {
  const half = Math.max(1, Math.floor(max / 2));
  let young = new Map<K, V>();
  let old = new Map<K, V>();

  function insert(key: K, value: V): void {
    if (young.size >= half) {
      old = young;
      young = new Map();
    }
    young.set(key, value);
  }

  return {
    get(key) {
      const v = young.get(key);
      if (v !== undefined) return v;
      const o = old.get(key);
      if (o !== undefined) {
        old.delete(key);
        insert(key, o);
      }
      return o;
    },
    set(key, value) {
      if (max <= 0) return;
      if (young.has(key)) {
        young.set(key, value);
        return;
      }
      old.delete(key);
      insert(key, value);
    },
    delete(key) {
      young.delete(key);
      old.delete(key);
    },
    get size() {
      return young.size + old.size;
    },
  };
}
