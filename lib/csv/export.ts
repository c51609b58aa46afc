/**
 * `export`: a whole entity or the records matching a filter (record fields only), as CSV text or
 * streamed to a file, reading the store page by page in key order so memory does not grow with the set.
 */
import { stringify, type Stringifier } from 'csv-stringify';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { listCustomFields, addressFilters, findAny, toStoreFilter, historyPages, toRecord, type Entity, type Context } from '../record';
import { invalid } from '../errors';
import type { Doc, Filter } from '../store';
import { rangeGroupRows } from '../lifecycle';
import { exportHeader, recordToRow } from './rows';
import { DEFAULT_BATCH_SIZE, yieldToEventLoop, type ProgressListener } from './table';

export interface ExportOptions {
  entity: Entity;
  /** Record fields and plain values (`lib/record/filters.ts`); never query operators. */
  filter?: unknown;
  /** Write here instead of returning the CSV text. */
  filename?: string;
  batchSize?: number;
  onProgress?: ProgressListener;
}

export interface ExportFileResult {
  entity: Entity;
  filename: string;
  rows: number;
}

export async function exportCsv(ctx: Context, options: ExportOptions): Promise<string | ExportFileResult> {
  const { entity } = options;
  const filter = toStoreFilter(entity, options.filter);
  const definitions = await listCustomFields(ctx);
  let rows = 0;
  async function* lines(): AsyncGenerator<string[]> {
    yield exportHeader(entity, definitions);
    for await (const page of pages(ctx, entity, filter, options.batchSize ?? DEFAULT_BATCH_SIZE)) {
      for (const doc of page) yield recordToRow(entity, toRecord(doc, ctx), definitions);
      rows += page.length;
      options.onProgress?.(rows, 'exporting');
      await yieldToEventLoop();
    }
  }
  const written = await writeCsv(lines(), stringify({ quoted_match: /[\u201c\u201d]/ }), options.filename);
  return written === undefined ? { entity, filename: options.filename as string, rows } : written;
}

/**
 * Streams rows through the stringifier to the file, or collects the text (returned). One pipeline, so
 * an error thrown while producing rows rejects here instead of surfacing as an uncaught stream error.
 */
async function writeCsv(rows: AsyncIterable<string[]> | Iterable<string[]>, stringifier: Stringifier, filename: unknown): Promise<string | undefined> {
  if (filename !== undefined) {
    if (typeof filename !== 'string' || filename === '') throw invalid('filename', filename, 'must be a file path');
    try {
      await pipeline(Readable.from(rows), stringifier, fs.createWriteStream(filename));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined) {
        throw invalid('filename', filename, `cannot be written (${code})`);
      }
      throw err;
    }
    return undefined;
  }
  const parts: string[] = [];
  await pipeline(Readable.from(rows), stringifier, async (csv: AsyncIterable<unknown>) => {
    for await (const part of csv) parts.push(String(part));
  });
  return parts.join('');
}

/** Pages of documents in key order: each asks for the keys after the previous page's last (an indexed range scan). */
async function* pages(ctx: Context, entity: Entity, filter: Filter, size: number): AsyncGenerator<Doc[]> {
  const collection = ctx.store.collection(entity);
  // One moment for the whole export: an expiryStatus filter becomes expiryDate conditions once.
  const filters = addressFilters(ctx, filter);
  let after: string | undefined;
  for (;;) {
    const where = after === undefined ? filters : filters.map((filter) => ({ ...filter, key: { $gt: after as string } }));
    const page = await findAny(collection, where, { sort: { key: 1 }, limit: size });
    if (page.length > 0) yield page;
    if (page.length < size) return;
    after = page[page.length - 1].key as string;
  }
}

const HISTORY_COLUMNS = ['at', 'entity', 'id', 'key', 'addressSpace', 'operation', 'changes', 'source'] as const;

/**
 * History entries (lib/record/history.ts) oldest first, `changes` and `source` as JSON text. `filter`: `{entity?, id?,
 * address? / network?, addressSpace?, from?, to?}` as the `history` operation takes them.
 */
export async function exportHistory(ctx: Context, options: { filter?: unknown; filename?: string }): Promise<string | { entity: 'history'; filename: string; rows: number }> {
  const filter = options.filter === undefined || options.filter === null ? {} : options.filter;
  if (typeof filter !== 'object' || Array.isArray(filter)) throw invalid('filter', filter, 'must be an object such as {entity, from, to}');
  let rows = 0;
  async function* lines(): AsyncGenerator<string[]> {
    yield [...HISTORY_COLUMNS];
    for await (const entries of historyPages(ctx, filter as Record<string, unknown>)) {
      for (const entry of entries) {
        yield HISTORY_COLUMNS.map((column) => {
          const value = entry[column];
          return typeof value === 'object' ? JSON.stringify(value) : String(value);
        });
      }
      rows += entries.length;
      await yieldToEventLoop();
    }
  }
  const written = await writeCsv(lines(), stringify(), options.filename);
  return written === undefined ? { entity: 'history', filename: options.filename as string, rows } : written;
}

/** Range groups as rows (lib/lifecycle/range-groups.ts `rangeGroupRows`): one per group value, nested by criteria. */
export async function exportRangeGroups(ctx: Context, options: { group?: unknown; filename?: string }): Promise<string | { entity: 'rangeGroups'; filename: string; rows: number }> {
  const rows = await rangeGroupRows(ctx, typeof options.group === 'string' && options.group ? options.group : undefined);
  const columns = ['group', 'level', 'criterion', 'value', 'path', 'ranges', 'size', 'assigned', 'free', 'utilizedPercent'];
  const table = [columns, ...rows.map((row) => columns.map((c) => String(row[c] ?? '')))];
  const written = await writeCsv(table, stringify(), options.filename);
  return written === undefined ? { entity: 'rangeGroups', filename: options.filename as string, rows: rows.length } : written;
}
