/**
 * `import`: every row goes through the same core functions as the nodes (addBlock, addRange,
 * buildAddress + insert), so every rule applies. Import adds: a row naming a record that already exists
 * fails as DUPLICATE. By default valid rows are written and failed rows reported; with `allOrNothing`
 * the whole file is checked first and nothing stays written if any row fails.
 */
import { parseAddress, addressKey, checkAddressSpace } from '../address';
import { buildAddress, deleteAddressDocs, duplicateAddress, uniqueCollision, addBlock, deleteBlock, insertAddressesCounted, reconcileCounters, addRange, deleteRange, type AddressDoc } from '../space';
import { IpamError } from '../errors';
import { refreshHints } from '../allocation';
import type { Entity, Context } from '../record';
import { checkBlock, checkRange } from './checks';
import { MANDATORY } from './fields';
import { batchSnapshot } from './snapshot';
import { ErrorCollector, type ImportResult } from './report';
import type { CsvInput, CsvRow } from './source';
import { openTable, yielder, yieldToEventLoop, type Phase, type ProgressListener, type Table } from './table';

export interface ImportOptions {
  entity: Entity;
  dryRun?: boolean;
  allOrNothing?: boolean;
  /** Folder for a timestamped error report file when rows fail. */
  reportFolder?: string;
  batchSize?: number;
  onProgress?: ProgressListener;
}

export interface ImportOutcome {
  result: ImportResult;
  /** CSV of the failed lines (original columns plus `error`), when rows failed. */
  errorReport?: string;
}

/**
 * Rows per atomic write batch (each with its history entries and counts): 1,000 took 50-90 ms of one
 * synchronous transaction on a loaded 2-core machine; 250 keeps it near 20 ms for a few more commits.
 */
const WRITE_CHUNK = 250;

/** What one pass over the file did. */
interface Pass {
  rows: number;
  written: number;
  undo: () => Promise<void>;
  finish: () => Promise<void>;
}

export async function importCsv(ctx: Context, input: CsvInput, options: ImportOptions): Promise<ImportOutcome> {
  const { entity } = options;
  const open = (): Promise<Table> => openTable(ctx, input, entity, MANDATORY[entity], options.batchSize);
  const table = await open();
  const errors = new ErrorCollector(table.header, entity, options.reportFolder);
  const twoPass = options.dryRun || options.allOrNothing;
  let pass = await runPass(ctx, table, errors, twoPass ? 'checking' : 'writing', options);
  const rows = pass.rows;
  if (options.allOrNothing && !options.dryRun && errors.failed === 0) {
    pass = await runPass(ctx, await open(), errors, 'writing', options);
    if (errors.failed > 0) {
      await pass.undo();
      pass.written = 0;
    }
  }
  if (!options.dryRun) await pass.finish();
  const created = options.dryRun ? rows - errors.failed : options.allOrNothing && errors.failed > 0 ? 0 : pass.written;
  const result = errors.finish({
    entity,
    operation: 'import',
    rows,
    created,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    ...(options.dryRun ? { dryRun: true } : {}),
  });
  const errorReport = errors.report();
  return errorReport === undefined ? { result } : { result, errorReport };
}

async function runPass(ctx: Context, table: Table, errors: ErrorCollector, phase: Phase, options: ImportOptions): Promise<Pass> {
  const step = STEPS[options.entity](ctx, table, errors, phase, Boolean(options.allOrNothing));
  let rows = 0;
  try {
    for await (const batch of table.batches()) {
      await step.batch(batch);
      rows += batch.length;
      options.onProgress?.(rows, phase);
      await yieldToEventLoop();
    }
  } catch (err) {
    // A failure of the run itself (store down): all-or-nothing still leaves nothing of this run behind.
    if (options.allOrNothing && phase === 'writing') await step.undo().catch(() => undefined);
    throw err;
  }
  return { rows, written: step.written(), undo: step.undo, finish: () => step.finish?.() ?? Promise.resolve() };
}

interface Step {
  batch(rows: CsvRow[]): Promise<void>;
  written(): number;
  undo(): Promise<void>;
  /** After a writing pass that was kept. */
  finish?(): Promise<void>;
}

/** `undoable`: remember what is written so that all-or-nothing can remove it again. */
type StepFactory = (ctx: Context, table: Table, errors: ErrorCollector, phase: Phase, undoable: boolean) => Step;

const STEPS: Record<Entity, StepFactory> = {
  addresses: addressStep,
  ranges: spaceStep('ranges', 'range', { check: checkRange, add: addRange, remove: deleteRange }),
  blocks: spaceStep('blocks', 'block', { check: checkBlock, add: addBlock, remove: deleteBlock }),
};

/** The step of ranges or blocks: each row checked, then added; all-or-nothing deletes what was added. */
function spaceStep(
  collection: 'ranges' | 'blocks',
  label: string,
  ops: {
    check(ctx: Context, input: unknown): Promise<{ key: string }>;
    add(ctx: Context, input: unknown): Promise<{ id: string }>;
    remove(ctx: Context, selector: { id: string }): Promise<unknown>;
  },
): StepFactory {
  return (ctx, table, errors, phase, undoable) =>
    recordStep(table, errors, phase, undoable, {
      check: (input) => ops.check(ctx, input),
      add: (input) => ops.add(ctx, input),
      remove: (id) => ops.remove(ctx, { id }),
      exists: async (key) => (await ctx.store.collection(collection).findOne({ key })) !== null,
      label,
    });
}

interface RecordOps {
  check(input: unknown): Promise<{ key: string }>;
  add(input: unknown): Promise<{ id: string }>;
  remove(id: string): Promise<unknown>;
  exists(key: string): Promise<boolean>;
  label: string;
}

/** Blocks and ranges: one core call per row (structural changes re-map what lies beneath). */
function recordStep(table: Table, errors: ErrorCollector, phase: Phase, undoable: boolean, ops: RecordOps): Step {
  const created: string[] = [];
  let written = 0;
  const seen = new Map<string, number>();
  return {
    async batch(rows) {
      for (const row of rows) {
        try {
          const input = table.inputOf(row);
          if (phase === 'checking') {
            const { key } = await ops.check(input);
            const earlier = seen.get(key);
            if (earlier !== undefined) throw duplicateRow(ops.label, input, earlier);
            seen.set(key, row.line);
            if (await ops.exists(key)) throw existing(ops.label, input);
          } else {
            const { id } = await ops.add(input);
            written++;
            if (undoable) created.push(id);
          }
        } catch (err) {
          errors.add(row, err);
        }
      }
    },
    written: () => written,
    async undo() {
      for (const id of created.reverse()) await ops.remove(id);
    },
  };
}

/** Addresses: build (validate and map) each row, then one insertMany per batch. */
function addressStep(ctx: Context, table: Table, errors: ErrorCollector, phase: Phase, undoable: boolean): Step {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  const seen = new Map<string, number>();
  const inserted: AddressDoc[] = [];
  const touched = { ranges: new Set<string>(), blocks: new Set<string>() };
  let written = 0;
  return {
    async batch(rows) {
      const pause = yielder();
      const inputs: { row: CsvRow; input: Record<string, unknown> }[] = [];
      const keys: string[] = [];
      for (const row of rows) {
        await pause();
        try {
          const input = table.inputOf(row);
          inputs.push({ row, input });
          const key = keyOf(input);
          if (key !== undefined) keys.push(key);
        } catch (err) {
          errors.add(row, err);
        }
      }
      const batchCtx: Context = { store: await batchSnapshot(ctx.store, keys) };
      await yieldToEventLoop();
      const built: { row: CsvRow; doc: AddressDoc }[] = [];
      for (const { row, input } of inputs) {
        // buildAddress on the snapshot resolves without I/O: the loop needs turns given.
        await pause();
        try {
          built.push({ row, doc: await buildAddress(batchCtx, input) });
        } catch (err) {
          errors.add(row, err);
        }
      }
      if (phase === 'checking') {
        await checkDuplicates(built, seen, errors, addresses);
        return;
      }
      const docs = built.map((b) => b.doc);
      const { failures } = await insertAddressesCounted(ctx, docs, WRITE_CHUNK);
      const failed = new Set<number>();
      for (const { index, error } of failures) {
        failed.add(index);
        const { row, doc } = built[index];
        errors.add(row, uniqueCollision(error, doc) as Error);
      }
      written += docs.length - failures.length;
      for (const doc of docs) {
        if (doc.rangeId) touched.ranges.add(doc.rangeId);
        if (doc.blockId) touched.blocks.add(doc.blockId);
      }
      if (undoable) inserted.push(...docs.filter((_, i) => !failed.has(i)).map(slim));
    },
    written: () => written,
    async undo() {
      await deleteAddressDocs(ctx, inserted);
    },
    finish: () => afterAddressImport(ctx, touched),
  };
}

/** The store key of a row's address, to know the batch's span (undefined when buildAddress will refuse it). */
function keyOf(input: Record<string, unknown>): string | undefined {
  try {
    const parsed = parseAddress(input.address, 'address');
    return addressKey(checkAddressSpace(input.addressSpace), parsed.family, parsed.value);
  } catch {
    return undefined;
  }
}

/** Within the file (remembering every key seen) and against the store, per batch. */
async function checkDuplicates(
  built: { row: CsvRow; doc: AddressDoc }[],
  seen: Map<string, number>,
  errors: ErrorCollector,
  addresses: { find(filter: object): Promise<AddressDoc[]> },
): Promise<void> {
  const stored = new Set(
    (await addresses.find({ key: { $in: built.map((b) => b.doc.key) } })).map((doc) => doc.key),
  );
  for (const { row, doc } of built) {
    const earlier = seen.get(doc.key);
    if (earlier !== undefined) errors.add(row, duplicateRow('address', doc, earlier));
    else if (stored.has(doc.key)) errors.add(row, duplicateAddress(doc));
    else seen.set(doc.key, row.line);
  }
}

/** What undoing an insert needs, counters included (the full documents would hold the whole file in memory). */
function slim(doc: AddressDoc): AddressDoc {
  const { id, key, address, addressSpace, family, rangeId, blockId, requestKey } = doc;
  return { id, key, address, addressSpace, family, rangeId, blockId, ...(requestKey ? { requestKey } : {}) } as AddressDoc;
}

/**
 * On a store without transactions, recounts the counters of the ranges and blocks the import wrote into
 * (a crash between a batch and its counts leaves them behind). A transactional store wrote each batch with
 * its counts, so they are exact and a recount (which would race other writers) is skipped. Then each
 * range's stored allocation hint moves to its first free address, so the first allocation after a bulk
 * fill starts there.
 */
async function afterAddressImport(ctx: Context, touched: { ranges: Set<string>; blocks: Set<string> }): Promise<void> {
  if (touched.ranges.size === 0 && touched.blocks.size === 0) return;
  if (!ctx.store.transactional) {
    await reconcileCounters(ctx, { ranges: { id: { $in: [...touched.ranges] } }, blocks: { id: { $in: [...touched.blocks] } } }, { lockCovers: true });
  }
  await refreshHints(ctx, touched.ranges);
}

function duplicateRow(label: string, input: Record<string, unknown>, line: number): IpamError {
  const field = label === 'address' ? 'address' : 'network';
  const value = input[field];
  return new IpamError('DUPLICATE', `${label} ${JSON.stringify(value)}: appears twice in the file (first on line ${line})`, {
    field,
    value,
  });
}

function existing(label: string, input: Record<string, unknown>): IpamError {
  return new IpamError('DUPLICATE', `${label} ${JSON.stringify(input.network)}: already exists`, {
    field: 'network',
    value: input.network,
  });
}
