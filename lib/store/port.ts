/**
 * The one storage port the core is written against. Both adapters (embedded, MongoDB) implement it.
 * Filters are a deliberately small subset that both backends support; the core builds them, never
 * the user (see `lib/record/filters.ts`).
 *
 * Semantics: MongoDB's, everywhere (it is the production store); test/lib/store/semantics.test.ts checks
 * every adapter against mingo on generated data. In short:
 * - `{f: null}` matches f stored as null *and* f missing; `{f: {$ne: null}}` matches neither.
 *   `$in` containing null also matches missing. `$exists` tells stored (even as null) from missing.
 * - `$ne` and `$in` on a missing field: `{f: {$ne: 'x'}}` matches a document without f.
 * - Comparisons (`$gt`, ...) stay within the bound's type: `{f: {$lt: 'z'}}` never matches a number,
 *   null or missing. A range bound is a string, number or boolean, never null (refused).
 * - A field holding an array matches when any element matches (equality, `$in`, each comparison
 *   separately); `$ne` matches when no element equals. Indexed fields (schema.ts) hold scalars only.
 * - Dotted paths (`a.b`) reach into subdocuments (not through arrays); a path through a missing or
 *   non-object value is missing.
 * - Sort order across types: null/missing < numbers < strings < objects < arrays < booleans; strings by
 *   code point (binary). Sort fields hold scalars. Ties come in an unspecified (stable per adapter) order.
 * - Updates: `$set` (dotted paths create subdocuments; `id` only to its own value), `$unset`, `$inc`
 *   (missing counts as 0), `$min` (missing takes the value; otherwise by the sort order above).
 *   A field set to `undefined` is not stored. `updateMany`/`deleteMany` are not atomic across documents
 *   (as on MongoDB): use `atomic` for all-or-none.
 */
export type Scalar = string | number | boolean | null;

export interface Comparison {
  $gt?: Scalar;
  $gte?: Scalar;
  $lt?: Scalar;
  $lte?: Scalar;
  $ne?: Scalar;
  $in?: Scalar[];
  $exists?: boolean;
}

export type Condition = Scalar | Comparison;
export type Filter = Record<string, Condition>;

export interface FindOptions {
  sort?: Record<string, 1 | -1>;
  limit?: number;
  skip?: number;
  /** Only these top-level fields (and `id`) are returned: cheaper for wide scans. */
  fields?: string[];
}

export interface ValuesOptions {
  limit: number;
  order?: 1 | -1;
}

export interface Update {
  $set?: Record<string, unknown>;
  $unset?: Record<string, true>;
  $inc?: Record<string, number>;
  $min?: Record<string, Scalar>;
}

/** Every stored document has a string `id`; adapters map it to their own primary key. */
export interface Doc {
  id: string;
  [field: string]: unknown;
}

export interface Collection<T extends Doc = Doc> {
  /** Throws IpamError DUPLICATE (with `field` = the unique index's field) on a unique-index collision. */
  insertOne(doc: T): Promise<void>;
  /** Unordered bulk insert: returns per-document failures instead of stopping at the first. */
  insertMany(docs: T[]): Promise<{ inserted: number; failures: { index: number; error: Error }[] }>;
  findOne(filter: Filter, options?: FindOptions): Promise<T | null>;
  find(filter: Filter, options?: FindOptions): Promise<T[]>;
  count(filter: Filter): Promise<number>;
  /**
   * The values the indexed `field` (schema.ts) holds in the documents matching `filter`, in sort order (the
   * order above; `order: -1` descending), at most `limit` (1 to 10,000); missing and null both read as null. A
   * read of the index alone where the filter allows it (SQLite: a covering index; MongoDB: a covered query), so
   * a window of many keys copies no documents.
   */
  values(field: string, filter: Filter, options: ValuesOptions): Promise<Scalar[]>;
  /** Returns whether a document matched (compare-and-set when the filter names the expected state). */
  updateOne(filter: Filter, update: Update): Promise<boolean>;
  updateMany(filter: Filter, update: Update): Promise<number>;
  deleteOne(filter: Filter): Promise<boolean>;
  deleteMany(filter: Filter): Promise<number>;
}

export interface IndexSpec {
  field: string;
  unique?: boolean;
  /** Documents without the field are not indexed (so a unique index ignores them). */
  sparse?: boolean;
}

export type CollectionName = 'blocks' | 'ranges' | 'addresses' | 'requests' | 'settings' | 'locks' | 'journal' | 'history' | 'counters';

/**
 * One write of an atomic batch (`Store.atomic`). `many` turns update/delete into updateMany/deleteMany.
 * Batches are plain data, so a store without transactions can journal one and roll it forward after a crash.
 */
export type Write =
  | { op: 'insert'; collection: CollectionName; doc: Doc }
  | { op: 'update'; collection: CollectionName; filter: Filter; update: Update; many?: boolean }
  | { op: 'delete'; collection: CollectionName; filter: Filter; many?: boolean };

/**
 * A read or write as the core makes it (the call's arguments), for `Store.prepare`: only the shape counts
 * (fields, operators, the types of values, options), not the values.
 */
export type PreparedCall =
  | { collection: CollectionName; find: Filter; options?: FindOptions }
  | { collection: CollectionName; values: string; filter: Filter; options: ValuesOptions }
  | { write: Write };

export interface Store {
  readonly kind: 'embedded' | 'mongodb';
  /** Whether `atomic` is a real transaction (all or nothing even on a crash) on this store. */
  readonly transactional: boolean;
  collection<T extends Doc = Doc>(name: CollectionName): Collection<T>;
  /**
   * Applies the writes in order, all or none: any failure (a unique-index collision included) undoes the
   * writes already applied and rethrows it. Where the store has no transactions, see the adapter for how a
   * crash part-way is repaired. `ifUndone`: writes such a store applies after it undid this batch (as it
   * failed, or in its recovery pass) once some of its writes had been applied, and so seen by other
   * processes; a store with transactions never shows a batch that fails, and leaves them out. `settle`: writes
   * each harmless on its own (an allocation hint lowered), applied after all of `writes` and before the batch
   * commits, and never undone: with transactions part of the transaction; without, written unjournaled, so a
   * failure or crash before the commit undoes the batch and leaves them.
   */
  atomic(writes: Write[], ifUndone?: Write[], settle?: Write[]): Promise<void>;
  /**
   * Milliseconds since the epoch by the store's clock (MongoDB: the server's), so leases and journals shared
   * by several processes compare times on one clock.
   */
  now(): Promise<number>;
  /**
   * Readies these calls so that their first run costs what later runs do, where the adapter has set-up per
   * query; runs nothing. The embedded store prepares each one's SQL statement on its connection (30–250 µs
   * each, paid once per connection); MongoDB has nothing to ready and leaves it out.
   */
  prepare?(calls: PreparedCall[]): void;
  close(): Promise<void>;
}
