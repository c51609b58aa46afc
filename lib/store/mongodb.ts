/**
 * MongoDB adapter over the official driver. Thin on purpose: the port's filter subset is MongoDB's own,
 * so the work here is the `id`/`_id` mapping, the connection policy, index creation, `atomic` and error
 * normalisation.
 *
 * Connection policy (set here, not left to the URI): primary reads, retryable reads and writes, write
 * concern `w: 'majority'` by default, `ignoreUndefined` (an `undefined` field is left out, never stored as
 * null) and a server-selection timeout long enough to ride out a replica-set election.
 *
 * `atomic`: a multi-document transaction where the deployment has them (replica set, mongos: detected at
 * open with `hello`); on a standalone a journaled batch (see `journaledAtomic`).
 */
import { randomUUID } from 'node:crypto';
import { MongoClient, MongoServerError, MongoWriteConcernError } from 'mongodb';
import type {
  ClientSession,
  Collection as MongoCollection,
  Db,
  Document,
  Filter as MongoFilter,
  MongoClientOptions,
  Sort,
  UpdateFilter,
} from 'mongodb';
import { IpamError, redact } from '../errors';
import type { Collection, CollectionName, Doc, Filter, FindOptions, IndexSpec, Scalar, Store, Update, ValuesOptions, Write } from './port';
import { fromStored, renameId, toStored, type StoredDoc } from './ids';
import { checkValuesRead, COLLECTIONS, INDEXES } from './schema';
import { merged } from '../own';

type MongoDoc = Document & StoredDoc;

export interface MongoOptions {
  uri: string;
  database: string;
  username?: string;
  password?: string;
  /** How long an operation waits for a usable primary. Default 30 s: an election (~10–12 s) is ridden out. */
  serverSelectionTimeoutMs?: number;
  /** TCP connect timeout per server. Default 10 s. */
  connectTimeoutMs?: number;
  /** Write concern `w`. Default 'majority': an acknowledged write survives a failover. */
  writeConcern?: 'majority' | number;
  /** How long a write waits for its write concern before failing as unavailable. Default 20 s. */
  writeTimeoutMs?: number;
  /** Test seam: builds the driver client (a fake driver in unit tests). */
  createClient?: (uri: string, options: MongoClientOptions) => MongoClient;
}

/** What `atomic` is on this deployment. */
export type AtomicMode = 'transactions' | 'journal';

export const MONGO_DEFAULTS = {
  serverSelectionTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  writeConcern: 'majority' as const,
  writeTimeoutMs: 20_000,
};

/** A journaled batch older than this (by the server's clock, since its last heartbeat) is abandoned. */
const BATCH_STALE_MS = 60_000;
const BATCH_HEARTBEAT_MS = 10_000;

const DUPLICATE_KEY = 11000;
const NAMESPACE_NOT_FOUND = 26;
const NAMESPACE_EXISTS = 48;
/** A write the server refuses for what the document holds (`$inc` of a field holding text). */
const TYPE_MISMATCH = 14;

export function clientOptions(options: MongoOptions): MongoClientOptions {
  return {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? MONGO_DEFAULTS.serverSelectionTimeoutMs,
    connectTimeoutMS: options.connectTimeoutMs ?? MONGO_DEFAULTS.connectTimeoutMs,
    readPreference: 'primary',
    retryWrites: true,
    retryReads: true,
    writeConcern: {
      w: options.writeConcern ?? MONGO_DEFAULTS.writeConcern,
      wtimeoutMS: options.writeTimeoutMs ?? MONGO_DEFAULTS.writeTimeoutMs,
    },
    ignoreUndefined: true,
    ...(options.username ? { auth: { username: options.username, password: options.password } } : {}),
  };
}

export async function openMongoStore(options: MongoOptions): Promise<MongoStore> {
  refusePasswordInUri(options.uri);
  let client: MongoClient | undefined;
  try {
    const settings = clientOptions(options);
    client = options.createClient ? options.createClient(options.uri, settings) : new MongoClient(options.uri, settings);
    await client.connect();
    const db = client.db(options.database);
    const hello = await db.command({ hello: 1 });
    const mode: AtomicMode = hello.setName || hello.msg === 'isdbgrid' ? 'transactions' : 'journal';
    const warnings = await createIndexes(db);
    const store = new MongoStore(client, db, mode, warnings);
    await store.recoverBatches();
    return store;
  } catch (err) {
    await client?.close().catch(() => undefined);
    if (err instanceof IpamError && err.code === 'VALIDATION') throw err;
    throw new IpamError('STORE_UNAVAILABLE', `MongoDB uri ${JSON.stringify(redact(options.uri))}: ${(err as Error).message}`, {
      field: 'uri',
      value: redact(options.uri),
    });
  }
}

/** Passwords are credentials (Node-RED keeps them out of flow JSON); a URI carrying one is refused. */
export function refusePasswordInUri(uri: string): void {
  // User information runs to the last `@` (the driver reads a password up to an `@`, `/` included).
  if (/^[a-z][a-z0-9+.-]*:\/\/[^]*:[^]*@/i.test(uri)) {
    throw new IpamError('VALIDATION', `uri ${JSON.stringify(redact(uri))}: put the password in the credentials, not in the URI`, {
      field: 'uri',
      value: redact(uri),
    });
  }
}

/**
 * Creates the schema's indexes, tolerating what is already there (an index on the same key under any
 * name is kept as it is: on a sharded collection it may have been made by the operator). A non-unique
 * index that cannot be created is a warning; a unique one is fatal, because uniqueness is what keeps
 * concurrent writers apart.
 */
async function createIndexes(db: Db): Promise<string[]> {
  const warnings: string[] = [];
  for (const name of COLLECTIONS) {
    const collection = db.collection(name);
    const existing = await existingIndexKeys(collection);
    if (!existing) await createCollection(db, name);
    for (const index of INDEXES[name]) {
      if (existing?.has(index.field)) continue;
      try {
        await collection.createIndex({ [index.field]: 1 }, indexOptions(index));
      } catch (err) {
        if (index.unique) throw err;
        warnings.push(`index ${name}.${index.field} not created: ${(err as Error).message}`);
      }
    }
  }
  return warnings;
}

/** Single-field index keys already present on a collection; undefined when it does not exist yet. */
async function existingIndexKeys(collection: MongoCollection): Promise<Set<string> | undefined> {
  try {
    const indexes = await collection.indexes();
    return new Set(indexes.map((index) => Object.keys(index.key)).filter((keys) => keys.length === 1).map((keys) => keys[0]));
  } catch (err) {
    if (err instanceof MongoServerError && err.code === NAMESPACE_NOT_FOUND) return undefined;
    throw err;
  }
}

/**
 * Creates a collection before any transaction writes to it (MongoDB 4.2 cannot create one inside a
 * transaction, and `counters` and `requests` have no index of their own that would create them). One another
 * process created meanwhile is fine.
 */
async function createCollection(db: Db, name: string): Promise<void> {
  try {
    await db.createCollection(name);
  } catch (err) {
    if (!(err instanceof MongoServerError && err.code === NAMESPACE_EXISTS)) throw err;
  }
}

/** A sparse unique index ignores only missing fields, not nulls: a partial index on strings ignores both. */
export function indexOptions(index: IndexSpec): Document {
  const options: Document = { name: index.field, unique: index.unique ?? false };
  if (index.sparse) options.partialFilterExpression = { [index.field]: { $type: 'string' } };
  return options;
}

interface BatchDoc {
  _id: string;
  name: string;
  kind: 'atomic';
  owner: string;
  heartbeatAt: Date;
  undo: UndoStep[];
  /** The batch's `ifUndone` writes (Store.atomic), as JSON: they carry update operators, which are not field names. */
  ifUndone?: string;
}

/** What undoes one applied write: delete what it inserted, or put back the documents it changed. */
type UndoStep = { collection: CollectionName; inserted?: MongoDoc; before?: MongoDoc[] };

export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  readonly transactional: boolean;
  /** Identifies this store handle as the owner of the batches it journals. */
  private readonly owner = randomUUID();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** This handle's batches being written or undone now: its own recovery pass leaves them alone. */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    readonly mode: AtomicMode,
    readonly warnings: string[] = [],
  ) {
    this.transactional = mode === 'transactions';
  }

  /** The server's clock (`hello.localTime`), so every process compares lease and journal times on one clock. */
  async now(): Promise<number> {
    const hello = await guard(() => this.db.command({ hello: 1 }));
    return new Date(hello.localTime as Date).getTime();
  }

  collection<T extends Doc = Doc>(name: CollectionName): Collection<T> {
    return new MongoAdapterCollection(this.db.collection<MongoDoc>(name), name) as unknown as Collection<T>;
  }

  async atomic(writes: Write[], ifUndone?: Write[], settle: Write[] = []): Promise<void> {
    if (writes.length === 0 && settle.length === 0) return;
    if (this.transactional) await this.inTransaction([...writes, ...settle]);
    else await this.journaledAtomic(writes, ifUndone, settle);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.recoveryTimer);
    await this.client.close();
  }

  private async inTransaction(writes: Write[]): Promise<void> {
    const session = this.client.startSession();
    try {
      await guard(() =>
        session.withTransaction(async () => {
          for (const write of writes) await applyWrite(this.db, write, session);
        }),
      );
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }

  /**
   * A standalone has no transactions. The batch gets a journal entry first; before each write its undo
   * (the documents it will change, or the one it inserts) is appended to the entry, then the write is
   * applied; the entry is deleted after the last write, which is the commit. A failure undoes the applied
   * writes in reverse; a crash leaves the entry, and the recovery pass (`recoverBatches`, at open and
   * again once a live owner's batch would be stale) undoes it. Undo steps are idempotent (restore by
   * `_id`, delete only the exact inserted document), so a recovery interrupted in turn is simply rerun.
   * Every journal write filters on this owner: a store whose batch was taken over stops.
   */
  private async journaledAtomic(writes: Write[], ifUndone: Write[] | undefined, settle: Write[]): Promise<void> {
    const journal = this.db.collection<BatchDoc>('journal');
    const id = randomUUID();
    this.inFlight.add(id);
    const entry: BatchDoc = { _id: id, name: `atomic|${id}`, kind: 'atomic', owner: this.owner, heartbeatAt: new Date(0), undo: [] };
    if (ifUndone?.length) entry.ifUndone = JSON.stringify(ifUndone);
    await guard(() => journal.insertOne(entry));
    await this.heartbeat(id);
    const beat = setInterval(() => void this.heartbeat(id).catch(() => undefined), BATCH_HEARTBEAT_MS);
    beat.unref();
    try {
      for (const write of writes) {
        const undo = await undoOf(this.db, write);
        const pushed = await guard(() =>
          journal.updateOne({ _id: id, owner: this.owner }, { $push: { undo }, $currentDate: { heartbeatAt: true } }),
        );
        if (pushed.matchedCount === 0) throw lostBatch(id);
        await guard(async () => {
          try {
            await applyWrite(this.db, write);
          } catch (err) {
            // An insert whose reply was lost (the connection dropped; a standalone does not retry writes) may have
            // stored its document: its undo step stays, since deleting exactly that document is harmless if it did
            // not. Any other failed write loses its step: restoring before-images of a write that changed nothing
            // could, run later by the recovery pass, take back what other processes wrote since.
            if (write.op !== 'insert' || refused(err)) await journal.updateOne({ _id: id, owner: this.owner }, { $pop: { undo: 1 } }).catch(() => undefined);
            throw err;
          }
        });
      }
      // No undo steps: a failure here undoes the batch and leaves these, each harmless on its own.
      for (const write of settle) await guard(() => applyWrite(this.db, write));
      const committed = await guard(() => journal.deleteOne({ _id: id, owner: this.owner }));
      if (committed.deletedCount === 0) throw lostBatch(id);
    } catch (err) {
      clearInterval(beat);
      // An undo that fails too (the connection is gone) is the recovery pass's, once the entry is stale.
      await this.undoBatch(id).catch(() => this.recoverLater());
      throw err;
    } finally {
      clearInterval(beat);
      this.inFlight.delete(id);
    }
  }

  private async heartbeat(id: string): Promise<void> {
    await this.db.collection<BatchDoc>('journal').updateOne({ _id: id, owner: this.owner }, { $currentDate: { heartbeatAt: true } });
  }

  /**
   * Undoes this owner's batch `id` in reverse, then applies its `ifUndone` writes if any write had been applied,
   * and removes it (nothing when another owner took it). Run again after a crash part-way, it applies them again:
   * they must bear that (the core's lower a hint with `$min` and bump a version).
   */
  private async undoBatch(id: string): Promise<void> {
    const journal = this.db.collection<BatchDoc>('journal');
    const batch = await journal.findOne({ _id: id, owner: this.owner });
    if (!batch) return;
    for (const step of [...batch.undo].reverse()) await undoStep(this.db, step);
    if (batch.ifUndone && batch.undo.length > 0) for (const write of JSON.parse(batch.ifUndone) as Write[]) await applyWrite(this.db, write);
    await journal.deleteOne({ _id: id, owner: this.owner });
  }

  /**
   * Undoes batches a dead process left (or this one, when an undo failed): those whose heartbeat is older than
   * BATCH_STALE_MS by the server's clock, each taken over by compare-and-set on its owner first. Batches that
   * are still fresh, and those whose undo fails now, are retried once they would be stale, so a restart soon
   * after a crash does not leave them behind, and one batch that cannot be undone keeps no other from it (nor
   * the store from opening).
   */
  async recoverBatches(): Promise<{ undone: number; deferred: number }> {
    const journal = this.db.collection<BatchDoc>('journal');
    const pending = await journal.find({ kind: 'atomic' }).toArray();
    let undone = 0;
    let deferred = 0;
    for (const batch of pending) {
      if (this.inFlight.has(batch._id)) continue;
      const taken = await journal.updateOne(
        { _id: batch._id, owner: batch.owner, $expr: { $lt: ['$heartbeatAt', { $subtract: ['$$NOW', BATCH_STALE_MS] }] } },
        { $set: { owner: this.owner }, $currentDate: { heartbeatAt: true } },
      );
      if (taken.matchedCount === 0) {
        deferred++;
        continue;
      }
      try {
        await this.undoBatch(batch._id);
        undone++;
      } catch {
        deferred++;
      }
    }
    if (deferred > 0) this.recoverLater();
    return { undone, deferred };
  }

  /** Runs the recovery pass again once a batch that is fresh now would be stale (a heartbeat's time to spare). */
  private recoverLater(): void {
    if (this.recoveryTimer || this.closed) return;
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined;
      void this.recoverBatches().catch(() => this.recoverLater());
    }, BATCH_STALE_MS + BATCH_HEARTBEAT_MS);
    this.recoveryTimer.unref();
  }
}

function lostBatch(id: string): IpamError {
  return new IpamError('STORE_UNAVAILABLE', `MongoDB: atomic batch ${id} was taken over by another process (its heartbeat lapsed); its writes are undone`);
}

async function undoOf(db: Db, write: Write): Promise<UndoStep> {
  const collection = db.collection<MongoDoc>(write.collection);
  if (write.op === 'insert') return { collection: write.collection, inserted: toStored(write.doc) as MongoDoc };
  const filter = toMongoFilter(write.filter);
  const before = await guard(() => (write.many ? collection.find(filter).toArray() : collection.find(filter).limit(1).toArray()));
  return { collection: write.collection, before: before as MongoDoc[] };
}

async function undoStep(db: Db, step: UndoStep): Promise<void> {
  const collection = db.collection<MongoDoc>(step.collection);
  // The whole inserted document is the filter: a document with the same _id that another writer owns stays.
  if (step.inserted) await collection.deleteOne(step.inserted as MongoFilter<MongoDoc>);
  for (const doc of step.before ?? []) await collection.replaceOne({ _id: doc._id }, doc, { upsert: true });
}

async function applyWrite(db: Db, write: Write, session?: ClientSession): Promise<void> {
  const collection = db.collection<MongoDoc>(write.collection);
  const options = session ? { session } : {};
  if (write.op === 'insert') {
    await collection.insertOne(toStored(write.doc) as MongoDoc, options);
    return;
  }
  const filter = toMongoFilter(write.filter);
  if (write.op === 'update') {
    const update = toMongoUpdate(write.update);
    if (write.many) await collection.updateMany(filter, update, options);
    else await collection.updateOne(filter, update, options);
  } else if (write.many) await collection.deleteMany(filter, options);
  else await collection.deleteOne(filter, options);
}

class MongoAdapterCollection implements Collection {
  constructor(
    private readonly collection: MongoCollection<MongoDoc>,
    private readonly name: CollectionName,
  ) {}

  async insertOne(doc: Doc): Promise<void> {
    await guard(() => this.collection.insertOne(toStored(doc)));
  }

  /**
   * Unordered bulk insert. Per-document failures are only reported when the server answered for every
   * document and the write concern held; anything else (a network loss, no primary, a write-concern
   * error: the driver wraps them all in a MongoBulkWriteError with no writeErrors) is STORE_UNAVAILABLE,
   * because which documents were written is then unknown.
   */
  async insertMany(docs: Doc[]): Promise<{ inserted: number; failures: { index: number; error: Error }[] }> {
    if (docs.length === 0) return { inserted: 0, failures: [] };
    try {
      const result = await this.collection.insertMany(docs.map(toStored), { ordered: false });
      return { inserted: result.insertedCount, failures: [] };
    } catch (err) {
      const bulk = err as { writeErrors?: unknown; insertedCount?: number; result?: { getWriteConcernError?(): unknown } };
      const writeErrors = bulk.writeErrors === undefined ? [] : Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
      const writeConcernFailed = Boolean(bulk.result?.getWriteConcernError?.());
      const answered = writeErrors.length > 0 && !writeConcernFailed && (bulk.insertedCount ?? -1) + writeErrors.length === docs.length;
      if (!answered) throw unavailable(err);
      const failures = (writeErrors as { index: number; errmsg?: string; code?: number; keyValue?: Document }[]).map((w) => ({
        index: w.index,
        error: w.code === DUPLICATE_KEY ? duplicate(w) : unavailable(new Error(w.errmsg)),
      }));
      return { inserted: docs.length - failures.length, failures };
    }
  }

  async findOne(filter: Filter, options: FindOptions = {}): Promise<Doc | null> {
    const [doc] = await this.find(filter, merged(options, { limit: 1 }));
    return doc ?? null;
  }

  async values(field: string, filter: Filter, options: ValuesOptions): Promise<Scalar[]> {
    const limit = checkValuesRead(this.name, field, options.limit);
    return guard(async () => {
      // Only the indexed field, without _id: the server answers from the index (a covered query), and in one
      // batch (a first batch is otherwise 101 documents, then a round trip per getMore).
      const cursor = this.collection
        .find(toMongoFilter(filter))
        .project({ _id: 0, [field]: 1 })
        .sort({ [field]: options.order ?? 1 })
        .limit(limit)
        .batchSize(limit);
      return (await cursor.toArray()).map((doc) => (doc[field] ?? null) as Scalar);
    });
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<Doc[]> {
    return guard(async () => {
      let cursor = this.collection.find(toMongoFilter(filter));
      if (options.fields) cursor = cursor.project(Object.fromEntries(options.fields.map((f) => [f, 1])));
      if (options.sort) cursor = cursor.sort(renameId(options.sort) as Sort);
      if (options.skip) cursor = cursor.skip(options.skip);
      if (options.limit) cursor = cursor.limit(options.limit);
      return (await cursor.toArray()).map((doc) => fromStored(doc));
    });
  }

  count(filter: Filter): Promise<number> {
    return guard(() => this.collection.countDocuments(toMongoFilter(filter)));
  }

  async updateOne(filter: Filter, update: Update): Promise<boolean> {
    const result = await guard(() => this.collection.updateOne(toMongoFilter(filter), toMongoUpdate(update)));
    return result.matchedCount > 0;
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    const result = await guard(() => this.collection.updateMany(toMongoFilter(filter), toMongoUpdate(update)));
    return result.matchedCount;
  }

  async deleteOne(filter: Filter): Promise<boolean> {
    const result = await guard(() => this.collection.deleteOne(toMongoFilter(filter)));
    return result.deletedCount > 0;
  }

  async deleteMany(filter: Filter): Promise<number> {
    const result = await guard(() => this.collection.deleteMany(toMongoFilter(filter)));
    return result.deletedCount;
  }
}

/**
 * Runs a driver call: a unique-index collision becomes DUPLICATE, a write refused for the document's content
 * VALIDATION (as the embedded store refuses it), every other failure STORE_UNAVAILABLE.
 */
async function guard<R>(operation: () => Promise<R>): Promise<R> {
  try {
    return await operation();
  } catch (err) {
    if (isDuplicateKey(err)) throw duplicate(err as MongoServerError);
    if (err instanceof MongoServerError && err.code === TYPE_MISMATCH) throw new IpamError('VALIDATION', `MongoDB: ${err.message}`);
    throw unavailable(err);
  }
}

/**
 * The server's answer that a single-document write was not applied (a write concern error says it may have
 * been). Not for updateMany/deleteMany, which report an error after changing some documents.
 */
function refused(err: unknown): boolean {
  return err instanceof MongoServerError && !(err instanceof MongoWriteConcernError);
}

/** A plain E11000 only: a bulk error whose first write error was one is not the whole story (see insertMany). */
function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY && err.name !== 'MongoBulkWriteError';
}

function duplicate(err: { errmsg?: string; message?: string; keyValue?: Document }): Error {
  const keyValue = err.keyValue ?? parseKeyValue(err.errmsg ?? err.message ?? '');
  const [stored, value] = Object.entries(keyValue ?? {})[0] ?? ['key', undefined];
  const field = stored === '_id' ? 'id' : stored;
  return new IpamError('DUPLICATE', `${field} ${JSON.stringify(value)} already exists`, { field, value });
}

/** Older servers' bulk write errors carry only the message: `... dup key: { key: "x" }`. */
function parseKeyValue(message: string): Document | undefined {
  const match = /dup key: \{ (\w+): "?(.*?)"? \}/.exec(message);
  return match ? { [match[1]]: match[2] } : undefined;
}

function unavailable(err: unknown): Error {
  if (err instanceof IpamError) return err;
  const name = (err as Error)?.name ?? 'Error';
  return new IpamError('STORE_UNAVAILABLE', `MongoDB (${name}): ${(err as Error)?.message ?? String(err)}`);
}

function toMongoFilter(filter: Filter): MongoFilter<MongoDoc> {
  return renameId(filter) as MongoFilter<MongoDoc>;
}

function toMongoUpdate(update: Update): UpdateFilter<MongoDoc> {
  return update as UpdateFilter<MongoDoc>;
}
