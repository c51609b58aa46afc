/**
 * The one storage port the core is written against. Both adapters (embedded, MongoDB) implement it.
 * Filters are a deliberately small subset that both backends support; the core builds them, never
 * the user (see `lib/filters.ts`).
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

export type CollectionName = 'blocks' | 'ranges' | 'addresses' | 'requests' | 'settings' | 'locks' | 'journal';

/**
 * One write of an atomic batch (`Store.atomic`). `many` turns update/delete into updateMany/deleteMany.
 * Batches are plain data, so a store without transactions can journal one and roll it forward after a crash.
 */
export type Write =
  | { op: 'insert'; collection: CollectionName; doc: Doc }
  | { op: 'update'; collection: CollectionName; filter: Filter; update: Update; many?: boolean }
  | { op: 'delete'; collection: CollectionName; filter: Filter; many?: boolean };

export interface Store {
  readonly kind: 'embedded' | 'mongodb';
  /** Whether `atomic` is a real transaction (all or nothing even on a crash) on this store. */
  readonly transactional: boolean;
  collection<T extends Doc = Doc>(name: CollectionName): Collection<T>;
  /**
   * Applies the writes in order, all or none: any failure (a unique-index collision included) undoes the
   * writes already applied and rethrows it. Where the store has no transactions, see the adapter for how a
   * crash part-way is repaired.
   */
  atomic(writes: Write[]): Promise<void>;
  /**
   * Milliseconds since the epoch by the store's clock (MongoDB: the server's), so leases and journals shared
   * by several processes compare times on one clock.
   */
  now(): Promise<number>;
  close(): Promise<void>;
}
