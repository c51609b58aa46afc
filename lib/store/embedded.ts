/**
 * Embedded store: SQLite through better-sqlite3, one file `ipam.sqlite` in the configured directory (or in
 * memory for tests). A document store behind the port: a table per collection (`id`, `doc` as JSON) with an
 * expression index on (type rank, value) for each index of schema.ts, unique and partial unique ones enforced
 * by SQLite. WAL journal, `synchronous = FULL`: an acknowledged write survives a process kill and a power loss.
 * Several processes may share the file: SQLite's file locks serialise writers, the unique indexes keep
 * allocation unique. Big reads and writes go in chunks that yield to the event loop.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { IpamError } from '../errors';
import { applyUpdate } from './apply-update';
import { convertNedbDirectory } from './nedb-convert';
import type { Collection, CollectionName, Comparison, Condition, Doc, Filter, FindOptions, IndexSpec, PreparedCall, Scalar, Store, Update, ValuesOptions, Write } from './port';
import { checkValuesRead, COLLECTIONS, INDEXES, SCALARS } from './schema';
import { isPlainField, literalPath, parametersOf, rank, rankSql, shapeOf, tableDdl, translate, valueSql } from './sqlite-query';
import { merged } from '../own';

type Db = Database.Database;
type Statement = Database.Statement;

export const DATA_FILE = 'ipam.sqlite';
/** How long a write waits for another process's write transaction before failing with STORE_UNAVAILABLE. */
const BUSY_TIMEOUT_MS = 5000;
/** Rows per chunk of a big update, delete or insert; each chunk is one short transaction. */
const CHUNK_ROWS = 500;
/** A long read gives the event loop a turn at least this often. */
const YIELD_EVERY_MS = 10;
/** Results up to this size are read in one call; larger (or unlimited) ones in yielding pages. */
const SMALL_RESULT = 1000;
/** SQL texts kept per collection (by query shape); past this many they are made again. */
const QUERIES_KEPT = 500;

/**
 * SQL by collection, purpose and filter shape (sqlite-query.ts shapeOf), for every store of the process: the
 * text depends on nothing else (the collection's indexes and scalar fields are schema.ts constants), so a
 * store opened again (each Node-RED deploy) does not translate its queries again on its first calls.
 */
const QUERIES = new Map<CollectionName, Map<string, string>>(COLLECTIONS.map((name) => [name, new Map()]));

export interface EmbeddedOptions {
  /** Directory of the data file; omit for an in-memory store (tests). */
  directory?: string;
  /** `FULL` (default): every commit is fsynced. `NORMAL` survives a process kill but may lose the last commits on power loss. */
  synchronous?: 'FULL' | 'NORMAL';
  /** Where the one-time conversion from the old nedb files reports (default: console.log). */
  log?: (message: string) => void;
  /**
   * Index entries per step of a large count (default 10,000; tests use small ones). One step is one synchronous
   * call, and steps of 50,000 risked the 100 ms stall bound on a loaded 2-core machine (the recount of a block
   * after a 1M-row import counts in such steps).
   */
  countStep?: number;
}

export async function openEmbeddedStore(options: EmbeddedOptions = {}): Promise<Store> {
  const { directory } = options;
  try {
    if (directory) {
      fs.mkdirSync(directory, { recursive: true });
      await convertNedbDirectory(directory, path.join(directory, DATA_FILE), options.log ?? console.log);
    }
    const file = directory ? path.join(directory, DATA_FILE) : ':memory:';
    const db = connect(file, options.synchronous ?? 'FULL');
    try {
      createSchema(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteStore(db, directory ? file : undefined, options.synchronous ?? 'FULL', options.countStep ?? 10_000);
  } catch (err) {
    throw new IpamError('STORE_UNAVAILABLE', `embedded store at ${directory ?? '(memory)'}: ${(err as Error).message}`);
  }
}

function connect(file: string, synchronous: 'FULL' | 'NORMAL'): Db {
  const db = new Database(file);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  // 64 MiB of page cache (default 2 MiB): the indexes of a large store stay in memory between writes.
  db.pragma('cache_size = -65536');
  // Checkpoints run in small steps after commits (1000 pages); the WAL file is cut back after each.
  db.pragma('wal_autocheckpoint = 1000');
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  return db;
}

export function indexName(collection: CollectionName, field: string): string {
  return `${collection}__${field}`;
}

/** Tables and indexes, in one write transaction so two processes opening a new file do not race. */
function createSchema(db: Db): void {
  db.transaction(() => {
    for (const name of COLLECTIONS) {
      db.exec(tableDdl(name));
      for (const index of INDEXES[name]) db.exec(indexDdl(name, index));
    }
  }).immediate();
}

export function indexDdl(collection: CollectionName, index: IndexSpec): string {
  const field = literalPath(index.field);
  const partial = index.sparse ? ` WHERE ${valueSql(field)} IS NOT NULL` : '';
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS "${indexName(collection, index.field)}" ON "${collection}" (${rankSql(field)}, ${valueSql(field)})${partial}`;
}

class SqliteStore implements Store {
  readonly kind = 'embedded' as const;
  readonly transactional = true;
  private closed = false;
  private readonly collections = new Map<CollectionName, SqliteCollection>();
  private readonly statements = new Map<string, Statement>();
  /** Idle connections for long reads, which page through their own snapshot while the main one writes. */
  private readonly readers: { db: Db; statements: Map<string, Statement> }[] = [];
  /** Runs its argument in one IMMEDIATE transaction; made once, as better-sqlite3 builds four wrappers per `transaction()`. */
  private readonly immediate: <R>(work: () => R) => R;

  constructor(
    readonly db: Db,
    private readonly file: string | undefined,
    private readonly synchronous: 'FULL' | 'NORMAL',
    readonly countStep: number,
  ) {
    for (const name of COLLECTIONS) this.collections.set(name, new SqliteCollection(this, name));
    this.immediate = db.transaction((work: () => unknown) => work()).immediate as <R>(work: () => R) => R;
  }

  collection<T extends Doc = Doc>(name: CollectionName): Collection<T> {
    this.checkOpen();
    return this.collections.get(name) as unknown as Collection<T>;
  }

  async atomic(writes: Write[], _ifUndone?: Write[], settle: Write[] = []): Promise<void> {
    this.checkOpen();
    guard(() =>
      this.immediate(() => {
        for (const write of settle.length > 0 ? [...writes, ...settle] : writes) {
          const collection = this.collections.get(write.collection)!;
          if (write.op === 'insert') collection.insertSync(write.doc);
          else if (write.op === 'update') collection.updateSync(write.filter, write.update, write.many ?? false);
          else collection.deleteSync(write.filter, write.many ?? false);
        }
      }),
    );
  }

  now(): Promise<number> {
    return Promise.resolve(Date.now());
  }

  prepare(calls: PreparedCall[]): void {
    this.checkOpen();
    for (const call of calls) {
      const name = 'write' in call ? call.write.collection : call.collection;
      guard(() => this.statement(this.collections.get(name)!.firstSql(call)));
    }
  }

  statement(sql: string): Statement {
    this.checkOpen();
    return cached(this.db, this.statements, sql);
  }

  /** Runs a read on a connection of its own (the main one when in memory), for reads that yield part-way. */
  async withReader<R>(read: (statement: (sql: string) => Statement, yielding: boolean) => Promise<R>): Promise<R> {
    this.checkOpen();
    // In memory there is one connection, busy while a statement iterates: such reads go in one call.
    if (!this.file) return read((sql) => this.statement(sql), false);
    const reader = this.readers.pop() ?? { db: connect(this.file, this.synchronous), statements: new Map<string, Statement>() };
    try {
      return await read((sql) => cached(reader.db, reader.statements, sql), true);
    } finally {
      if (this.closed) reader.db.close();
      else this.readers.push(reader);
    }
  }

  /** Runs a synchronous write in one (IMMEDIATE) transaction: compare-and-set holds across processes too. */
  transaction<R>(work: () => R): R {
    this.checkOpen();
    return guard(() => this.immediate(work));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const reader of this.readers.splice(0)) reader.db.close();
    this.db.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new IpamError('STORE_UNAVAILABLE', 'the embedded store is closed');
  }
}

/** The rows `find` reads first: all of a small limit, else one past SMALL_RESULT (it reads on in pages beyond). */
function firstRows(limit: number | undefined): number {
  return limit !== undefined && limit <= SMALL_RESULT ? limit : SMALL_RESULT + 1;
}

function cached(db: Db, statements: Map<string, Statement>, sql: string): Statement {
  let statement = statements.get(sql);
  if (!statement) {
    if (statements.size > 500) statements.clear();
    statement = db.prepare(sql);
    statements.set(sql, statement);
  }
  return statement;
}

interface Row {
  rowid: number;
  id: string;
  doc: string;
}

type Sort = Record<string, 1 | -1>;

class SqliteCollection implements Collection {
  private readonly indexed: Set<string>;
  /** Fields that hold a scalar or nothing (the indexed ones and schema.ts SCALARS): checked on write, so a query of one needs no array case. */
  private readonly scalars: Set<string>;
  private readonly table: string;
  /**
   * This collection's QUERIES: a query run again with other values skips the translation, and its text is the
   * same string, whose hash the statement cache does not compute again.
   */
  private readonly queries: Map<string, string>;
  private readonly insertSql: string;
  /** incrementById's SQL per field. */
  private readonly increments = new Map<string, string>();

  /** The collection's indexes: schema.ts INDEXES, which the SQL shared between stores (QUERIES) is made for. */
  private readonly indexes: IndexSpec[];

  constructor(
    private readonly store: SqliteStore,
    private readonly name: CollectionName,
  ) {
    this.indexes = INDEXES[name];
    this.indexed = new Set(this.indexes.map((index) => index.field));
    this.scalars = new Set([...this.indexed, ...SCALARS[name]]);
    this.table = `"${name}"`;
    this.insertSql = `INSERT INTO ${this.table} (id, doc) VALUES (?, ?)`;
    this.queries = QUERIES.get(name)!;
  }

  async insertOne(doc: Doc): Promise<void> {
    this.store.transaction(() => this.insertSync(doc));
  }

  async insertMany(docs: Doc[]): Promise<{ inserted: number; failures: { index: number; error: Error }[] }> {
    const failures: { index: number; error: Error }[] = [];
    for (let start = 0; start < docs.length; start += CHUNK_ROWS) {
      if (start > 0) await yieldToLoop();
      this.store.transaction(() => {
        for (let index = start; index < Math.min(start + CHUNK_ROWS, docs.length); index++) {
          try {
            this.insertSync(docs[index]);
          } catch (err) {
            if (!(err instanceof IpamError)) throw err;
            failures.push({ index, error: err });
          }
        }
      });
    }
    return { inserted: docs.length - failures.length, failures };
  }

  insertSync(doc: Doc): void {
    const { id } = doc;
    if (typeof id !== 'string') throw new IpamError('VALIDATION', `id ${JSON.stringify(id)}: must be a string`, { field: 'id', value: id });
    this.checkScalars(doc);
    try {
      this.store.statement(this.insertSql).run(id, storedText(doc));
    } catch (err) {
      throw this.normalise(err, doc);
    }
  }

  async findOne(filter: Filter, options: FindOptions = {}): Promise<Doc | null> {
    const [doc] = await this.find(filter, merged(options, { limit: 1 }));
    return doc ?? null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<Doc[]> {
    const limit = options.limit ? Math.floor(options.limit) : undefined;
    const projection = options.fields && projected(options.fields);
    const toDoc = (row: Row) => (projection ? pickedDoc(row, options.fields!) : this.toDoc(row, options.fields));
    const small = limit !== undefined && limit <= SMALL_RESULT;
    // The SQL first: a filter outside the store's subset is refused by the translation, with its reason.
    const first = this.findSql(filter, options, firstRows(limit), projection);
    const params = this.paramsOf(filter, options.sort);
    if (small) return guard(() => (this.store.statement(first).all(params) as Row[]).map(toDoc));
    // Most results are small: read on the main connection in one call, given up (and read again, whole, in
    // yielding pages on a reader) once it passes SMALL_RESULT rows or YIELD_EVERY_MS.
    const rows = this.readBounded(first, params);
    if (rows) return rows.map(toDoc);
    return this.store.withReader(async (statement, yielding) => {
      const docs: Doc[] = [];
      await paged(statement(this.findSql(filter, options, limit, projection)), params, yielding, (row) => docs.push(toDoc(row)));
      return docs;
    });
  }

  /** `find`'s SQL reading at most `rows` rows (undefined: all); `projection`: `projected(options.fields)`. */
  private findSql(filter: Filter, options: FindOptions, rows: number | undefined, projection = options.fields && projected(options.fields)): string {
    const offset = options.skip ? ` OFFSET ${Math.floor(options.skip)}` : '';
    const purpose = `find|${offset}|${projection ? JSON.stringify(options.fields) : ''}|${rows}`;
    return this.sqlOf(purpose, filter, options.sort, (where, order) => {
      const columns = projection ? ['id', ...projection.map((path, i) => `doc -> '${path}' AS f${i}`)].join(', ') : 'id, doc';
      // No rowid tiebreak: it would keep SQLite from reading a sorted page straight off the index (ties are unordered).
      return `SELECT ${columns} FROM ${this.table} WHERE ${where}${order}${rows !== undefined ? ` LIMIT ${rows}` : offset ? ' LIMIT -1' : ''}${offset}`;
    });
  }

  /** The SQL a call runs first (`Store.prepare`): for a find, its first read (`find` reads on in pages past SMALL_RESULT). */
  firstSql(call: PreparedCall): string {
    if ('find' in call) return this.findSql(call.find, call.options ?? {}, firstRows(call.options?.limit ? Math.floor(call.options.limit) : undefined));
    if ('values' in call) return this.valuesSql(call.values, call.filter, call.options).sql;
    const { write } = call;
    if (write.op === 'insert') return this.insertSql;
    if (write.op === 'update') return this.incrementSql(write.filter, write.update)?.sql ?? this.updateSql(write.filter, write.many ?? false);
    return this.deleteSql(write.filter, write.many ?? false);
  }

  /** A statement's rows, or undefined once they pass SMALL_RESULT rows or take YIELD_EVERY_MS (a scan matching few rows). */
  private readBounded(sql: string, params: Record<string, unknown>): Row[] | undefined {
    return guard(() => {
      const rows: Row[] = [];
      const started = performance.now();
      for (const row of this.store.statement(sql).iterate(params) as IterableIterator<Row>) {
        rows.push(row);
        if (rows.length > SMALL_RESULT || performance.now() - started > YIELD_EVERY_MS) return undefined;
      }
      return rows;
    });
  }

  async count(filter: Filter): Promise<number> {
    if (Object.keys(filter).every((field) => field === 'id' || this.indexed.has(field))) {
      const step = this.store.countStep;
      const sql = this.sqlOf(`count|${step}`, filter, undefined, (where) => `SELECT count(*) AS n FROM (SELECT 1 FROM ${this.table} WHERE ${where} LIMIT ${step + 1})`);
      const params = this.paramsOf(filter);
      const capped = guard(() => (this.store.statement(sql).get(params) as { n: number }).n);
      const stepField = capped > step ? this.steppingField(filter) : undefined;
      if (!stepField) return capped > step ? this.countAll(filter) : capped;
      return this.countInSteps(filter, stepField, step);
    }
    // A field without an index means reading documents: counted in pages that yield, like a large find.
    return this.countAll(filter);
  }

  async values(field: string, filter: Filter, options: ValuesOptions): Promise<Scalar[]> {
    const { sql, sort, oneType } = this.valuesSql(field, filter, options);
    const params = this.paramsOf(filter, sort);
    return guard(() => {
      const statement = this.store.statement(sql);
      if (oneType) return statement.pluck(true).all(params) as Scalar[];
      // json_extract gives null for null and missing alike, and 1 or 0 for a boolean.
      return (statement.raw(true).all(params) as [number, Scalar][]).map(([typeRank, value]) => (typeRank === BOOLEAN_RANK ? value === 1 : value));
    });
  }

  private valuesSql(field: string, filter: Filter, options: ValuesOptions): { sql: string; sort: Sort; oneType: boolean } {
    const limit = checkValuesRead(this.name, field, options.limit);
    const sort = { [field]: options.order ?? 1 };
    const path = literalPath(field);
    // Bounded by a string or a number, every value is of that type: the value column alone answers, as plain
    // values (a row object per value costs as much as reading it). The index's own expressions and no other
    // column, so SQLite reads the index alone (a covering index).
    const oneType = boundToOneType(filter[field]);
    const columns = oneType ? valueSql(path) : `${rankSql(path)} AS r, ${valueSql(path)} AS v`;
    // The limit written into the SQL: bound as a parameter, it made SQLite take 30 µs instead of 6 for 8 keys.
    const sql = this.sqlOf(`values|${field}|${oneType}|${limit}`, filter, sort, (where, order) => `SELECT ${columns} FROM ${this.table} WHERE ${where}${order} LIMIT ${limit}`);
    return { sql, sort, oneType };
  }

  /** The values `sqlOf`'s SQL for this filter (and sort) binds. */
  private paramsOf(filter: Filter, sort?: Sort): Record<string, unknown> {
    return parametersOf(filter, sort, this.scalars);
  }

  /** The rowids of the documents matching a filter (a count or a chunked write reads them in yielding pages). */
  private rowidsSql(filter: Filter): string {
    return this.sqlOf('rowids', filter, undefined, (where) => `SELECT rowid FROM ${this.table} WHERE ${where}`);
  }

  /** The SQL `build` makes of the filter's (and sort's) translation, kept per purpose and filter shape. */
  private sqlOf(purpose: string, filter: Filter, sort: Sort | undefined, build: (where: string, order: string) => string): string {
    const key = `${purpose}#${shapeOf(filter, sort)}`;
    let sql = this.queries.get(key);
    if (sql === undefined) {
      const { where, order } = translate(filter, sort, this.scalars);
      sql = build(where, order);
      if (this.queries.size >= QUERIES_KEPT) this.queries.clear();
      this.queries.set(key, sql);
    }
    return sql;
  }

  /** A unique indexed field the filter bounds by string comparisons only: big counts can walk its order in steps. */
  private steppingField(filter: Filter): string | undefined {
    return this.indexes
      .filter((index) => index.unique && !index.sparse)
      .map((index) => index.field)
      .find((field) => {
        const condition = filter[field];
        if (condition === null || typeof condition !== 'object') return false;
        const bounds = Object.entries(condition);
        return bounds.length > 0 && bounds.every(([op, value]) => ['$gt', '$gte', '$lt', '$lte'].includes(op) && typeof value === 'string');
      });
  }

  /**
   * Counts a large interval `step` index entries at a time (each step one short call, the event loop served
   * in between): the value `step` entries on becomes the next step's exclusive lower bound.
   */
  private async countInSteps(filter: Filter, field: string, step: number): Promise<number> {
    const { $gt: _gt, $gte: _gte, ...upper } = filter[field] as Comparison;
    let bounds = filter[field] as Comparison;
    let total = 0;
    for (;;) {
      const stepFilter = { ...filter, [field]: bounds };
      const { where, order, params } = translate(stepFilter, { [field]: 1 }, this.scalars);
      const sql = `SELECT json_extract(doc, ${literalPath(field)}) AS v FROM ${this.table} WHERE ${where}${order} LIMIT 1 OFFSET ${step - 1}`;
      const row = guard(() => this.store.statement(sql).get(params)) as { v: string } | undefined;
      if (!row) {
        const { where: rest, params: restParams } = translate(stepFilter, undefined, this.scalars);
        return total + guard(() => (this.store.statement(`SELECT count(*) AS n FROM ${this.table} WHERE ${rest}`).get(restParams) as { n: number }).n);
      }
      total += step;
      bounds = { ...upper, $gt: row.v };
      await yieldToLoop();
    }
  }

  private async countAll(filter: Filter): Promise<number> {
    const sql = this.rowidsSql(filter);
    const params = this.paramsOf(filter);
    let n = 0;
    await this.store.withReader((statement, yielding) => paged(statement(sql), params, yielding, () => n++));
    return n;
  }

  async updateOne(filter: Filter, update: Update): Promise<boolean> {
    return this.store.transaction(() => this.updateSync(filter, update, false)) > 0;
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    let matched = 0;
    for (const chunk of await this.matchingRowids(filter)) {
      matched += this.store.transaction(() => this.updateRows(this.rowsAmong(chunk, filter), update));
      await yieldToLoop();
    }
    return matched;
  }

  async deleteOne(filter: Filter): Promise<boolean> {
    return this.store.transaction(() => this.deleteSync(filter, false)) > 0;
  }

  async deleteMany(filter: Filter): Promise<number> {
    let deleted = 0;
    const sql = this.sqlOf('delete rowids', filter, undefined, (where) => `DELETE FROM ${this.table} WHERE rowid IN (SELECT value FROM json_each(@rowids)) AND ${where}`);
    const params = this.paramsOf(filter);
    for (const chunk of await this.matchingRowids(filter)) {
      deleted += this.store.transaction(() => this.store.statement(sql).run({ ...params, rowids: JSON.stringify(chunk) }).changes);
      await yieldToLoop();
    }
    return deleted;
  }

  /** Within the caller's transaction. */
  updateSync(filter: Filter, update: Update, many: boolean): number {
    const increment = this.incrementSql(filter, update);
    if (increment && this.store.statement(increment.sql).run({ id: filter.id, by: increment.by }).changes > 0) return 1;
    const rows = this.store.statement(this.updateSql(filter, many)).all(this.paramsOf(filter)) as Row[];
    return this.updateRows(rows, update);
  }

  /** The rows an update rewrites (it reads them, then writes each). */
  private updateSql(filter: Filter, many: boolean): string {
    return this.sqlOf(`update|${many}`, filter, undefined, (where) => `SELECT rowid, id, doc FROM ${this.table} WHERE ${where}${many ? '' : ' LIMIT 1'}`);
  }

  /** Within the caller's transaction. */
  deleteSync(filter: Filter, many: boolean): number {
    return this.store.statement(this.deleteSql(filter, many)).run(this.paramsOf(filter)).changes;
  }

  private deleteSql(filter: Filter, many: boolean): string {
    return this.sqlOf(`delete|${many}`, filter, undefined, (where) =>
      `DELETE FROM ${this.table} WHERE ${many ? where : `rowid = (SELECT rowid FROM ${this.table} WHERE ${where} LIMIT 1)`}`,
    );
  }

  /**
   * `{id}` and `{$inc: {field: n}}` on an integer field outside the indexes (the counters: two per allocation)
   * as one statement, without reading and rewriting the document in JavaScript; undefined when it does not
   * apply. When the statement changes nothing (no such document, or the field is missing, not an integer or
   * would pass 2^53), the general path decides, with its errors.
   */
  private incrementSql(filter: Filter, update: Update): { sql: string; by: number } | undefined {
    const { $inc: increments, ...others } = update;
    if (!increments || Object.keys(others).length > 0 || typeof filter.id !== 'string' || Object.keys(filter).length !== 1) return undefined;
    const fields = Object.keys(increments);
    const by = increments[fields[0]];
    if (fields.length !== 1 || !isPlainField(fields[0]) || this.indexed.has(fields[0]) || !Number.isSafeInteger(by) || by === 0) return undefined;
    let sql = this.increments.get(fields[0]);
    if (sql === undefined) {
      const path = literalPath(fields[0]);
      const sum = `json_extract(doc, ${path}) + CAST(@by AS INTEGER)`;
      sql = `UPDATE ${this.table} SET doc = json_set(doc, ${path}, ${sum}) WHERE id = @id AND json_type(doc, ${path}) = 'integer' AND abs(${sum}) <= ${Number.MAX_SAFE_INTEGER}`;
      // The same string each time: the statement cache does not hash a new one per call.
      if (this.increments.size < QUERIES_KEPT) this.increments.set(fields[0], sql);
    }
    return { sql, by };
  }

  private updateRows(rows: Row[], update: Update): number {
    const write = this.store.statement(`UPDATE ${this.table} SET doc = ? WHERE rowid = ?`);
    for (const row of rows) {
      const { id: _id, ...after } = applyUpdate({ id: row.id, ...(JSON.parse(row.doc) as Record<string, unknown>) }, update, true);
      this.checkScalars(after);
      const text = JSON.stringify(after);
      if (text === row.doc) continue;
      try {
        write.run(text, row.rowid);
      } catch (err) {
        throw this.normalise(err, { id: row.id, ...after });
      }
    }
    return rows.length;
  }

  /** The rowids matching a filter now, in chunks, read in pages that yield. */
  private async matchingRowids(filter: Filter): Promise<number[][]> {
    const sql = this.rowidsSql(filter);
    const params = this.paramsOf(filter);
    const chunks: number[][] = [[]];
    await this.store.withReader((statement, yielding) =>
      paged(statement(sql), params, yielding, (row) => {
        if (chunks[chunks.length - 1].length >= CHUNK_ROWS) chunks.push([]);
        chunks[chunks.length - 1].push(row.rowid);
      }),
    );
    return chunks[0].length > 0 ? chunks : [];
  }

  /** Rows of a chunk that still match (another writer may have changed them since they were listed). */
  private rowsAmong(rowids: number[], filter: Filter): Row[] {
    const sql = this.sqlOf('among rowids', filter, undefined, (where) => `SELECT rowid, id, doc FROM ${this.table} WHERE rowid IN (SELECT value FROM json_each(@rowids)) AND ${where}`);
    return this.store.statement(sql).all({ ...this.paramsOf(filter), rowids: JSON.stringify(rowids) }) as Row[];
  }

  private toDoc(row: Row, fields?: string[]): Doc {
    const doc = JSON.parse(row.doc) as Record<string, unknown>;
    if (!fields) return { id: row.id, ...doc };
    const picked: Doc = { id: row.id };
    for (const field of fields) if (Object.hasOwn(doc, field)) picked[field] = doc[field];
    return picked;
  }

  /** Indexed fields and SCALARS hold scalars (or are missing): the indexes and the translated filters rely on it. */
  private checkScalars(doc: Record<string, unknown>): void {
    for (const field of this.scalars) {
      const value = doc[field];
      if (value !== null && typeof value === 'object') {
        throw new IpamError('VALIDATION', `${field} ${JSON.stringify(value)}: ${this.indexed.has(field) ? 'an indexed' : 'this'} field holds a string, number, boolean or null`, {
          field,
          value,
        });
      }
    }
  }

  private normalise(err: unknown, doc: Record<string, unknown>): Error {
    const e = err as { code?: string; message?: string };
    if (e.code !== 'SQLITE_CONSTRAINT_UNIQUE' && e.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return err as Error;
    const index = /index '([^']+)'/.exec(e.message ?? '')?.[1];
    const spec = this.indexes.find((i) => indexName(this.name, i.field) === index);
    const field = spec?.field ?? 'id';
    const value = doc[field];
    return new IpamError('DUPLICATE', `${field} ${JSON.stringify(value)} already exists`, { field, value });
  }
}

/**
 * A document's stored text: its JSON without `id`, which has a column of its own. Documents are mostly built
 * with `id` first, and then the text is their JSON with that first member cut out (no copy of the document).
 */
export function storedText(doc: Doc): string {
  const text = JSON.stringify(doc);
  const id = doc.id;
  // `{"id":"<id>"` with the id's own characters: an id that JSON escapes does not match (an unescaped `"` can only
  // close the string), and goes the long way. Compared in place: building the expected head cost 1 µs a document.
  if (typeof id === 'string' && text.startsWith('{"id":"') && text.substring(7, 7 + id.length) === id && text.charCodeAt(7 + id.length) === QUOTE) {
    const next = text.charCodeAt(8 + id.length);
    if (next === CLOSE_BRACE) return '{}';
    if (next === COMMA) return `{${text.slice(9 + id.length)}`;
  }
  const { id: _id, ...rest } = doc;
  return JSON.stringify(rest);
}

const BOOLEAN_RANK = rank(true);

const QUOTE = 34;
const COMMA = 44;
const CLOSE_BRACE = 125;

/**
 * A top-level field's JSON path for `->`, which gives the value as JSON text (NULL when missing): a projection
 * then parses a few short values instead of the whole document. Undefined when a name needs more quoting than `"`.
 */
function projected(fields: string[]): string[] | undefined {
  const paths: string[] = [];
  for (const field of fields) {
    if (!/^[^"'\\\u0000-\u001f]+$/.test(field)) return undefined;
    paths.push(`$."${field}"`);
  }
  return paths;
}

/** Whether a condition matches values of one type only, a string or a number (the port's comparisons stay within their bound's type). */
function boundToOneType(condition: Condition | undefined): boolean {
  const plain = (value: unknown) => typeof value === 'string' || typeof value === 'number';
  if (condition === null || typeof condition !== 'object') return plain(condition);
  return [condition.$gt, condition.$gte, condition.$lt, condition.$lte].some(plain);
}

function pickedDoc(row: Row, fields: string[]): Doc {
  const picked: Doc = { id: row.id };
  const values = row as unknown as Record<string, string | null>;
  fields.forEach((field, i) => {
    const json = values[`f${i}`];
    if (field !== 'id' && json !== null) picked[field] = JSON.parse(json);
  });
  return picked;
}

/** Steps through a statement's rows, giving the event loop a turn every YIELD_EVERY_MS. */
async function paged(statement: Statement, params: Record<string, unknown>, yielding: boolean, visit: (row: Row) => void): Promise<void> {
  if (!yielding) {
    for (const row of guard(() => statement.all(params)) as Row[]) visit(row);
    return;
  }
  const rows = guard(() => statement.iterate(params)) as IterableIterator<Row>;
  let since = performance.now();
  try {
    for (;;) {
      const step = guard(() => rows.next());
      if (step.done) return;
      visit(step.value);
      if (performance.now() - since > YIELD_EVERY_MS) {
        await yieldToLoop();
        since = performance.now();
      }
    }
  } finally {
    rows.return?.();
  }
}

/** SQLite errors other than unique collisions (already DUPLICATE) surface as STORE_UNAVAILABLE. */
function guard<R>(work: () => R): R {
  try {
    return work();
  } catch (err) {
    if (err instanceof IpamError) throw err;
    throw new IpamError('STORE_UNAVAILABLE', `embedded store: ${(err as Error).message}`);
  }
}
