/**
 * The outcome of an import: counts, per-row errors, and the error report (the failed lines with their
 * original columns plus an `error` column), kept in memory up to a limit and optionally written to a
 * timestamped file as rows fail.
 */
import { stringify } from 'csv-stringify/sync';
import fs from 'node:fs';
import path from 'node:path';
import { isIpamError } from '../errors';
import type { Entity } from '../record';
import type { CsvRow } from './source';

export interface RowError {
  line: number;
  field: string;
  message: string;
  code?: string;
}

export interface ImportResult {
  entity: Entity;
  operation: 'import' | 'import-and-update';
  rows: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
  errors: RowError[];
  /** Errors beyond the in-memory limit (they are in the report file when a folder is configured). */
  errorsOmitted?: number;
  dryRun?: boolean;
  /** The error report file written, when a folder is configured and rows failed. */
  errorReportFile?: string;
}

/** Rows whose errors are kept in memory (result and msg.errorReport); counts are always exact. */
export const MAX_REPORTED_ERRORS = 10_000;

export class ErrorCollector {
  readonly errors: RowError[] = [];
  private readonly reportLines: string[] = [];
  private omitted = 0;
  private failedLines = new Set<number>();
  private file?: { path: string; fd: number };

  constructor(
    private readonly header: string[],
    private readonly entity: Entity,
    private readonly folder?: string,
  ) {}

  get failed(): number {
    return this.failedLines.size;
  }

  /** Records a row failure; throws errors that are not about the row (store down, bugs). */
  add(row: CsvRow, err: unknown): void {
    if (!isIpamError(err) || err.code === 'STORE_UNAVAILABLE') throw err;
    this.addError(row, { line: row.line, field: err.field ?? 'row', message: err.message, code: err.code });
  }

  addError(row: CsvRow, error: RowError): void {
    if (this.failedLines.has(row.line)) return;
    this.failedLines.add(row.line);
    const line = stringify([[...row.values, `line ${row.line}: ${error.message}`]]);
    this.writeToFile(line);
    if (this.errors.length >= MAX_REPORTED_ERRORS) {
      this.omitted++;
      return;
    }
    this.errors.push(error);
    this.reportLines.push(line);
  }

  hasFailed(line: number): boolean {
    return this.failedLines.has(line);
  }

  /** The CSV error report, or undefined when nothing failed. */
  report(): string | undefined {
    if (this.failedLines.size === 0) return undefined;
    return this.headerLine() + this.reportLines.join('');
  }

  finish(result: Omit<ImportResult, 'errors' | 'failed'>): ImportResult {
    if (this.file) fs.closeSync(this.file.fd);
    return {
      ...result,
      failed: this.failed,
      errors: this.errors,
      ...(this.omitted > 0 ? { errorsOmitted: this.omitted } : {}),
      ...(this.file ? { errorReportFile: this.file.path } : {}),
    };
  }

  private headerLine(): string {
    return stringify([[...this.header, 'error']]);
  }

  private writeToFile(line: string): void {
    if (!this.folder) return;
    if (!this.file) {
      fs.mkdirSync(this.folder, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const file = path.join(this.folder, `ipam-import-errors-${this.entity}-${stamp}.csv`);
      this.file = { path: file, fd: fs.openSync(file, 'wx') };
      fs.writeSync(this.file.fd, this.headerLine());
    }
    fs.writeSync(this.file.fd, line);
  }
}
