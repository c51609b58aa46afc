/**
 * The statements of an allocation, readied when a store opens (`Ipam.open`): on the embedded store the first
 * allocation of a connection otherwise prepares ten to twelve SQL statements (0.8 ms of a 2.8 ms first call,
 * measured on a store opened again after a deploy). Only the calls' shapes count, so the values are
 * empty strings. Each entry is the call the module named beside it makes; test/lib/allocation/prepare.test.ts
 * fails, naming the statement, when an allocation on a store opened afresh prepares one this list lacks.
 */
import { CHUNK, COUNT_FIELD, CONTAINER_READ, PLAN_LIMIT } from '../space';
import type { PreparedCall, Store } from '../store';
import { KEPT_WINDOW } from './search';

const TEXT = '';
const KEYS = { $gte: TEXT, $lte: TEXT };
const PLAN_READ = { ...CONTAINER_READ, limit: PLAN_LIMIT + 1 };

export const ALLOCATION_CALLS: PreparedCall[] = [
  // The range (space/bounds.ts findBySelector) and its expired holds (holds.ts expiredHolds).
  { collection: 'ranges', find: { id: TEXT }, options: { limit: 2 } },
  { collection: 'addresses', find: { rangeId: TEXT, holdUntil: { $lte: TEXT } }, options: { sort: { holdUntil: 1 }, limit: CHUNK } },
  // The gap search's window of stored keys (search.ts gaps).
  { collection: 'addresses', values: 'key', filter: { key: KEYS }, options: { limit: Number(KEPT_WINDOW) } },
  // The range plan (space/mapping.ts rangePlan): the structure version, the ranges and blocks overlapping the
  // range, and the widest block (space/bounds.ts startFloor).
  { collection: 'settings', find: { name: TEXT }, options: { fields: ['version'], limit: 1 } },
  { collection: 'ranges', find: { addressSpace: TEXT, managedByService: TEXT, serviceInstance: TEXT, startKey: KEYS, endKey: { $gte: TEXT } }, options: PLAN_READ },
  { collection: 'blocks', find: { spanKey: KEYS }, options: { sort: { spanKey: -1 }, fields: ['spanKey'], limit: 1 } },
  { collection: 'blocks', find: { addressSpace: TEXT, startKey: KEYS, endKey: { $gte: TEXT } }, options: PLAN_READ },
  // With a requestId, the request's earlier address (space/requests.ts addressesByRequest, one key per address).
  { collection: 'requests', find: { id: { $in: [TEXT] } } },
  // The batch (space/counters.ts insertWritesCounted): the address, its request, its history entry, its range's counter.
  { write: { op: 'insert', collection: 'addresses', doc: { id: TEXT } } },
  { write: { op: 'insert', collection: 'requests', doc: { id: TEXT } } },
  { write: { op: 'insert', collection: 'history', doc: { id: TEXT } } },
  { write: { op: 'update', collection: 'counters', filter: { id: TEXT }, update: { $inc: { [COUNT_FIELD]: 1 } } } },
];

/**
 * Readies an allocation's statements on this store (nothing on a store without `prepare`, such as MongoDB). It
 * only saves time: a call it cannot ready does not keep the store from opening (the test above fails instead).
 */
export function prepareAllocation(store: Store): void {
  try {
    store.prepare?.(ALLOCATION_CALLS);
  } catch {
    // Each statement is prepared at its first use, as without this.
  }
}
