/**
 * Lookups of user-supplied names. A name such as `constructor`, `toString` or `__proto__` must never
 * find a member of `Object.prototype`, and assigning one must never change an object's prototype:
 * every table keyed by user input is read with these, or is a Map.
 */

/** The value stored under `key` itself in `table`, never an inherited member; undefined otherwise. */
export function ownValue<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Follows a dotted path (`dns.forwardZone`) through own properties only. */
export function ownPath(source: unknown, dotted: string): unknown {
  let value = source;
  for (const part of dotted.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * An empty object without a prototype: any user-supplied key, `__proto__` included, becomes an own field.
 * Made from `{}` rather than `Object.create(null)`, which V8 makes a dictionary-mode object: copying one with
 * `{...spread}` took 4 µs against 0.06 µs for this, and every record's input goes through one (checkInput).
 */
export function bareObject<T = unknown>(): Record<string, T> {
  return Object.setPrototypeOf({}, null) as Record<string, T>;
}

/** `table[key] = value` as an own field, also for `__proto__` (whose assignment would set the prototype). */
export function setOwn<T>(table: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
  else table[key] = value;
}

/**
 * `{...base, ...extra}` (own enumerable fields, in the same order), copied field by field with `setOwn`. On
 * Node 20 (V8 11.3) an object that starts as a spread and then gains fields it did not have (`{...a, b: 1}`,
 * `{...a, ...b}`) takes a slow path: 1–4 µs per object against 0.2 µs here, and code reading such objects
 * slows too (an allocation took 10–20% longer with four of them on its path; docs/performance.md). Node 22
 * is fast either way. For hot paths; elsewhere the spread reads better.
 */
export function merged<A extends object, B extends object>(base: A, extra: B): Merged<A, B> {
  const out: Record<string, unknown> = {};
  for (const key in base) if (Object.hasOwn(base, key)) setOwn(out, key, base[key]);
  for (const key in extra) if (Object.hasOwn(extra, key)) setOwn(out, key, extra[key]);
  return out as Merged<A, B>;
}

/**
 * The type of `{...A, ...B}` (for each member of a union A) when B sets every field it declares, as merged's
 * callers' literals do: an optional field of B left out keeps A's value, which this type does not say.
 */
type Merged<A, B> = A extends unknown ? Omit<A, keyof B> & B : never;
