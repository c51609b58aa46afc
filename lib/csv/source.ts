/**
 * Streaming CSV input: text, a Buffer or a file, parsed row by row so memory does not grow with the file.
 * Typographic double quotes around a name or value (as word processors and the guide's examples write
 * them) are read as plain quotes; spaces around names and values are ignored.
 */
import { parse } from 'csv-parse';
import fs from 'node:fs';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { IpamError, invalid } from '../errors';

export type CsvInput = { csv: string | Buffer } | { filename: string };

export interface CsvRow {
  /** Line number in the file where the row starts (the header is line 1). */
  line: number;
  values: string[];
}

/** Opens the input as rows; the first row is the header. */
export function readRows(input: CsvInput): AsyncIterable<CsvRow> {
  return rowsOf(openInput(input));
}

/** A readable stream of the CSV text or file (refusing a missing input with VALIDATION). */
export function openInput(input: CsvInput): Readable {
  if ('filename' in input && input.filename !== undefined) {
    if (typeof input.filename !== 'string' || input.filename === '') throw invalid('filename', input.filename, 'must be a file path');
    // 16 KiB reads (default 64): the parser turns each read into rows in one go, about 250 of them.
    return fs.createReadStream(input.filename, { highWaterMark: 16 * 1024 });
  }
  const csv = (input as { csv: unknown }).csv;
  if (typeof csv !== 'string' && !Buffer.isBuffer(csv)) {
    throw invalid('payload', csv, 'must be CSV text or a Buffer (or give msg.filename)');
  }
  return Readable.from([csv]);
}

async function* rowsOf(source: Readable): AsyncGenerator<CsvRow> {
  const parser = parse({
    bom: true,
    trim: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    raw: true,
  });
  // pipeline forwards a read error (missing file) to the parser, where the loop below sees it.
  pipeline(source, new TypographicQuotes(), parser, () => undefined);
  try {
    for await (const { record, raw, info } of parser as AsyncIterable<{ record: string[]; raw: string; info: { lines: number } }>) {
      yield { line: info.lines - newlinesWithin(raw), values: record };
    }
  } catch (err) {
    throw readError(err);
  }
}

/** Newlines inside the record's own text (leading empty lines and the final line break excluded). */
function newlinesWithin(raw: string): number {
  const body = raw.replace(/^[\r\n]+/, '').replace(/\r?\n$/, '');
  return (body.match(/\n/g) ?? []).length;
}

function readError(err: unknown): Error {
  if (err instanceof IpamError) return err;
  const e = err as NodeJS.ErrnoException & { lines?: number };
  if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') {
    return new IpamError('VALIDATION', `filename ${JSON.stringify(e.path)}: cannot be read (${e.code})`, { field: 'filename', value: e.path });
  }
  const where = e.lines !== undefined ? `line ${e.lines}: ` : '';
  return new IpamError('VALIDATION', `CSV ${where}${e.message}`, { field: 'payload' });
}

/**
 * Replaces “ and ” by " where they open or close a field (at a line start or end, or next to a comma,
 * spaces allowed), leaving typographic quotes inside text alone. Works line by line across chunks.
 */
export class TypographicQuotes extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.pending + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const cut = text.lastIndexOf('\n') + 1;
    this.pending = text.slice(cut);
    if (cut > 0) this.push(normaliseQuotes(text.slice(0, cut)));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.pending + this.decoder.end();
    if (rest) this.push(normaliseQuotes(rest));
    callback();
  }
}

export function normaliseQuotes(text: string): string {
  if (!/[\u201c\u201d]/.test(text)) return text;
  return text
    .replace(/(^|,|\n)([ \t]*)[\u201c\u201d]/g, '$1$2"')
    .replace(/[\u201c\u201d]([ \t]*)(?=,|\r?\n|$)/g, '"$1');
}
