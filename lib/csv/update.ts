/**
 * `import-and-update` (ranges): for one managedByService + serviceInstance pair the file becomes the
 * whole truth. The plan (create, update, delete, unchanged) is computed and checked in full first; any
 * invalid row and nothing is applied. The plan is written to the `journal` collection before the first
 * change and the journal is removed after the last, so a process that dies part-way is finished on the
 * next start (`recoverImports`): the pair ends exactly as the file says. A failure while applying (a
 * concurrent writer took the space) undoes what was applied, so the pair is as it was.
 *
 * Ownership: a journal names its owner (this process) and carries a heartbeat on the store's clock
 * (`store.now()`), renewed while it is applied. Another process takes over only a journal whose heartbeat
 * is older than the stale limit, by compare-and-set on the owner; every journal write of the owner filters
 * on it, so an owner that was taken over learns it at its next write and stops (CONFLICT) instead of
 * writing on. A journal still fresh at recovery is reported as deferred and recovery runs again once it
 * would be stale, so a quick restart does not leave it behind.
 */
import { randomUUID } from 'node:crypto';
import { overlaps } from '../address';
import { SERVICES, canonicalOrCustom, fold, isReservedRangeService, optionalFields, type Context } from '../record';
import { IpamError, invalid, isIpamError, show } from '../errors';
import { detachAddresses, mostSpecificBlockId, addRange, deleteRange, updateRange, overlapping, type RangeDoc } from '../space';
import { localState, retryLater } from '../store';
import { checkRange, reservedService, type CheckedRange, type RangeValues } from './checks';
import { ErrorCollector, type ImportResult } from './report';
import type { CsvInput, CsvRow } from './source';
import { openTable, yieldToEventLoop, type ProgressListener } from './table';

export interface Pair {
  managedByService: string;
  serviceInstance: string;
}

export interface UpdateOptions extends Partial<Pair> {
  dryRun?: boolean;
  reportFolder?: string;
  batchSize?: number;
  onProgress?: ProgressListener;
}

export interface RangePlan {
  create: RangeValues[];
  update: { before: RangeValues; after: RangeValues }[];
  delete: RangeValues[];
  unchanged: number;
}

export interface UpdateOutcome {
  result: ImportResult & { plan?: RangePlan };
  errorReport?: string;
}

type Op =
  | { kind: 'delete'; id: string; key: string; startKey: string; endKey: string; before: RangeValues }
  | { kind: 'update'; id: string; key: string; before: RangeValues; after: RangeValues }
  | { kind: 'create'; key: string; after: RangeValues };

interface JournalDoc {
  id: string;
  name: string;
  kind: 'import-and-update';
  pair: Pair;
  state: 'applying' | 'rolling-back';
  ops: Op[];
  /** Ops completed (applying) or still to undo (rolling back). */
  done: number;
  owner: string;
  heartbeatAt: number;
  createdAt: string;
  [field: string]: unknown;
}

/** Columns an import-and-update needs: the pair comes from the settings (a pair column must agree). */
const MANDATORY = ['network', 'startAddress', 'endAddress', 'assignmentType'];

/** Fields the file fully decides; an empty cell clears the optional ones. */
const OPTIONAL = optionalFields('ranges');

/** On a shared store, how long a journal's heartbeat may be silent before another process takes it over. */
const STALE_MS = 120_000;
/** The owner renews its heartbeat this often while applying (so a slow step is not mistaken for a dead owner). */
const HEARTBEAT_MS = 20_000;

/** Thrown by an owner whose journal another process took over: it stops, and the new owner finishes. */
const lostOwnership = new WeakSet<Error>();

export async function importAndUpdate(ctx: Context, input: CsvInput, options: UpdateOptions): Promise<UpdateOutcome> {
  const pair = checkPair(options);
  await recoverImports(ctx, { name: journalName(pair) });
  const table = await openTable(ctx, input, 'ranges', MANDATORY, options.batchSize);
  const errors = new ErrorCollector(table.header, 'ranges', options.reportFolder);
  const planned = new Map<string, { row: CsvRow; checked: CheckedRange }>();
  let rows = 0;
  for await (const batch of table.batches()) {
    for (const row of batch) {
      try {
        const checked = await checkRange(ctx, inPair(table.inputOf(row), pair));
        const earlier = planned.get(checked.key);
        if (earlier) throw new IpamError('DUPLICATE', `range ${checked.values.startAddress}-${checked.values.endAddress}: appears twice in the file (first on line ${earlier.row.line})`, { field: 'network', value: checked.values.network });
        planned.set(checked.key, { row, checked });
      } catch (err) {
        errors.add(row, err);
      }
    }
    rows += batch.length;
    options.onProgress?.(rows, 'checking');
    await yieldToEventLoop();
  }
  const { ops, plan } = await planChanges(ctx, pair, planned, errors);
  const counts = { created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length, unchanged: plan.unchanged };
  const finish = (extra: Partial<ImportResult & { plan: RangePlan }>, applied: boolean): UpdateOutcome => {
    const result = errors.finish({
      entity: 'ranges',
      operation: 'import-and-update',
      rows,
      ...(applied ? counts : { created: 0, updated: 0, deleted: 0, unchanged: 0 }),
      ...extra,
    });
    const errorReport = errors.report();
    return errorReport === undefined ? { result } : { result, errorReport };
  };
  if (errors.failed > 0) return finish({}, false);
  if (options.dryRun) return finish({ dryRun: true, plan, ...counts }, false);
  if (ops.length > 0) await applyJournaled(ctx, pair, ops, options.onProgress);
  return finish({}, true);
}

/**
 * Finishes import-and-update runs that a dead process left half applied (rolled forward, or on a
 * conflict rolled back). Journals another live process is applying are left alone: on an embedded
 * store (one process) every journal not applied by this process is abandoned; on MongoDB one whose
 * heartbeat is older than `staleMs`.
 */
export async function recoverImports(
  ctx: Context,
  options: { name?: string; staleMs?: number } = {},
): Promise<{ name: string; outcome: 'completed' | 'rolled-back' | 'deferred'; error?: string }[]> {
  const journal = ctx.store.collection<JournalDoc>('journal');
  const staleMs = options.staleMs ?? (ctx.store.kind === 'embedded' ? 0 : STALE_MS);
  const found = await journal.find(options.name ? { name: options.name } : { kind: 'import-and-update' });
  const outcomes: { name: string; outcome: 'completed' | 'rolled-back' | 'deferred'; error?: string }[] = [];
  // This process's owner id and running journals on this store (lib/store/local.ts).
  const local = localState(ctx.store);
  for (const doc of found) {
    if (local.activeImports.has(doc.id)) continue;
    const now = await ctx.store.now();
    const age = now - doc.heartbeatAt;
    if (age < staleMs) {
      const retryInMs = staleMs - age + 1000;
      outcomes.push({ name: doc.name, outcome: 'deferred', error: `another process applied it ${Math.round(age / 1000)} s ago; recovery retries in ${Math.round(retryInMs / 1000)} s` });
      scheduleRecovery(ctx, retryInMs);
      continue;
    }
    const taken = await journal.updateOne(
      { id: doc.id, owner: doc.owner, heartbeatAt: doc.heartbeatAt },
      { $set: { owner: local.importOwner, heartbeatAt: now } },
    );
    if (!taken) continue;
    try {
      const { outcome, failure } = await runJournal(ctx, { ...doc, owner: local.importOwner });
      outcomes.push({ name: doc.name, outcome, ...(failure ? { error: messageOf(failure) } : {}) });
    } catch (err) {
      outcomes.push({ name: doc.name, outcome: 'deferred' as const, error: (err as Error).message });
    }
  }
  return outcomes;
}

/** One pending retry per store (a journal was deferred because it was still fresh). */
function scheduleRecovery(ctx: Context, delayMs: number): void {
  retryLater(ctx.store, 'importRetry', delayMs, () => recoverImports(ctx));
}

function checkPair(options: UpdateOptions): Pair {
  if (!options.managedByService) throw invalid('managedByService', options.managedByService ?? '', 'import-and-update needs the managedByService of the pair it replaces');
  if (!options.serviceInstance) throw invalid('serviceInstance', options.serviceInstance ?? '', 'import-and-update needs the serviceInstance of the pair it replaces');
  const managedByService = canonicalOrCustom('managedByService', options.managedByService, SERVICES);
  if (isReservedRangeService(managedByService)) throw reservedService(managedByService);
  return { managedByService, serviceInstance: canonicalOrCustom('serviceInstance', options.serviceInstance, []) };
}

function journalName(pair: Pair): string {
  return `import-and-update|${pair.managedByService}|${pair.serviceInstance}`;
}

/** Fills the pair into a row; a row naming another pair is an error (the file is for one pair). */
function inPair(input: Record<string, unknown>, pair: Pair): Record<string, unknown> {
  for (const field of ['managedByService', 'serviceInstance'] as const) {
    if (input[field] === undefined) continue;
    const value = field === 'managedByService' ? canonicalOrCustom(field, input[field], SERVICES) : String(input[field]).trim();
    if (fold(value) !== fold(pair[field])) {
      throw invalid(field, input[field], `belongs to another pair; this import-and-update replaces ${show(pair.managedByService)} / ${show(pair.serviceInstance)}`);
    }
  }
  return { ...input, ...pair };
}

async function planChanges(
  ctx: Context,
  pair: Pair,
  planned: Map<string, { row: CsvRow; checked: CheckedRange }>,
  errors: ErrorCollector,
): Promise<{ ops: Op[]; plan: RangePlan }> {
  const ranges = ctx.store.collection<RangeDoc>('ranges');
  const current = new Map((await ranges.find({ ...pair }, { sort: { key: 1 } })).map((doc) => [doc.key, doc]));
  const plan: RangePlan = { create: [], update: [], delete: [], unchanged: 0 };
  const deletes: Op[] = [];
  const updates: Op[] = [];
  const creates: Op[] = [];
  for (const [key, doc] of current) {
    if (!planned.has(key)) {
      deletes.push({ kind: 'delete', id: doc.id, key, startKey: doc.startKey, endKey: doc.endKey, before: valuesOf(doc) });
      plan.delete.push(valuesOf(doc));
    }
  }
  const located: { row: CsvRow; checked: CheckedRange; blockId: string | null }[] = [];
  for (const [key, { row, checked }] of planned) {
    const stored = current.get(key);
    if (stored) {
      const before = valuesOf(stored);
      if (sameValues(before, checked.values)) plan.unchanged++;
      else {
        updates.push({ kind: 'update', id: stored.id, key, before, after: checked.values });
        plan.update.push({ before, after: checked.values });
      }
    } else {
      try {
        await refuseOtherPairs(ctx, checked);
      } catch (err) {
        errors.add(row, err);
        continue;
      }
      creates.push({ kind: 'create', key, after: checked.values });
      plan.create.push(checked.values);
    }
    located.push({ row, checked, blockId: await mostSpecificBlockId(ctx, checked.bounds) });
  }
  refuseOverlapWithinFile(located, errors);
  return { ops: [...deletes, ...updates, ...creates], plan };
}

/** A new range must not take the bounds of, or overlap in the same block, a range of another pair. */
async function refuseOtherPairs(ctx: Context, checked: CheckedRange): Promise<void> {
  const ranges = ctx.store.collection<RangeDoc>('ranges');
  const { bounds, values } = checked;
  const blockId = await mostSpecificBlockId(ctx, bounds);
  const near = await ranges.find({ addressSpace: bounds.addressSpace, ...overlapping(bounds) });
  for (const other of near) {
    if (other.managedByService === values.managedByService && other.serviceInstance === values.serviceInstance) continue;
    if (other.key === checked.key || other.blockId === blockId) {
      throw new IpamError(
        'OVERLAP',
        `range ${values.startAddress}-${values.endAddress}: overlaps range ${other.network} (${other.startAddress}-${other.endAddress}) of ${show(other.managedByService)} / ${show(other.serviceInstance)}`,
        { field: 'network', value: values.network },
      );
    }
  }
}

/** Ranges of the file that would map to the same block must not overlap each other. */
function refuseOverlapWithinFile(
  located: { row: CsvRow; checked: CheckedRange; blockId: string | null }[],
  errors: ErrorCollector,
): void {
  const groups = new Map<string, typeof located>();
  for (const entry of located) {
    const group = `${entry.checked.bounds.addressSpace}|${entry.checked.bounds.family}|${entry.blockId}`;
    groups.set(group, [...(groups.get(group) ?? []), entry]);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => (a.checked.bounds.first < b.checked.bounds.first ? -1 : 1));
    let widest = group[0];
    for (const entry of group.slice(1)) {
      if (overlaps(widest.checked.bounds, entry.checked.bounds)) {
        const other = widest.checked.values;
        errors.add(entry.row, new IpamError(
          'OVERLAP',
          `range ${entry.checked.values.startAddress}-${entry.checked.values.endAddress}: overlaps range ${other.startAddress}-${other.endAddress} on line ${widest.row.line}`,
          { field: 'network', value: entry.checked.values.network },
        ));
      }
      if (entry.checked.bounds.last > widest.checked.bounds.last) widest = entry;
    }
  }
}

async function applyJournaled(ctx: Context, pair: Pair, ops: Op[], onProgress?: ProgressListener): Promise<void> {
  const journal = ctx.store.collection<JournalDoc>('journal');
  const doc: JournalDoc = {
    id: randomUUID(),
    name: journalName(pair),
    kind: 'import-and-update',
    pair,
    state: 'applying',
    ops,
    done: 0,
    owner: localState(ctx.store).importOwner,
    heartbeatAt: await ctx.store.now(),
    createdAt: new Date().toISOString(),
  };
  try {
    await journal.insertOne(doc);
  } catch (err) {
    if (!isIpamError(err, 'DUPLICATE')) throw err;
    throw new IpamError('CONFLICT', `an import-and-update of ${show(pair.managedByService)} / ${show(pair.serviceInstance)} is already running`);
  }
  const { failure } = await runJournal(ctx, doc, onProgress);
  if (failure !== undefined) throw rolledBack(pair, failure);
}

/**
 * Applies a journal to its end, or when an op fails undoes what was applied, and removes it. Throws
 * (leaving the journal for the next recovery) only when even the undo cannot finish.
 */
async function runJournal(
  ctx: Context,
  doc: JournalDoc,
  onProgress?: ProgressListener,
): Promise<{ outcome: 'completed' | 'rolled-back'; failure?: unknown }> {
  const journal = ctx.store.collection<JournalDoc>('journal');
  const mine = { id: doc.id, owner: doc.owner };
  let lost = false;
  const stillMine = (): void => {
    if (lost) throw ownershipLost(doc);
  };
  const save = async (changes: Partial<JournalDoc>): Promise<void> => {
    stillMine();
    if (!(await journal.updateOne(mine, { $set: { ...changes, heartbeatAt: await ctx.store.now() } }))) lost = true;
    stillMine();
  };
  const heartbeat = setInterval(() => {
    void ctx.store.now().then((now) => journal.updateOne(mine, { $set: { heartbeatAt: now } })).then(
      (held) => {
        if (!held) lost = true;
      },
      () => undefined,
    );
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const { activeImports } = localState(ctx.store);
  activeImports.add(doc.id);
  try {
    let failure: unknown;
    if (doc.state === 'applying') {
      try {
        for (let index = doc.done; index < doc.ops.length; index++) {
          stillMine();
          await applyOp(ctx, doc.pair, doc.ops[index]);
          await save({ done: index + 1 });
          onProgress?.(index + 1, 'applying');
        }
        stillMine();
        await journal.deleteOne(mine);
        return { outcome: 'completed' };
      } catch (err) {
        if (err instanceof Error && lostOwnership.has(err)) throw err;
        failure = err;
        doc.done = Math.min((await journal.findOne({ id: doc.id }))?.done ?? doc.done, doc.ops.length - 1) + 1;
        await save({ state: 'rolling-back', done: doc.done });
      }
    }
    for (let index = doc.done - 1; index >= 0; index--) {
      stillMine();
      await undoOp(ctx, doc.pair, doc.ops[index]);
      await save({ done: index });
    }
    stillMine();
    await journal.deleteOne(mine);
    return { outcome: 'rolled-back', failure };
  } finally {
    clearInterval(heartbeat);
    activeImports.delete(doc.id);
  }
}

function ownershipLost(doc: JournalDoc): IpamError {
  const err = new IpamError(
    'CONFLICT',
    `import-and-update of ${show(doc.pair.managedByService)} / ${show(doc.pair.serviceInstance)}: another process took over its journal (this one was silent too long); it stopped and the other finishes it`,
  );
  lostOwnership.add(err);
  return err;
}

function rolledBack(pair: Pair, cause: unknown): IpamError {
  const code = isIpamError(cause) ? cause.code : 'CONFLICT';
  return new IpamError(code, `import-and-update of ${show(pair.managedByService)} / ${show(pair.serviceInstance)} was undone: ${messageOf(cause)}`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Idempotent: running an op again after a crash part-way through it completes it. */
async function applyOp(ctx: Context, pair: Pair, op: Op): Promise<void> {
  const ranges = ctx.store.collection<RangeDoc>('ranges');
  if (op.kind === 'delete') {
    const stored = await ranges.findOne({ id: op.id });
    if (stored) await deleteRange(ctx, { id: op.id });
    else if ((await ctx.store.collection('addresses').count({ rangeId: op.id })) > 0) {
      await detachAddresses(ctx, { ...op.before, id: op.id, key: op.key, startKey: op.startKey, endKey: op.endKey } as RangeDoc);
    }
    return;
  }
  const byId = op.kind === 'update' ? await ranges.findOne({ id: op.id }) : null;
  const stored = byId ?? (await ranges.findOne({ key: op.key }));
  if (!stored) {
    await addRange(ctx, op.after);
    return;
  }
  if (stored.managedByService !== pair.managedByService || stored.serviceInstance !== pair.serviceInstance) {
    throw new IpamError('DUPLICATE', `range ${stored.network} (${stored.startAddress}-${stored.endAddress}) now belongs to ${show(stored.managedByService)} / ${show(stored.serviceInstance)}`, { field: 'network', value: stored.network });
  }
  await setRange(ctx, stored.id, op.after);
}

async function undoOp(ctx: Context, pair: Pair, op: Op): Promise<void> {
  const ranges = ctx.store.collection<RangeDoc>('ranges');
  const stored = await ranges.findOne({ key: op.key });
  const ours = stored && stored.managedByService === pair.managedByService && stored.serviceInstance === pair.serviceInstance;
  if (op.kind === 'create') {
    if (ours) await deleteRange(ctx, { id: stored.id });
  } else if (op.kind === 'update') {
    if (ours) await setRange(ctx, stored.id, op.before);
  } else if (!stored) {
    await addRange(ctx, op.before);
  }
}

/**
 * Makes a stored range carry exactly these values: updateRange keeps absent fields, so the absent optional ones
 * go as null, which clears them in the same write (a second write would change the range's exclusions without
 * its `updatedAt`, which allocations' kept free addresses are checked against).
 */
async function setRange(ctx: Context, id: string, values: RangeValues): Promise<void> {
  const input: Record<string, unknown> = { ...values };
  for (const field of OPTIONAL) if (values[field] === undefined) input[field] = null;
  await updateRange(ctx, { id }, input);
}

function valuesOf(doc: RangeDoc): RangeValues {
  const values: RangeValues = {
    addressSpace: doc.addressSpace,
    network: doc.network,
    startAddress: doc.startAddress,
    endAddress: doc.endAddress,
    managedByService: doc.managedByService,
    serviceInstance: doc.serviceInstance,
    assignmentType: doc.assignmentType,
  };
  for (const field of OPTIONAL) if (doc[field] !== undefined) values[field] = doc[field] as never;
  return values;
}

function sameValues(a: RangeValues, b: RangeValues): boolean {
  return stableJson(a) === stableJson(b);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
