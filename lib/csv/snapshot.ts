/**
 * A read snapshot for one batch of address rows. buildAddress maps each address with two "which blocks
 * and ranges contain this key" queries; a store can only answer those by scanning every block or range
 * that starts below the key, so on a large import they dominate. Rows of a batch are close together, so
 * the blocks and ranges that can contain any of them are read once per batch (those overlapping the
 * batch's key span) and the per-row queries are answered from that small set. Only queries whose key
 * interval lies within the batch span are answered here (every document matching them is then in the
 * snapshot), sorted on key fields if asked and projected to `fields`; other finds go to the store, and other findOnes are read once per batch. Reads of a batch
 * therefore see blocks and ranges as they were when the batch started, except `count` and `values`, which go to the store.
 */
import type { Collection, CollectionName, Comparison, Condition, Doc, Filter, FindOptions, Scalar, Store } from '../store';

const SNAPSHOTTED: CollectionName[] = ['blocks', 'ranges'];

export async function batchSnapshot(store: Store, keys: string[]): Promise<Store> {
  if (keys.length === 0) return store;
  let low = keys[0];
  let high = keys[0];
  for (const key of keys) {
    if (key < low) low = key;
    if (key > high) high = key;
  }
  const docs = new Map<CollectionName, Doc[]>();
  for (const name of SNAPSHOTTED) {
    docs.set(name, await store.collection(name).find({ startKey: { $lte: high }, endKey: { $gte: low } }));
  }
  const wrapped = new Map<CollectionName, Collection>();
  for (const [name, snapshot] of docs) wrapped.set(name, answering(store.collection(name), snapshot, low, high));
  return {
    kind: store.kind,
    transactional: store.transactional,
    collection: <T extends Doc = Doc>(name: CollectionName) => (wrapped.get(name) ?? store.collection(name)) as Collection<T>,
    atomic: (writes, ifUndone, settle) => store.atomic(writes, ifUndone, settle),
    now: () => store.now(),
    close: () => store.close(),
  };
}

function answering(real: Collection, snapshot: Doc[], low: string, high: string): Collection {
  const answerable = (filter: Filter, options?: FindOptions): boolean => !options?.skip && sortable(options?.sort) && within(filter, low, high);
  // Other reads (such as the widest block or range, which bounds the mapping queries) repeat row after row
  // with the same filter; within the batch they are read once, like the snapshot itself.
  // A frozen query (the widest one is) is the same objects every time: recognised by identity, not serialised.
  const repeated = new Map<string, Promise<Doc | null>>();
  const repeatedFrozen = new WeakMap<Filter, WeakMap<FindOptions, Promise<Doc | null>>>();
  const readOnce = (filter: Filter, options: FindOptions | undefined): Promise<Doc | null> => {
    if (options && Object.isFrozen(filter) && Object.isFrozen(options)) {
      let byOptions = repeatedFrozen.get(filter);
      if (!byOptions) repeatedFrozen.set(filter, (byOptions = new WeakMap()));
      let found = byOptions.get(options);
      if (!found) byOptions.set(options, (found = real.findOne(filter, options)));
      return found;
    }
    const key = JSON.stringify([filter, options ?? {}]);
    let found = repeated.get(key);
    if (!found) repeated.set(key, (found = real.findOne(filter, options)));
    return found;
  };
  return {
    ...bind(real),
    find: async (filter, options) =>
      answerable(filter, options)
        ? limit(sorted(snapshot.filter((doc) => matches(doc, filter)), options?.sort), options?.limit).map((doc) => copy(doc, options?.fields))
        : real.find(filter, options),
    findOne: async (filter, options) => {
      if (!answerable(filter, options)) {
        const doc = await readOnce(filter, options);
        return doc ? copy(doc) : null;
      }
      const [found] = sorted(snapshot.filter((doc) => matches(doc, filter)), options?.sort);
      return found ? copy(found, options?.fields) : null;
    },
  };
}

/** Whether every document the filter can match starts at or below `high` and ends at or above `low`. */
function within(filter: Filter, low: string, high: string): boolean {
  const start = filter.startKey as Comparison | undefined;
  const end = filter.endKey as Comparison | undefined;
  const startAtMost = start?.$lte ?? start?.$lt;
  const endAtLeast = end?.$gte ?? end?.$gt;
  return typeof startAtMost === 'string' && typeof endAtLeast === 'string' && startAtMost <= high && endAtLeast >= low;
}

function matches(doc: Doc, filter: Filter): boolean {
  // A plain loop: this runs for every snapshot document on every row of an import.
  for (const field of Object.keys(filter)) {
    if (!satisfies(doc[field] as Scalar | undefined, filter[field] as Condition)) return false;
  }
  return true;
}

function satisfies(value: Scalar | undefined, condition: Condition): boolean {
  if (condition === null || typeof condition !== 'object') return value === condition;
  const c = condition as Comparison;
  if (c.$exists !== undefined && (value !== undefined) !== c.$exists) return false;
  if (c.$ne !== undefined && value === c.$ne) return false;
  if (c.$in !== undefined && !c.$in.includes(value ?? null)) return false;
  return (
    (c.$gt === undefined || (comparable(value, c.$gt) && value! > c.$gt!)) &&
    (c.$gte === undefined || (comparable(value, c.$gte) && value! >= c.$gte!)) &&
    (c.$lt === undefined || (comparable(value, c.$lt) && value! < c.$lt!)) &&
    (c.$lte === undefined || (comparable(value, c.$lte) && value! <= c.$lte!))
  );
}

/** Ordered comparisons only between two strings or two numbers (as the stores do). */
function comparable(value: Scalar | undefined, bound: Scalar): boolean {
  return value !== undefined && value !== null && bound !== null && typeof value === typeof bound;
}

function limit<T>(docs: T[], count: number | undefined): T[] {
  return count ? docs.slice(0, count) : docs;
}

/** Key fields: strings on every block and range, so the snapshot sorts them as the stores do (by code point). */
const KEY_FIELDS = new Set(['startKey', 'endKey', 'spanKey', 'key']);

/** Sorted reads on key fields are answered too: the mapping queries sort on the start key. */
function sortable(sort: FindOptions['sort']): boolean {
  return Object.keys(sort ?? {}).every((field) => KEY_FIELDS.has(field));
}

function sorted(docs: Doc[], sort: FindOptions['sort']): Doc[] {
  const terms = Object.entries(sort ?? {});
  if (terms.length === 0) return docs;
  return docs.sort((a, b) => {
    for (const [field, direction] of terms) {
      const x = a[field] as string;
      const y = b[field] as string;
      if (x !== y) return (x < y ? -1 : 1) * direction;
    }
    return 0;
  });
}

/** Callers read the top-level fields of what they get; a shallow copy (or the projection) keeps the snapshot intact. */
function copy(doc: Doc, fields?: string[]): Doc {
  if (!fields) return { ...doc };
  const picked: Doc = { id: doc.id };
  for (const field of fields) if (Object.hasOwn(doc, field)) picked[field] = doc[field];
  return picked;
}

function bind<T extends Doc>(collection: Collection<T>): Collection<T> {
  return {
    insertOne: (doc) => collection.insertOne(doc),
    insertMany: (docs) => collection.insertMany(docs),
    findOne: (filter, options) => collection.findOne(filter, options),
    find: (filter, options) => collection.find(filter, options),
    count: (filter) => collection.count(filter),
    values: (field, filter, options) => collection.values(field, filter, options),
    updateOne: (filter, update) => collection.updateOne(filter, update),
    updateMany: (filter, update) => collection.updateMany(filter, update),
    deleteOne: (filter) => collection.deleteOne(filter),
    deleteMany: (filter) => collection.deleteMany(filter),
  };
}
