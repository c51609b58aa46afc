/**
 * `export`: a whole entity or the records matching a filter (record fields only), as CSV text or
 * streamed to a file, reading the store page by page in key order so memory does not grow with the set.
 */
import { stringify } from 'csv-stringify';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { listCustomFields } from '../custom-fields';
import { invalid } from '../errors';
import { toStoreFilter } from '../filters';
import { toRecord, type Entity } from '../records';
import type { Context } from '../space';
import type { Doc, Filter } from '../store/port';
import { rangeGroupRows } from '../range-groups';
import { exportHeader, recordToRow } from './rows';
import { DEFAULT_BATCH_SIZE, yieldToEventLoop, type ProgressListener } from './table';

export interface ExportOptions {
  entity: Entity;
  /** Record fields and plain values (`lib/filters.ts`); never query operators. */
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
      for (const doc of page) yield recordToRow(entity, toRecord(doc), definitions);
      rows += page.length;
      options.onProgress?.(rows, 'exporting');
      await yieldToEventLoop();
    }
  }
  const csv = Readable.from(lines()).pipe(stringify({ quoted_match: /[\u201c\u201d]/ }));
  if (options.filename !== undefined) {
    if (typeof options.filename !== 'string' || options.filename === '') throw invalid('filename', options.filename, 'must be a file path');
    await pipeline(csv, fs.createWriteStream(options.filename));
    return { entity, filename: options.filename, rows };
  }
  const parts: string[] = [];
  for await (const part of csv) parts.push(String(part));
  return parts.join('');
}

/** Pages of documents in key order: each asks for the keys after the previous page's last (an indexed range scan). */
async function* pages(ctx: Context, entity: Entity, filter: Filter, size: number): AsyncGenerator<Doc[]> {
  const collection = ctx.store.collection(entity);
  let after: string | undefined;
  for (;;) {
    const page = await collection.find(after === undefined ? filter : { ...filter, key: { $gt: after } }, { sort: { key: 1 }, limit: size });
    if (page.length > 0) yield page;
    if (page.length < size) return;
    after = page[page.length - 1].key as string;
  }
}

/** Range groups as rows (lib/range-groups.ts `rangeGroupRows`): one per group value, nested by criteria. */
export async function exportRangeGroups(ctx: Context, options: { group?: unknown; filename?: string }): Promise<string | { entity: 'rangeGroups'; filename: string; rows: number }> {
  const rows = await rangeGroupRows(ctx, typeof options.group === 'string' && options.group ? options.group : undefined);
  const columns = ['group', 'level', 'criterion', 'value', 'path', 'ranges', 'size', 'assigned', 'free', 'utilizedPercent'];
  const csv = Readable.from([columns, ...rows.map((row) => columns.map((c) => String(row[c] ?? '')))]).pipe(stringify());
  if (options.filename !== undefined) {
    if (typeof options.filename !== 'string' || options.filename === '') throw invalid('filename', options.filename, 'must be a file path');
    await pipeline(csv, fs.createWriteStream(options.filename));
    return { entity: 'rangeGroups', filename: options.filename, rows: rows.length };
  }
  const parts: string[] = [];
  for await (const part of csv) parts.push(String(part));
  return parts.join('');
}
