/**
 * CSV import, import-and-update and export: the one entry point the ipam-import node calls.
 */
import { fold, type Entity, type Context } from '../record';
import { invalid } from '../errors';
import { ownValue } from '../own';
import { exportCsv, exportHistory, exportRangeGroups } from './export';
import { importCsv } from './import';
import type { CsvInput } from './source';
import type { ProgressListener } from './table';
import { importAndUpdate, recoverImports } from './update';

export const CSV_OPERATIONS = ['import', 'import-and-update', 'export'] as const;
export type CsvOperation = (typeof CSV_OPERATIONS)[number];

export interface CsvRequest {
  /** `addresses`, `ranges` or `blocks` (import-and-update: ranges only, the default); export also `rangeGroups`. */
  entity?: unknown;
  /** CSV text or Buffer to import. */
  csv?: unknown;
  /** File to import from, or to export to. */
  filename?: unknown;
  dryRun?: boolean;
  allOrNothing?: boolean;
  /** The pair import-and-update replaces. */
  managedByService?: string;
  serviceInstance?: string;
  /** Export filter: record fields with plain values. */
  filter?: unknown;
  /** Folder for timestamped error report files. */
  reportFolder?: string;
  batchSize?: number;
  onProgress?: ProgressListener;
}

export interface CsvOutcome {
  /** The import result, the exported CSV text, or `{entity, filename, rows}` for an export to a file. */
  payload: unknown;
  /** Failed lines with an `error` column, when an import had failures. */
  errorReport?: string;
}

export async function runCsv(ctx: Context, operation: CsvOperation, request: CsvRequest): Promise<CsvOutcome> {
  if (operation === 'export' && isRangeGroups(request.entity)) {
    return { payload: await exportRangeGroups(ctx, { group: request.filter && (request.filter as { group?: unknown }).group, filename: request.filename as string | undefined }) };
  }
  if (operation === 'export' && typeof request.entity === 'string' && fold(request.entity) === 'history') {
    return { payload: await exportHistory(ctx, { filter: request.filter, filename: request.filename as string | undefined }) };
  }
  if (operation === 'export') {
    return { payload: await exportCsv(ctx, { ...request, entity: entityOf(request.entity), filename: request.filename as string | undefined }) };
  }
  const input = inputOf(request);
  const outcome =
    operation === 'import'
      ? await importCsv(ctx, input, { ...request, entity: entityOf(request.entity) })
      : await importAndUpdate(ctx, input, { ...request, ...rangesOnly(request.entity) });
  return { payload: outcome.result, ...(outcome.errorReport !== undefined ? { errorReport: outcome.errorReport } : {}) };
}

export { recoverImports };

const ENTITIES: Record<string, Entity> = {
  addresses: 'addresses', address: 'addresses', ipaddresses: 'addresses', ipaddress: 'addresses',
  ranges: 'ranges', range: 'ranges', ipaddressranges: 'ranges',
  blocks: 'blocks', block: 'blocks', ipaddressblocks: 'blocks',
};

export function entityOf(value: unknown): Entity {
  const entity = typeof value === 'string' ? ownValue(ENTITIES, fold(value)) : undefined;
  if (!entity) throw invalid('entity', value ?? '', 'must be addresses, ranges or blocks');
  return entity;
}

/** Export only: range groups (the guide's export lists them beside addresses, ranges and blocks). */
function isRangeGroups(value: unknown): boolean {
  return typeof value === 'string' && ['rangegroups', 'rangegroup', 'ipaddressrangegroups'].includes(fold(value));
}

function rangesOnly(value: unknown): Record<string, never> {
  if (value !== undefined && value !== '' && entityOf(value) !== 'ranges') {
    throw invalid('entity', value, 'import-and-update is only available for ranges (as in the guide)');
  }
  return {};
}

function inputOf(request: CsvRequest): CsvInput {
  if (request.filename !== undefined && request.filename !== '') return { filename: request.filename as string };
  return { csv: request.csv as string | Buffer };
}
export type { ImportResult } from './report';
