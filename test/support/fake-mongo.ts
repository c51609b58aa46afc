/**
 * A fake of the MongoDB driver's MongoClient / Db / Collection, only as much as lib/store/mongodb.ts
 * calls, with MongoDB's query and update semantics from mingo (null matches missing, $currentDate,
 * $$NOW). It throws the driver's own error classes: E11000 as MongoServerError with keyValue, bulk
 * failures as MongoBulkWriteError built the way the driver builds them (lib/bulk/common.js). `faults`
 * makes a chosen call fail with any error, so failure paths are tested without a server.
 */
import { Query, update } from 'mingo';
import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import type { MongoClient, MongoClientOptions } from 'mongodb';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BulkWriteResult, WriteError } = require('mongodb/lib/bulk/common') as {
  BulkWriteResult: new (result: unknown, ordered: boolean) => unknown;
  WriteError: new (err: unknown) => unknown;
};

type Doc = Record<string, unknown> & { _id: unknown };
type SessionOption = { session?: FakeSession };
type Fault = (method: string, collection: string) => Error | undefined;

interface FakeIndex {
  name: string;
  key: Record<string, 1>;
  unique?: boolean;
  partialFilterExpression?: Record<string, unknown>;
  sparse?: boolean;
}

export interface FakeDeployment {
  /** 'replicaSet' answers hello with a setName (transactions); 'standalone' without. */
  topology: 'replicaSet' | 'standalone';
  /** Server clock minus this process's clock, in ms. */
  clockOffsetMs: number;
  /** Consulted before every collection call; an error returned is thrown instead. */
  faults: Fault[];
  /**
   * Consulted after an insertOne, updateOne or deleteOne was applied; an error returned is thrown instead of the
   * reply, as when the server applied a write and the connection dropped before its answer.
   */
  lostReplies?: Fault[];
  /** The options the adapter gave the client. */
  clientOptions?: MongoClientOptions;
  /** Fails createIndex on these collections the way a sharded collection refuses a unique index. */
  shardedCollections: Set<string>;
  databases: Map<string, Map<string, FakeCollection>>;
}

export function fakeDeployment(partial: Partial<FakeDeployment> = {}): FakeDeployment {
  return { topology: 'replicaSet', clockOffsetMs: 0, faults: [], shardedCollections: new Set(), databases: new Map(), ...partial };
}

/** `createClient` for openMongoStore: every client made shares the deployment (like several processes). */
export function fakeClientFactory(deployment: FakeDeployment): (uri: string, options: MongoClientOptions) => MongoClient {
  return (_uri, options) => {
    deployment.clientOptions = options;
    return new FakeClient(deployment) as unknown as MongoClient;
  };
}

/** Fails the next `times` calls of `method` (on `collection`, if given) with `error`. */
export function failNext(deployment: FakeDeployment, method: string, error: Error, options: { collection?: string; times?: number } = {}): void {
  let left = options.times ?? 1;
  deployment.faults.push((m, c) => {
    if (left <= 0 || m !== method || (options.collection && options.collection !== c)) return undefined;
    left--;
    return error;
  });
}

class FakeClient {
  constructor(private readonly deployment: FakeDeployment) {}

  async connect(): Promise<this> {
    this.check('connect', '');
    return this;
  }

  db(name: string): FakeDb {
    let collections = this.deployment.databases.get(name);
    if (!collections) this.deployment.databases.set(name, (collections = new Map()));
    return new FakeDb(this.deployment, collections);
  }

  startSession(): FakeSession {
    return new FakeSession(this.deployment);
  }

  async close(): Promise<void> {}

  private check(method: string, collection: string): void {
    throwFault(this.deployment, method, collection);
  }
}

function throwLostReply(deployment: FakeDeployment, method: string, collection: string): void {
  for (const fault of deployment.lostReplies ?? []) {
    const error = fault(method, collection);
    if (error) throw error;
  }
}

function throwFault(deployment: FakeDeployment, method: string, collection: string): void {
  for (const fault of deployment.faults) {
    const error = fault(method, collection);
    if (error) throw error;
  }
}

/**
 * A transaction: the writes made with this session are undone, newest first, when the callback fails.
 * (Not isolated from concurrent writers as a server's snapshot is; the tests need all-or-none.)
 */
export class FakeSession {
  undo: (() => void)[] = [];

  constructor(private readonly deployment: FakeDeployment) {}

  async withTransaction(fn: () => Promise<unknown>): Promise<void> {
    if (this.deployment.topology === 'standalone') {
      throw new MongoServerError({ message: 'Transaction numbers are only allowed on a replica set member or mongos', code: 20 });
    }
    this.undo = [];
    try {
      await fn();
      throwFault(this.deployment, 'commitTransaction', '');
    } catch (err) {
      for (const step of this.undo.reverse()) step();
      throw err;
    } finally {
      this.undo = [];
    }
  }

  async endSession(): Promise<void> {}
}

class FakeDb {
  constructor(
    private readonly deployment: FakeDeployment,
    private readonly collections: Map<string, FakeCollection>,
  ) {}

  collection(name: string): FakeCollection {
    let collection = this.collections.get(name);
    if (!collection) this.collections.set(name, (collection = new FakeCollection(this.deployment, name)));
    return collection;
  }

  /** As the server's `create`: NamespaceExists (48) when the collection is there already. */
  async createCollection(name: string): Promise<FakeCollection> {
    throwFault(this.deployment, 'createCollection', name);
    const collection = this.collection(name);
    if (collection.exists) throw new MongoServerError({ message: `Collection test.${name} already exists.`, code: 48, codeName: 'NamespaceExists' });
    collection.exists = true;
    return collection;
  }

  async command(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    throwFault(this.deployment, 'command', '');
    if (command.hello === undefined) throw new Error(`fake driver: command ${JSON.stringify(command)} not supported`);
    return {
      isWritablePrimary: true,
      localTime: new Date(Date.now() + this.deployment.clockOffsetMs),
      ...(this.deployment.topology === 'replicaSet' ? { setName: 'rs0' } : {}),
    };
  }
}

export class FakeCollection {
  private rows: Doc[] = [];
  /** Per unique index: JSON of the indexed value -> document, kept in step with `rows`. */
  private unique = new Map<string, Map<string, Doc>>();
  indexList: FakeIndex[] = [{ name: '_id_', key: { _id: 1 }, unique: true }];
  /** Whether the server has the collection: made by createCollection, createIndex or a first insert, as on a server. */
  exists = false;

  constructor(
    private readonly deployment: FakeDeployment,
    readonly name: string,
  ) {}

  private check(method: string): void {
    throwFault(this.deployment, method, this.name);
  }

  get docs(): Doc[] {
    return this.rows;
  }

  /** Replaces every document (a transaction put back), rebuilding the unique maps. */
  set docs(docs: Doc[]) {
    this.rows = docs;
    this.unique = new Map();
    for (const doc of docs) this.track(doc);
  }

  private uniqueIndexes(): FakeIndex[] {
    return this.indexList.filter((i) => i.unique);
  }

  private track(doc: Doc): void {
    this.sortedByKey = undefined;
    for (const index of this.uniqueIndexes()) {
      if (!indexes(index, doc)) continue;
      let map = this.unique.get(index.name);
      if (!map) this.unique.set(index.name, (map = new Map()));
      map.set(valueKey(index, doc), doc);
    }
  }

  private untrack(doc: Doc): void {
    this.sortedByKey = undefined;
    for (const index of this.uniqueIndexes()) {
      const map = this.unique.get(index.name);
      if (map && indexes(index, doc) && map.get(valueKey(index, doc)) === doc) map.delete(valueKey(index, doc));
    }
  }

  async indexes(): Promise<FakeIndex[]> {
    this.check('indexes');
    if (!this.exists) throw new MongoServerError({ message: `ns does not exist: test.${this.name}`, code: 26, codeName: 'NamespaceNotFound' });
    return this.indexList.map((index) => ({ ...index }));
  }

  async createIndex(key: Record<string, 1>, options: Omit<FakeIndex, 'key'>): Promise<string> {
    this.check('createIndex');
    const field = Object.keys(key)[0];
    if (options.unique && this.deployment.shardedCollections.has(this.name) && field !== 'key') {
      throw new MongoServerError({ message: `cannot create unique index over { ${field}: 1 } with shard key pattern { key: 1 }`, code: 67 });
    }
    this.indexList.push({ ...options, key });
    this.exists = true;
    this.docs = this.rows;
    return options.name;
  }

  async insertOne(doc: Doc, options: SessionOption = {}): Promise<{ insertedId: unknown }> {
    this.check('insertOne');
    if (options.session && !this.exists) {
      // As MongoDB 4.2, which cannot create a collection inside a transaction (the adapter creates them at open).
      throw new MongoServerError({ message: `Cannot create namespace test.${this.name} in multi-document transaction.`, code: 263, codeName: 'OperationNotSupportedInTransaction' });
    }
    const stored = this.insert(doc);
    options.session?.undo.push(() => this.remove([stored]));
    throwLostReply(this.deployment, 'insertOne', this.name);
    return { insertedId: doc._id };
  }

  /** Unordered: every document is tried; collisions come back as the driver's MongoBulkWriteError. */
  async insertMany(docs: Doc[]): Promise<{ insertedCount: number }> {
    this.check('insertMany');
    const writeErrors: unknown[] = [];
    const insertedIds: { index: number; _id: unknown }[] = [];
    for (const [index, doc] of docs.entries()) {
      try {
        this.insert(doc);
      } catch (err) {
        writeErrors.push(new WriteError({ index, code: 11000, errmsg: (err as Error).message }));
      }
      insertedIds.push({ index, _id: doc._id });
    }
    if (writeErrors.length === 0) return { insertedCount: docs.length };
    const result = new BulkWriteResult(
      { ok: 1, writeErrors, writeConcernErrors: [], insertedIds, nInserted: docs.length - writeErrors.length, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [] },
      false,
    );
    const first = writeErrors[0] as { code: number; errmsg: string };
    throw new MongoBulkWriteError({ message: first.errmsg, code: first.code, writeErrors } as never, result as never);
  }

  find(filter: Record<string, unknown>): FakeCursor {
    this.check('find');
    return new FakeCursor(this.matching(filter));
  }

  async findOne(filter: Record<string, unknown>): Promise<Doc | null> {
    this.check('findOne');
    return structuredCloneOrNull(this.matching(filter)[0]);
  }

  async countDocuments(filter: Record<string, unknown>): Promise<number> {
    this.check('countDocuments');
    return this.matching(filter).length;
  }

  async updateOne(filter: Record<string, unknown>, modifier: Record<string, unknown>, options: SessionOption = {}): Promise<{ matchedCount: number }> {
    this.check('updateOne');
    const matchedCount = this.apply(this.matching(filter).slice(0, 1), modifier, options.session);
    throwLostReply(this.deployment, 'updateOne', this.name);
    return { matchedCount };
  }

  async updateMany(filter: Record<string, unknown>, modifier: Record<string, unknown>, options: SessionOption = {}): Promise<{ matchedCount: number }> {
    this.check('updateMany');
    return { matchedCount: this.apply(this.matching(filter), modifier, options.session) };
  }

  async replaceOne(filter: Record<string, unknown>, replacement: Doc, options: { upsert?: boolean } = {}): Promise<{ matchedCount: number }> {
    this.check('replaceOne');
    const [target] = this.matching(filter);
    if (target) {
      const replaced = this.serialize(replacement);
      this.untrack(target);
      this.refuseCollision(replaced, target);
      this.rows[this.rows.indexOf(target)] = replaced;
      this.track(replaced);
      return { matchedCount: 1 };
    }
    if (options.upsert) this.insert(replacement);
    return { matchedCount: 0 };
  }

  async deleteOne(filter: Record<string, unknown>, options: SessionOption = {}): Promise<{ deletedCount: number }> {
    this.check('deleteOne');
    const deletedCount = this.removeIn(this.matching(filter).slice(0, 1), options.session);
    throwLostReply(this.deployment, 'deleteOne', this.name);
    return { deletedCount };
  }

  async deleteMany(filter: Record<string, unknown>, options: SessionOption = {}): Promise<{ deletedCount: number }> {
    this.check('deleteMany');
    return { deletedCount: this.removeIn(this.matching(filter), options.session) };
  }

  private removeIn(targets: Doc[], session: FakeSession | undefined): number {
    const count = this.remove(targets);
    session?.undo.push(() => {
      for (const doc of targets) {
        this.rows.push(doc);
        this.track(doc);
      }
    });
    return count;
  }

  /** BSON has no undefined: the driver drops such fields with ignoreUndefined, else stores null. */
  private serialize(doc: Doc): Doc {
    const ignore = this.deployment.clientOptions?.ignoreUndefined === true;
    const copy: Doc = { _id: doc._id };
    for (const [field, value] of Object.entries(doc)) {
      if (value === undefined) {
        if (!ignore) copy[field] = null;
      } else copy[field] = structuredClone(value);
    }
    return copy;
  }

  private matching(filter: Record<string, unknown>): Doc[] {
    return query(filter).find(this.candidates(filter)).all() as Doc[];
  }

  private sortedByKey?: Doc[];

  /**
   * Documents that may match, in stored order: narrowed by equality on a unique field, or by a range on
   * `key` (binary search over a key-sorted copy), so big test data sets stay fast. mingo decides the rest.
   */
  private candidates(filter: Record<string, unknown>): Doc[] {
    for (const index of this.uniqueIndexes()) {
      const field = Object.keys(index.key)[0];
      const value = filter[field];
      if (index.partialFilterExpression || index.sparse) continue;
      if (typeof value === 'string' || typeof value === 'number') {
        const doc = this.unique.get(index.name)?.get(JSON.stringify(value));
        return doc ? [doc] : [];
      }
    }
    const range = filter.key as Record<string, unknown> | undefined;
    if (!range || typeof range !== 'object' || !this.uniqueIndexes().some((i) => i.name === 'key')) return this.rows;
    const low = (range.$gte ?? range.$gt) as string | undefined;
    const high = (range.$lte ?? range.$lt) as string | undefined;
    if (typeof low !== 'string' && typeof high !== 'string') return this.rows;
    this.sortedByKey ??= this.rows.filter((d) => typeof d.key === 'string').sort((a, b) => ((a.key as string) < (b.key as string) ? -1 : 1));
    const sorted = this.sortedByKey;
    const from = typeof low === 'string' ? firstAtOrAfter(sorted, low) : 0;
    const to = typeof high === 'string' ? firstAfter(sorted, high) : sorted.length;
    return sorted.slice(from, to);
  }

  private insert(doc: Doc): Doc {
    const copy = this.serialize(doc);
    this.refuseCollision(copy, undefined);
    this.exists = true;
    this.rows.push(copy);
    this.track(copy);
    return copy;
  }

  private apply(targets: Doc[], modifier: Record<string, unknown>, session?: FakeSession): number {
    for (const target of targets) {
      refuseNonNumericInc(target, modifier);
      const changed = structuredClone(target);
      update(changed, modifier as never);
      Object.assign(changed, this.serialize(changed));
      this.refuseCollision(changed, target);
      this.swap(target, changed);
      session?.undo.push(() => this.swap(changed, target));
    }
    return targets.length;
  }

  private swap(from: Doc, to: Doc): void {
    const at = this.rows.indexOf(from);
    if (at < 0) return;
    this.untrack(from);
    this.rows[at] = to;
    this.track(to);
  }

  private remove(targets: Doc[]): number {
    const gone = new Set(targets);
    for (const doc of targets) this.untrack(doc);
    this.rows = this.rows.filter((doc) => !gone.has(doc));
    return targets.length;
  }

  /** The unique indexes, with MongoDB's rules: a missing field indexes as null unless sparse or filtered out. */
  private refuseCollision(doc: Doc, replacing: Doc | undefined): void {
    for (const index of this.uniqueIndexes()) {
      if (!indexes(index, doc)) continue;
      const other = this.unique.get(index.name)?.get(valueKey(index, doc));
      if (other && other !== replacing) {
        const field = Object.keys(index.key)[0];
        const value = doc[field] ?? null;
        const shown = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
        throw new MongoServerError({
          message: `E11000 duplicate key error collection: test.${this.name} index: ${index.name} dup key: { ${field}: ${shown} }`,
          code: 11000,
          keyPattern: index.key,
          keyValue: { [field]: value },
        });
      }
    }
  }
}

function firstAtOrAfter(sorted: Doc[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle].key as string) < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

function firstAfter(sorted: Doc[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle].key as string) <= key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** As the server: `$inc` of a field that holds something other than a number is TypeMismatch (14), and nothing changes. */
function refuseNonNumericInc(doc: Doc, modifier: Record<string, unknown>): void {
  for (const path of Object.keys((modifier.$inc ?? {}) as Record<string, unknown>)) {
    let value: unknown = doc;
    for (const segment of path.split('.')) value = value !== null && typeof value === 'object' && Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : undefined;
    if (value === undefined || typeof value === 'number') continue;
    const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : typeof value === 'boolean' ? 'bool' : typeof value;
    throw new MongoServerError({
      message: `Cannot apply $inc to a value of non-numeric type. {_id: ${JSON.stringify(doc._id)}} has the field '${path}' of non-numeric type ${type}`,
      code: 14,
      codeName: 'TypeMismatch',
    });
  }
}

/** mingo builds an operator context per Query: compiled queries are kept, keyed by their JSON. */
const compiled = new Map<string, Query>();

function query(filter: Record<string, unknown>): Query {
  const text = JSON.stringify(filter);
  let found = compiled.get(text);
  if (!found) {
    if (compiled.size > 2000) compiled.clear();
    compiled.set(text, (found = new Query(filter)));
  }
  return found;
}

/** `{field: {$type: 'string'}}` (the adapter's only partial filter) without mingo; anything else with it. */
function matches(doc: Doc, filter: Record<string, unknown>): boolean {
  const entries = Object.entries(filter);
  const [field, condition] = entries[0] ?? [];
  if (entries.length === 1 && JSON.stringify(condition) === '{"$type":"string"}') return typeof doc[field] === 'string';
  return query(filter).test(doc);
}

function valueKey(index: FakeIndex, doc: Doc): string {
  return JSON.stringify(doc[Object.keys(index.key)[0]] ?? null);
}

function indexes(index: FakeIndex, doc: Doc): boolean {
  const field = Object.keys(index.key)[0];
  if (index.sparse && !(field in doc)) return false;
  if (index.partialFilterExpression) return matches(doc, index.partialFilterExpression);
  return true;
}

class FakeCursor {
  private fields?: Record<string, 0 | 1>;
  private order?: Record<string, 1 | -1>;
  private skipped = 0;
  private limited = 0;

  constructor(private readonly docs: Doc[]) {}

  project(fields: Record<string, 0 | 1>): this {
    this.fields = fields;
    return this;
  }

  sort(order: Record<string, 1 | -1>): this {
    this.order = order;
    return this;
  }

  skip(n: number): this {
    this.skipped = n;
    return this;
  }

  limit(n: number): this {
    this.limited = n;
    return this;
  }

  /** Batches are the driver's business: the fake answers in one. */
  batchSize(): this {
    return this;
  }

  async toArray(): Promise<Doc[]> {
    // mingo's cursor orders as MongoDB does (type ranks, dotted paths, arrays).
    let cursor = new Query({}).find<Doc>(this.docs);
    if (this.order) cursor = cursor.sort(this.order);
    const page = cursor.all().slice(this.skipped, this.limited ? this.skipped + this.limited : undefined);
    return page.map((doc) => structuredClone(this.fields ? picked(doc, this.fields) : doc));
  }
}

/** MongoDB's inclusion projection: the fields given as 1, and _id unless it is given as 0. */
function picked(doc: Doc, fields: Record<string, 0 | 1>): Doc {
  const out: Doc = fields._id === 0 ? ({} as Doc) : { _id: doc._id };
  for (const [field, included] of Object.entries(fields)) if (included === 1 && field in doc) out[field] = doc[field];
  return out;
}

function structuredCloneOrNull(doc: Doc | undefined): Doc | null {
  return doc === undefined ? null : structuredClone(doc);
}

