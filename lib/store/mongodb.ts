/**
 * MongoDB adapter over the official driver. Thin on purpose: the port's filter subset is MongoDB's own,
 * so the work here is the `id`/`_id` mapping, index creation and error normalisation.
 */
import { MongoClient, MongoServerError } from 'mongodb';
import type { Collection as MongoCollection, Db, Document, Filter as MongoFilter, Sort, UpdateFilter } from 'mongodb';
import { IpamError, redact } from '../errors';
import type { Collection, CollectionName, Doc, Filter, FindOptions, Store, Update } from './port';
import type { Write } from './port';
import { applyWithUndo } from './sequential';
import { fromStored, renameId, toStored, type StoredDoc } from './ids';
import { COLLECTIONS, INDEXES } from './schema';

type MongoDoc = Document & StoredDoc;

export interface MongoOptions {
  uri: string;
  database: string;
  username?: string;
  password?: string;
  /** Server selection timeout; short so a wrong URI fails visibly rather than hanging a flow. */
  timeoutMs?: number;
}

const DUPLICATE_KEY = 11000;

export async function openMongoStore(options: MongoOptions): Promise<Store> {
  refusePasswordInUri(options.uri);
  let client: MongoClient | undefined;
  try {
    client = new MongoClient(options.uri, {
      serverSelectionTimeoutMS: options.timeoutMs ?? 5000,
      ...(options.username ? { auth: { username: options.username, password: options.password } } : {}),
    });
    await client.connect();
    const db = client.db(options.database);
    await createIndexes(db);
    return new MongoStore(client, db);
  } catch (err) {
    await client?.close().catch(() => undefined);
    throw new IpamError('STORE_UNAVAILABLE', `MongoDB uri ${JSON.stringify(redact(options.uri))}: ${(err as Error).message}`, {
      field: 'uri',
      value: redact(options.uri),
    });
  }
}

/** Passwords are credentials (Node-RED keeps them out of flow JSON); a URI carrying one is refused. */
export function refusePasswordInUri(uri: string): void {
  if (/^[a-z+]+:\/\/[^/@]*:[^/@]*@/i.test(uri)) {
    throw new IpamError('VALIDATION', `uri ${JSON.stringify(redact(uri))}: put the password in the credentials, not in the URI`, {
      field: 'uri',
      value: redact(uri),
    });
  }
}

async function createIndexes(db: Db): Promise<void> {
  for (const name of COLLECTIONS) {
    for (const index of INDEXES[name]) {
      await db.collection(name).createIndex(
        { [index.field]: 1 },
        { name: index.field, unique: index.unique ?? false, sparse: index.sparse ?? false },
      );
    }
  }
}

class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  readonly transactional = false;

  now(): Promise<number> {
    return Promise.resolve(Date.now());
  }

  atomic(writes: Write[]): Promise<void> {
    return applyWithUndo(this, writes);
  }

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
  ) {}

  collection<T extends Doc = Doc>(name: CollectionName): Collection<T> {
    return new MongoAdapterCollection(this.db.collection<MongoDoc>(name)) as unknown as Collection<T>;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

class MongoAdapterCollection implements Collection {
  constructor(private readonly collection: MongoCollection<MongoDoc>) {}

  async insertOne(doc: Doc): Promise<void> {
    await guard(() => this.collection.insertOne(toStored(doc)));
  }

  async insertMany(docs: Doc[]): Promise<{ inserted: number; failures: { index: number; error: Error }[] }> {
    if (docs.length === 0) return { inserted: 0, failures: [] };
    try {
      const result = await this.collection.insertMany(docs.map(toStored), { ordered: false });
      return { inserted: result.insertedCount, failures: [] };
    } catch (err) {
      const writeErrors = (err as { writeErrors?: { index: number; errmsg?: string; code?: number }[] }).writeErrors;
      if (!writeErrors) throw unavailable(err);
      const list = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
      const failures = list.map((w) => ({ index: w.index, error: w.code === DUPLICATE_KEY ? normalise(w) : unavailable(new Error(w.errmsg)) }));
      return { inserted: docs.length - failures.length, failures };
    }
  }

  async findOne(filter: Filter, options: FindOptions = {}): Promise<Doc | null> {
    const [doc] = await this.find(filter, { ...options, limit: 1 });
    return doc ?? null;
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

async function guard<R>(operation: () => Promise<R>): Promise<R> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) throw normalise(err);
    throw unavailable(err);
  }
}

function normalise(err: { errmsg?: string; message?: string; keyValue?: Document }): Error {
  const keyValue = err.keyValue ?? parseKeyValue(err.errmsg ?? err.message ?? '');
  const [field, value] = Object.entries(keyValue ?? {})[0] ?? ['key', undefined];
  return new IpamError('DUPLICATE', `${field} ${JSON.stringify(value)} already exists`, { field, value });
}

/** Bulk write errors carry only the server message: `... dup key: { key: "x" }`. */
function parseKeyValue(message: string): Document | undefined {
  const match = /dup key: \{ (\w+): "?(.*?)"? \}/.exec(message);
  return match ? { [match[1]]: match[2] } : undefined;
}

function unavailable(err: unknown): Error {
  if (err instanceof IpamError) return err;
  return new IpamError('STORE_UNAVAILABLE', `MongoDB: ${(err as Error).message}`);
}

function toMongoFilter(filter: Filter): MongoFilter<MongoDoc> {
  return renameId(filter) as MongoFilter<MongoDoc>;
}

function toMongoUpdate(update: Update): UpdateFilter<MongoDoc> {
  return update as UpdateFilter<MongoDoc>;
}

