/**
 * Embedded store: @seald-io/nedb, one append-only file per collection in a directory, or in memory.
 * Single process: a lock file refuses a directory that another live process holds.
 */
import Datastore from '@seald-io/nedb';
// nedb's own matcher and copier, so the ordered scan answers exactly as nedb's find would.
import model = require('@seald-io/nedb/lib/model.js');
import fs from 'node:fs';
import path from 'node:path';
import { IpamError } from '../errors';
import type { Collection, CollectionName, Doc, Filter, FindOptions, IndexSpec, Store, Update } from './port';
import type { Write } from './port';
import { applyWithUndo } from './sequential';
import { fromStored, renameId, toStored, type StoredDoc } from './ids';
import { boundsOf, walk, type NedbIndex } from './nedb-walk';
import { COLLECTIONS, INDEXES } from './schema';

type NedbDoc = StoredDoc;


const LOCK_FILE = 'flowipam.lock';

export interface EmbeddedOptions {
  /** Directory of the data files; omit for an in-memory store (tests). */
  directory?: string;
}

export async function openEmbeddedStore(options: EmbeddedOptions = {}): Promise<Store> {
  const directory = options.directory;
  if (directory) {
    fs.mkdirSync(directory, { recursive: true });
    takeLock(directory);
  }
  try {
    const collections = new Map<CollectionName, EmbeddedCollection>();
    for (const name of COLLECTIONS) {
      const db = new Datastore<NedbDoc>(
        directory ? { filename: path.join(directory, `${name}.db`) } : { inMemoryOnly: true },
      );
      await db.loadDatabaseAsync();
      collections.set(name, await EmbeddedCollection.create(db, INDEXES[name]));
    }
    // The lock file makes this process the only user of the directory: locks left by a process that died
    // (lib/lock.ts) can go now rather than block writers until they expire.
    await collections.get('locks')!.deleteMany({});
    return new EmbeddedStore(collections, directory);
  } catch (err) {
    if (directory) releaseLock(directory);
    throw new IpamError('STORE_UNAVAILABLE', `embedded store at ${directory}: ${(err as Error).message}`);
  }
}

class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  readonly transactional = false;

  now(): Promise<number> {
    return Promise.resolve(Date.now());
  }

  atomic(writes: Write[]): Promise<void> {
    return applyWithUndo(this, writes);
  }
  private closed = false;

  constructor(
    private readonly collections: Map<CollectionName, EmbeddedCollection>,
    private readonly directory: string | undefined,
  ) {}

  collection<T extends Doc = Doc>(name: CollectionName): Collection<T> {
    if (this.closed) throw new IpamError('STORE_UNAVAILABLE', 'the embedded store is closed');
    return this.collections.get(name) as unknown as Collection<T>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.directory) return;
    for (const collection of this.collections.values()) await collection.compact();
    releaseLock(this.directory);
  }
}

class EmbeddedCollection implements Collection {
  private constructor(
    private readonly db: Datastore<NedbDoc>,
    private readonly uniqueFields: string[],
  ) {}

  static async create(db: Datastore<NedbDoc>, indexes: IndexSpec[]): Promise<EmbeddedCollection> {
    for (const index of indexes) {
      await db.ensureIndexAsync({ fieldName: index.field, unique: index.unique, sparse: index.sparse });
    }
    const nedbIndexes = (db as unknown as { indexes: Record<string, UpdatableIndex> }).indexes;
    for (const index of Object.values(nedbIndexes)) {
      swapUnchangedKeys(index);
      spliceFromLargeBuckets(index);
    }
    return new EmbeddedCollection(db, indexes.filter((i) => i.unique).map((i) => i.field));
  }

  async insertOne(doc: Doc): Promise<void> {
    try {
      await this.db.insertAsync(toStored(doc));
    } catch (err) {
      throw this.normalise(err, doc);
    }
  }

  async insertMany(docs: Doc[]): Promise<{ inserted: number; failures: { index: number; error: Error }[] }> {
    try {
      await this.db.insertAsync(docs.map(toStored));
      return { inserted: docs.length, failures: [] };
    } catch {
      // nedb rolls the whole batch back; retry one by one to keep the valid documents.
      const failures: { index: number; error: Error }[] = [];
      for (const [index, doc] of docs.entries()) {
        await this.insertOne(doc).catch((error: Error) => failures.push({ index, error }));
      }
      return { inserted: docs.length - failures.length, failures };
    }
  }

  async findOne(filter: Filter, options: FindOptions = {}): Promise<Doc | null> {
    const [doc] = await this.find(filter, { ...options, limit: 1 });
    return doc ?? null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<Doc[]> {
    const ordered = this.orderedScan(filter, options);
    if (ordered) return ordered;
    let cursor = this.db.findAsync(renameId(filter), options.fields ? projectionOf(options.fields) : undefined);
    if (options.sort) cursor = cursor.sort(renameId(options.sort));
    if (options.skip) cursor = cursor.skip(options.skip);
    if (options.limit) cursor = cursor.limit(options.limit);
    return (await cursor).map(fromStored);
  }

  count(filter: Filter): Promise<number> {
    const [field, ...others] = Object.keys(filter);
    const index = field && others.length === 0 ? this.indexFor(field, filter) : undefined;
    const bounds = index && boundsOf(filter[field]);
    if (index && bounds) {
      let count = 0;
      walk(index.tree.tree, bounds, false, model.compareThings, () => ++count > 0);
      return Promise.resolve(count);
    }
    return this.db.countAsync(renameId(filter)) as unknown as Promise<number>;
  }

  /**
   * Sorted, limited reads on one indexed field walk the index and stop at the limit (see nedb-walk.ts);
   * undefined when the query does not have that shape.
   */
  private orderedScan(filter: Filter, options: FindOptions): Doc[] | undefined {
    const sortFields = Object.keys(options.sort ?? {});
    if (sortFields.length !== 1) return undefined;
    const [field] = sortFields;
    const index = this.indexFor(field, filter);
    const bounds = index && boundsOf(filter[field]);
    if (!index || !bounds) return undefined;
    const query = renameId(filter);
    const wanted = options.limit ? options.limit + (options.skip ?? 0) : Infinity;
    const found: Doc[] = [];
    walk(index.tree.tree, bounds, options.sort![field] === -1, model.compareThings, (doc) => {
      if (model.match(doc, query)) {
        found.push(fromStored((options.fields ? pick(doc, options.fields) : model.deepCopy(doc)) as StoredDoc));
      }
      return found.length < wanted;
    });
    return found.slice(options.skip ?? 0);
  }

  /** The index on a field, when it can answer for this filter (a sparse one only when the filter names the field). */
  private indexFor(field: string, filter: Filter): NedbIndex | undefined {
    const index = (this.db as unknown as { indexes: Record<string, NedbIndex> }).indexes[field];
    if (!index || (index.sparse && filter[field] === undefined)) return undefined;
    return index;
  }

  async updateOne(filter: Filter, update: Update): Promise<boolean> {
    return (await this.update(filter, update, false)) > 0;
  }

  updateMany(filter: Filter, update: Update): Promise<number> {
    return this.update(filter, update, true);
  }

  async deleteOne(filter: Filter): Promise<boolean> {
    return (await this.db.removeAsync(renameId(filter), { multi: false })) > 0;
  }

  deleteMany(filter: Filter): Promise<number> {
    return this.db.removeAsync(renameId(filter), { multi: true });
  }

  compact(): Promise<void> {
    return this.db.compactDatafileAsync();
  }

  private async update(filter: Filter, update: Update, multi: boolean): Promise<number> {
    try {
      const result = await this.db.updateAsync(renameId(filter), update as Record<string, unknown>, { multi });
      return result.numAffected;
    } catch (err) {
      throw this.normalise(err, (update.$set ?? {}) as Doc);
    }
  }

  private normalise(err: unknown, doc: Record<string, unknown>): Error {
    const e = err as { errorType?: string; key?: unknown };
    if (e.errorType !== 'uniqueViolated') return err as Error;
    const field = this.uniqueFields.find((f) => doc[f] === e.key) ?? this.uniqueFields[0];
    return new IpamError('DUPLICATE', `${field} ${JSON.stringify(e.key)} already exists`, {
      field,
      value: e.key,
    });
  }
}

interface UpdatableIndex extends NedbIndex {
  update(oldDoc: unknown, newDoc?: unknown): void;
  remove(doc: unknown): void;
}

type Pair = { oldDoc: Record<string, unknown>; newDoc: Record<string, unknown> };

/**
 * nedb updates an index by removing the old document and inserting the new one, and removal filters the whole
 * list of documents sharing the key: every update of an address in a range of 40,000 cost milliseconds. When the
 * indexed value did not change (most updates), swapping the document in place gives the same index, cheaply.
 */
function swapUnchangedKeys(index: UpdatableIndex): void {
  const original = index.update.bind(index);
  index.update = (oldDoc: unknown, newDoc?: unknown): void => {
    const pairs = Array.isArray(oldDoc) ? (oldDoc as Pair[]) : [{ oldDoc, newDoc } as Pair];
    const swapped = pairs.filter((pair) => swapInPlace(index, pair));
    const rest = pairs.filter((pair) => !swapped.includes(pair));
    if (rest.length === 0) return;
    try {
      original(rest);
    } catch (err) {
      for (const pair of swapped) swapInPlace(index, { oldDoc: pair.newDoc, newDoc: pair.oldDoc });
      throw err;
    }
  };
}

/**
 * Removing one document from a key many documents share: nedb filters the whole list into a new one; a native
 * indexOf and splice does the same work far faster. A key held by one document goes through nedb (the tree node goes).
 */
function spliceFromLargeBuckets(index: UpdatableIndex): void {
  const original = index.remove.bind(index);
  index.remove = (doc: unknown): void => {
    if (Array.isArray(doc)) {
      for (const one of doc) index.remove(one);
      return;
    }
    const key = model.getDotValue(doc, index.fieldName);
    if ((typeof key !== 'object' || key === null) && key !== undefined) {
      const bucket = (index.tree as unknown as { search(key: unknown): unknown[] }).search(key);
      const position = bucket.length > 1 ? bucket.indexOf(doc) : -1;
      if (position >= 0) {
        bucket.splice(position, 1);
        return;
      }
    }
    original(doc);
  };
}

/** Replaces oldDoc by newDoc under their shared key; false when the key changed or is not a plain value. */
function swapInPlace(index: UpdatableIndex, { oldDoc, newDoc }: Pair): boolean {
  const key = model.getDotValue(oldDoc, index.fieldName);
  if (key !== model.getDotValue(newDoc, index.fieldName) || (typeof key === 'object' && key !== null)) return false;
  if (key === undefined && index.sparse) return true;
  const bucket = (index.tree as unknown as { search(key: unknown): unknown[] }).search(key);
  const position = bucket.indexOf(oldDoc);
  if (position < 0) return false;
  bucket[position] = newDoc;
  return true;
}

function projectionOf(fields: string[]): Record<string, 1> {
  return Object.fromEntries(fields.map((field) => [field, 1 as const]));
}

/** The named top-level fields of a stored document (and its `_id`), copied. */
function pick(doc: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = { _id: doc._id };
  for (const field of fields) if (doc[field] !== undefined) picked[field] = model.deepCopy(doc[field]);
  return picked;
}

function takeLock(directory: string): void {
  const file = path.join(directory, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(file, 'utf8'));
      if (isAlive(holder)) {
        throw new IpamError(
          'STORE_UNAVAILABLE',
          `embedded store ${directory} is in use by process ${holder}; use MongoDB to share data between processes`,
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
}

function releaseLock(directory: string): void {
  const file = path.join(directory, LOCK_FILE);
  try {
    if (Number(fs.readFileSync(file, 'utf8')) === process.pid) fs.rmSync(file);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
