/**
 * Lookups keyed by what a caller sends (namespace names, channel segments, event
 * names, header and parameter names) read own properties only. `record[name]`
 * on a plain object also finds what every object inherits, so a namespace called
 * `constructor`, `toString` or `valueOf` would be "configured" (the Object
 * function), and an assignment to `__proto__` would replace the prototype instead
 * of adding a key. Use `own()` to read and `ownRecord()` for maps built from
 * caller input; both work in the browser (no Node built-ins).
 */
const hasOwn = Object.prototype.hasOwnProperty;

/** `record[key]` when `key` is the record's own property; undefined otherwise (never an inherited member). */
export function own<T>(record: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
  if (record === null || record === undefined) return undefined;
  return hasOwn.call(record, key) ? record[key] : undefined;
}

/** Whether `key` is the record's own property. */
export function hasOwnKey(record: object | null | undefined, key: string): boolean {
  return record !== null && record !== undefined && hasOwn.call(record, key);
}

/** An empty record without a prototype, for maps filled from caller input (`__proto__` is then an ordinary key). */
export function ownRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
