import type { CollectionName, IndexSpec } from './port';

/**
 * Indexes of every collection, created by each adapter when it opens.
 * Keys are `<addressSpace>|<family>|<fixed-width hex>` strings, so one single-field index
 * serves equality, uniqueness and ordered interval queries on every backend.
 */
export const INDEXES: Record<CollectionName, IndexSpec[]> = {
  blocks: [{ field: 'key', unique: true }, { field: 'startKey' }, { field: 'spanKey' }, { field: 'parentId' }],
  ranges: [{ field: 'key', unique: true }, { field: 'startKey' }, { field: 'spanKey' }, { field: 'blockId' }],
  // `key` is the only unique index, so addresses can be sharded on {key: 1} (docs/scaling.md).
  addresses: [
    { field: 'key', unique: true },
    { field: 'rangeId' },
    { field: 'blockId' },
    { field: 'expiryDate', sparse: true },
    // Held addresses only (lib/allocation/holds.ts): expired holds are found without a scan.
    { field: 'holdUntil', sparse: true },
  ],
  /** requestId idempotency (lib/space/requests.ts): `id` is the request key, unique as the primary key. */
  requests: [],
  /** lib/space/counters.ts: `id` is the range's or block's id. */
  counters: [],
  settings: [{ field: 'name', unique: true }],
  locks: [{ field: 'name', unique: true }],
  journal: [{ field: 'name', unique: true }],
  /** lib/record/history.ts: `order` (`at|sequence|id`) sorts and pages; a record's entries by id or by address/network. */
  history: [{ field: 'order' }, { field: 'recordId' }, { field: 'key' }, { field: 'requestKey', sparse: true }, { field: 'unreported', sparse: true }],
};

export const COLLECTIONS = Object.keys(INDEXES) as CollectionName[];

/** The most values one `values` call reads (in one synchronous call on the embedded store: about 3 ms). */
export const MAX_VALUES = 10_000;

/** The port's `values`: an indexed field and a whole number of values from 1 to MAX_VALUES, or the error (a programming one). */
export function checkValuesRead(collection: CollectionName, field: string, limit: number): number {
  if (!INDEXES[collection].some((index) => index.field === field)) throw new Error(`values: ${collection}.${field} is not an indexed field`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_VALUES) throw new Error(`values: limit ${limit} must be a whole number from 1 to ${MAX_VALUES}`);
  return limit;
}

/**
 * Fields outside the indexes that every writer stores as a string or number (never an array or object). An
 * adapter may rely on it as it relies on indexed fields holding scalars: the embedded store refuses any other
 * value on write, and then translates a filter on one without MongoDB's any-element-of-an-array case (a
 * `json_each` subquery per document). Only fields the core writes itself, checked by the input schema.
 */
export const SCALARS: Record<CollectionName, string[]> = {
  blocks: ['addressSpace', 'family', 'network', 'endKey'],
  ranges: ['addressSpace', 'family', 'network', 'endKey', 'managedByService', 'serviceInstance'],
  addresses: ['addressSpace', 'family', 'address', 'managedByService', 'serviceInstance'],
  requests: [],
  counters: [],
  settings: [],
  locks: [],
  journal: [],
  history: ['entity', 'addressSpace', 'operation'],
};
