/**
 * Names a caller can send that plain objects already "have" through
 * Object.prototype (issue #13, "Lookups keyed by user input"). A lookup written
 * `record[name]` or `name in record` takes them as present; every entry point must
 * treat them as the unknown names they are (or, when configured, as ordinary names).
 */
import fc from 'fast-check';
import { isValidSegment } from '../../functions/core/channels';

/** Valid channel segments (letters only), so they reach the namespace and channel lookups. */
export const BUILTIN_SEGMENTS = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString'] as const;
/** Not valid segments (underscores): refused as such, like any other malformed name. */
export const BUILTIN_OTHERS = ['__proto__', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__'] as const;
export const BUILTIN_NAMES: readonly string[] = [...BUILTIN_SEGMENTS, ...BUILTIN_OTHERS];

/** A name of the same shape that no object has: what `name` must be answered like. */
export function controlFor(name: string): string {
  return isValidSegment(name) ? 'zzunknown' : '__zzunknown__';
}

export const builtinName = fc.constantFrom(...BUILTIN_NAMES);
export const builtinSegment = fc.constantFrom(...BUILTIN_SEGMENTS);

/** `text` with the builtin name replaced by its control, to compare messages that quote the name. */
export function asControl(text: string, name: string): string {
  return text.split(name).join(controlFor(name));
}
