/**
 * A CSV input opened as a table: the header mapped to fields, then the data rows in batches.
 */
import { listCustomFields, type CustomFieldDefinition, type Entity, type Context } from '../record';
import { IpamError } from '../errors';
import { mapHeader, type ColumnMapping } from './fields';
import { rowToInput } from './rows';
import { readRows, type CsvInput, type CsvRow } from './source';

export type Phase = 'checking' | 'writing' | 'applying' | 'exporting';
export type ProgressListener = (rowsDone: number, phase: Phase) => void;

export const DEFAULT_BATCH_SIZE = 1000;

export interface Table {
  header: string[];
  mapping: ColumnMapping[];
  definitions: CustomFieldDefinition[];
  /** Record input of one row (VALIDATION when a mandatory cell is empty or the row has the wrong width). */
  inputOf(row: CsvRow): Record<string, unknown>;
  batches(): AsyncGenerator<CsvRow[]>;
}

export async function openTable(
  ctx: Context,
  input: CsvInput,
  entity: Entity,
  mandatory: string[],
  batchSize = DEFAULT_BATCH_SIZE,
): Promise<Table> {
  const iterator = readRows(input)[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) {
    throw new IpamError('VALIDATION', 'payload: the CSV is empty; line 1 must name the fields', { field: 'header' });
  }
  const header = first.value.values;
  const definitions = await listCustomFields(ctx);
  let mapping: ColumnMapping[];
  try {
    mapping = mapHeader(entity, header, definitions, mandatory);
  } catch (err) {
    await iterator.return?.();
    throw err;
  }
  return {
    header,
    mapping,
    definitions,
    inputOf: (row) => rowToInput(mapping, row.values, mandatory),
    async *batches() {
      let batch: CsvRow[] = [];
      // Rows already parsed arrive without I/O in between: reading a batch of them gives the loop turns too.
      const pause = yielder();
      try {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          await pause();
          batch.push(next.value);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length > 0) yield batch;
      } finally {
        await iterator.return?.();
      }
    },
  };
}

/** Lets other messages and timers run between batches of a long import. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The longest stretch of synchronous row work between two turns of the event loop. */
export const YIELD_EVERY_MS = 10;

/** A check to call between rows: it gives the event loop a turn once YIELD_EVERY_MS have passed since the last. */
export function yielder(): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < YIELD_EVERY_MS) return undefined;
    return yieldToEventLoop().then(() => {
      since = performance.now();
    });
  };
}
