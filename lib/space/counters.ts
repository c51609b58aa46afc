/**
 * Assigned counters: every range has `assignedCount`, the addresses mapped to it (`rangeId`), and every
 * block the addresses mapped to it directly (`blockId`, the most specific block containing them). Each is a
 * small document of its own in `counters` (`id` = the range's or block's id), not a field of the range or
 * block: an allocation then rewrites a few bytes under no secondary index instead of the range document and
 * its four indexes (on the embedded store that is a third of the pages each allocation's commit writes),
 * and a counter change never touches a record a user edits. This
 * module is the one place that writes addresses together with their counter changes, in one
 * `store.atomic` batch, so no write path can forget them: insert, delete and re-map of addresses all go
 * through here. `reconcile` recounts and repairs any drift (a crash on a store without transactions, an
 * older store, or a write racing a re-map or a second release of the same address).
 */
import { atomicFreeing, freedHintWrites, type AddressDoc } from './addresses';
import { isIpamError, type IpamError } from '../errors';
import { historyOfUpdate, historyWrites, type Context } from '../record';
import { checkAddressSpace } from '../address';
import { withLock } from './lock';
import { recomputeCover } from './range-cover';
import { spaceLock } from './structural';
import { insertManyWithRequests, insertWrites } from './requests';
import { insertValid, noteWritten, type Filter, type Update, type Write } from '../store';

export const COUNT_FIELD = 'assignedCount';

/** Addresses written or re-mapped per atomic batch: big enough to be cheap, small enough not to stall the event loop. */
export const CHUNK = 1000;

type CounterDoc = { id: string; assignedCount: number };

const COUNTERS = 'counters';

/** Counter deltas per range and per block id. */
class Deltas {
  readonly ranges = new Map<string, number>();
  readonly blocks = new Map<string, number>();

  add(doc: { rangeId?: string | null; blockId?: string | null }, by: number): this {
    if (doc.rangeId) this.ranges.set(doc.rangeId, (this.ranges.get(doc.rangeId) ?? 0) + by);
    if (doc.blockId) this.blocks.set(doc.blockId, (this.blocks.get(doc.blockId) ?? 0) + by);
    return this;
  }

  writes(): Write[] {
    const writes: Write[] = [];
    for (const deltas of [this.ranges, this.blocks]) {
      for (const [id, delta] of deltas) {
        if (delta !== 0) writes.push({ op: 'update', collection: COUNTERS, filter: { id }, update: { $inc: { [COUNT_FIELD]: delta } } });
      }
    }
    return writes;
  }
}

/** The counter of a new range or block, written in the same batch as the record. */
export function newCounterWrite(id: string): Write {
  return { op: 'insert', collection: COUNTERS, doc: { id, [COUNT_FIELD]: 0 } };
}

/** The counter of a range or block being deleted, removed in the same batch as the record. */
export function dropCounterWrite(id: string): Write {
  return { op: 'delete', collection: COUNTERS, filter: { id } };
}

/**
 * The writes that store these addresses, with their requests (lib/space/requests.ts), history entries
 * (lib/record/history.ts) and counter changes: one batch.
 */
export function insertWritesCounted(ctx: Context, docs: AddressDoc[]): Write[] {
  const deltas = new Deltas();
  const writes: Write[] = [];
  for (const doc of docs) {
    deltas.add(doc, 1);
    writes.push(...insertWrites(doc));
  }
  for (const doc of docs) writes.push(...historyWrites(ctx, 'address', null, doc));
  writes.push(...deltas.writes());
  return writes;
}

/** Inserts one address and counts it, all or none; `alongside` are other writes that belong to the same step. */
export async function insertAddressCounted(ctx: Context, doc: AddressDoc, alongside: Write[] = []): Promise<void> {
  await insertAtomically(ctx, [doc], alongside);
}

/**
 * Inserts these addresses with their requests, history and counts (and `alongside`) in one atomic batch. A
 * store without transactions undoes a batch that fails after its addresses were stored (lib/store/mongodb.ts
 * journaledAtomic, as it fails or in the recovery pass after a crash): another process may have met them
 * taken and moved its hint past them, so the batch carries, for that undo, the writes that lower their ranges'
 * hints with the version bump, as a release lowers them (two reads more per batch, on such a store only).
 */
export async function insertAtomically(ctx: Context, docs: AddressDoc[], alongside: Write[] = []): Promise<void> {
  const ifUndone = ctx.store.transactional ? undefined : await freedHintWrites(ctx, docs);
  await ctx.store.atomic([...insertWritesCounted(ctx, docs), ...alongside], ifUndone);
  noteWritten(ctx.store, docs.map((doc) => doc.key));
}

/** Which document of a batch a unique-index collision names: its address key, else its request key. */
function collided(doc: AddressDoc, err: IpamError): boolean {
  return (err.field === 'key' ? doc.key : doc.requestKey) === err.value;
}

/**
 * Inserts many addresses, a CHUNK (or `chunkSize`) per batch, with per-document failures as `insertMany` reports them. On a
 * transactional store each chunk's valid documents are written together with their counts (a crash leaves
 * none of the chunk); elsewhere the chunk goes in bulk and its counts follow (a crash between the two is
 * repaired by `reconcile`, which an import runs when it ends).
 */
export async function insertAddressesCounted(
  ctx: Context,
  docs: AddressDoc[],
  chunkSize = CHUNK,
): Promise<{ inserted: number; failures: { index: number; error: Error }[] }> {
  const failures: { index: number; error: Error }[] = [];
  for (let start = 0; start < docs.length; start += chunkSize) {
    const chunk = docs.slice(start, start + chunkSize);
    const failed = ctx.store.transactional
      ? await insertValid(ctx.store, chunk, (docs) => insertWritesCounted(ctx, docs), collided)
      : await insertThenCount(ctx, chunk);
    failures.push(...failed.map(({ index, error }) => ({ index: start + index, error })));
    const refused = new Set(failed.map((f) => f.index));
    noteWritten(ctx.store, chunk.filter((_, index) => !refused.has(index)).map((doc) => doc.key));
    if (start + chunkSize < docs.length) await yieldToEventLoop();
  }
  return { inserted: docs.length - failures.length, failures };
}

async function insertThenCount(ctx: Context, chunk: AddressDoc[]): Promise<{ index: number; error: Error }[]> {
  const { failures } = await insertManyWithRequests(ctx, chunk);
  const failed = new Set(failures.map((f) => f.index));
  const deltas = new Deltas();
  const history: Write[] = [];
  for (const [index, doc] of chunk.entries()) {
    if (failed.has(index)) continue;
    deltas.add(doc, 1);
    history.push(...historyWrites(ctx, 'address', null, doc));
  }
  const counts = [...history, ...deltas.writes()];
  if (counts.length > 0) await ctx.store.atomic(counts);
  return failures;
}

/**
 * Updates one address (`before` is its stored document); a change of its range or block moves its count in the
 * same batch, with its history entry. The history entry goes first: when it ends a hold, its collision (the
 * hold ended otherwise meanwhile) stops the batch before anything else is written. `alongside` goes in the
 * batch; `freed`, the hint writes for an address the update leaves, with it (atomicFreeing). A move to another
 * address on a store without transactions carries, as an insert does (insertAtomically), the writes that lower
 * the new address's ranges' hints should its batch be undone.
 */
export async function updateAddressCounted(
  ctx: Context,
  before: AddressDoc,
  filter: Filter,
  update: Update,
  after: AddressDoc,
  { alongside = [], freed = [], operation }: { alongside?: Write[]; freed?: Write[]; operation?: string } = {},
): Promise<void> {
  const write: Write = { op: 'update', collection: 'addresses', filter, update };
  const deltas = new Deltas();
  if ((before.rangeId ?? null) !== (after.rangeId ?? null)) deltas.add({ rangeId: before.rangeId }, -1).add({ rangeId: after.rangeId }, 1);
  if ((before.blockId ?? null) !== (after.blockId ?? null)) deltas.add({ blockId: before.blockId }, -1).add({ blockId: after.blockId }, 1);
  const history = historyOfUpdate(ctx, 'address', before, update, operation);
  const others = [...alongside, ...deltas.writes()];
  if (others.length === 0 && history.length === 0 && freed.length === 0) {
    await ctx.store.collection('addresses').updateOne(filter, update);
    return;
  }
  const moved = !ctx.store.transactional && after.key !== before.key;
  await atomicFreeing(ctx, [...history, write, ...others], freed, moved ? await freedHintWrites(ctx, [after]) : undefined);
}

/**
 * Addresses deleted per atomic batch. Each deleted address adds a history entry, so a batch writes twice the
 * documents an insert batch does: half of CHUNK keeps one batch's synchronous call (and the WAL checkpoint it
 * may run) within the event-loop stall bound.
 */
export const DELETE_CHUNK = CHUNK / 2;

/**
 * Deletes addresses (their stored documents) by id, one deleteMany with its history entries and counter changes
 * per DELETE_CHUNK, yielding between chunks. History goes first (see updateAddressCounted); the chunk's `before`
 * writes (the allocation hints a delete lowers) go with the batch as atomicFreeing (lib/space/addresses.ts) puts
 * them: in it, or without transactions on their own before it and again as its settle writes (a losing
 * hold-ender then still leaves its lowered hint: harmless, a search starts lower).
 */
export async function deleteAddressesCounted(
  ctx: Context,
  docs: AddressDoc[],
  onProgress?: (done: number, total: number) => void,
  operation?: string,
  before?: (chunk: AddressDoc[]) => Promise<Write[]>,
): Promise<void> {
  for (let start = 0; start < docs.length; start += DELETE_CHUNK) {
    const chunk = docs.slice(start, start + DELETE_CHUNK);
    const history = chunk.flatMap((doc) => historyWrites(ctx, 'address', doc, null, operation));
    const hints = before ? await before(chunk) : [];
    const deltas = new Deltas();
    for (const doc of chunk) deltas.add(doc, -1);
    const remove: Write = chunk.length === 1
      ? { op: 'delete', collection: 'addresses', filter: { id: chunk[0].id } }
      : { op: 'delete', collection: 'addresses', filter: { id: { $in: chunk.map((doc) => doc.id) } }, many: true };
    const requestKeys = chunk.filter((doc) => doc.requestKey).map((doc) => doc.requestKey as string);
    const requests: Write[] = requestKeys.length > 0 ? [{ op: 'delete', collection: 'requests', filter: { id: { $in: requestKeys } }, many: true }] : [];
    await atomicFreeing(ctx, [...history, remove, ...requests, ...deltas.writes()], hints);
    onProgress?.(Math.min(start + DELETE_CHUNK, docs.length), docs.length);
    if (start + DELETE_CHUNK < docs.length) await yieldToEventLoop();
  }
}

/**
 * Re-maps the addresses matching `filter` to `to` on `field` (rangeId or blockId), a CHUNK at a time: each
 * chunk is one updateMany per previous value plus the counter changes, in one batch. `filter` must stop
 * matching an address once it is re-mapped (it names the previous values), which ends the loop.
 */
export async function remapAddresses(ctx: Context, filter: Filter, field: 'rangeId' | 'blockId', to: string | null): Promise<number> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  // An address still matching after its update (written meanwhile) is not retried, so the loop always ends
  // (a whole page of such addresses ends it early; reconcile and a repeat of the change repair that).
  const attempted = new Set<string>();
  let moved = 0;
  for (;;) {
    const docs = (await addresses.find(filter, { limit: CHUNK, fields: [field, 'address', 'addressSpace'] })).filter((doc) => !attempted.has(doc.id));
    if (docs.length === 0) return moved;
    const byPrevious = new Map<string | null, string[]>();
    for (const doc of docs) {
      attempted.add(doc.id);
      const previous = (doc[field] as string | null | undefined) ?? null;
      if (previous === to) continue;
      const ids = byPrevious.get(previous);
      if (ids) ids.push(doc.id);
      else byPrevious.set(previous, [doc.id]);
    }
    if (byPrevious.size === 0) return moved;
    const writes: Write[] = docs
      .filter((doc) => ((doc[field] as string | null | undefined) ?? null) !== to)
      .flatMap((doc) => historyWrites(ctx, 'address', doc, { ...doc, [field]: to }, 'remap'));
    const deltas = new Deltas();
    for (const [previous, ids] of byPrevious) {
      writes.push({
        op: 'update',
        collection: 'addresses',
        filter: { id: { $in: ids }, [field]: previous },
        update: { $set: { [field]: to } },
        many: true,
      });
      deltas.add({ [field]: previous }, -ids.length).add({ [field]: to }, ids.length);
      moved += ids.length;
    }
    await ctx.store.atomic([...writes, ...deltas.writes()]);
    await yieldToEventLoop();
  }
}

/** The stored counts of these ranges or blocks; one without a counter (until reconciled) counts its addresses. */
export async function assignedOf(ctx: Context, collection: 'ranges' | 'blocks', ids: string[]): Promise<number[]> {
  const stored = await storedCounts(ctx, ids);
  const field = collection === 'ranges' ? 'rangeId' : 'blockId';
  return Promise.all(ids.map((id) => stored.get(id) ?? ctx.store.collection('addresses').count({ [field]: id })));
}

async function storedCounts(ctx: Context, ids: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let start = 0; start < ids.length; start += CHUNK) {
    const found = await ctx.store.collection<CounterDoc>(COUNTERS).find({ id: { $in: ids.slice(start, start + CHUNK) } });
    for (const doc of found) if (typeof doc[COUNT_FIELD] === 'number') counts.set(doc.id, doc[COUNT_FIELD]);
  }
  return counts;
}

export interface Drift {
  entity: 'range' | 'block';
  id: string;
  network: string;
  /** The counter (`assignedCount` when absent; a block's range cover is `rangedSize` and `straddling`, lib/space/range-cover.ts). */
  field?: 'rangedSize' | 'straddling';
  stored: number | string | null;
  counted: number | string;
}

export interface ReconcileReport {
  ranges: number;
  blocks: number;
  /** Counters that differed from a recount, and were set to it. */
  drift: Drift[];
}

export interface ReconcileOptions {
  /**
   * Recompute block covers under each address space's structural lock, so a range written meanwhile (whose
   * batch sets its block's cover) is not overwritten by a cover counted before it. Off for callers that hold
   * the lock already (structural recovery).
   */
  lockCovers?: boolean;
}

/**
 * Recounts the counters of the ranges and blocks matching `filter` (all of them by default) and sets
 * those that drifted. One indexed count per range and block; a block's range cover reads its ranges' bounds.
 */
export async function reconcileCounters(
  ctx: Context,
  filter: { ranges?: Filter; blocks?: Filter } = {},
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const report: ReconcileReport = { ranges: 0, blocks: 0, drift: [] };
  const targets = [
    ['ranges', 'range', 'rangeId', filter.ranges ?? {}],
    ['blocks', 'block', 'blockId', filter.blocks ?? {}],
  ] as const;
  for (const [collection, entity, field, selection] of targets) {
    const found = await ctx.store.collection<{ id: string; network: string; addressSpace: string }>(collection).find(selection, { fields: ['network', 'addressSpace'] });
    const stored = await storedCounts(ctx, found.map((doc) => doc.id));
    for (const [index, doc] of found.entries()) {
      const counted = await ctx.store.collection('addresses').count({ [field]: doc.id });
      const before = stored.get(doc.id) ?? null;
      if (before !== counted) {
        await setCount(ctx, doc.id, counted, before !== null);
        report.drift.push({ entity, id: doc.id, network: doc.network, stored: before, counted });
      }
      if (index % 100 === 99) await yieldToEventLoop();
    }
    report[collection] = found.length;
    if (collection === 'blocks') report.drift.push(...(await coverDrift(ctx, found, options.lockCovers ?? false)));
  }
  return report;
}

async function coverDrift(ctx: Context, blocks: { id: string; network: string; addressSpace: string }[], locked: boolean): Promise<Drift[]> {
  const network = new Map(blocks.map((block) => [block.id, block.network]));
  const bySpace = new Map<string, string[]>();
  for (const block of blocks) {
    if (!bySpace.has(block.addressSpace)) bySpace.set(block.addressSpace, []);
    bySpace.get(block.addressSpace)!.push(block.id);
  }
  const recomputed: Awaited<ReturnType<typeof recomputeCover>> = [];
  for (const [space, ids] of bySpace) {
    recomputed.push(...(locked ? await withLock(ctx.store, spaceLock(space), () => recomputeCover(ctx, ids)) : await recomputeCover(ctx, ids)));
  }
  const drift: Drift[] = [];
  for (const { id, stored, counted } of recomputed) {
    for (const field of ['rangedSize', 'straddling'] as const) {
      if (stored[field] !== counted[field]) drift.push({ entity: 'block', id, network: network.get(id) ?? '', field, stored: stored[field] ?? null, counted: counted[field] });
    }
  }
  return drift;
}

/**
 * The `range` `reconcile` operation: payload `{addressSpace?}` limits it to one address space; without it
 * every range and block is recounted.
 */
export async function reconcile(ctx: Context, payload: unknown): Promise<ReconcileReport> {
  const input = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  if (input.addressSpace === undefined || input.addressSpace === '') return reconcileCounters(ctx, {}, { lockCovers: true });
  const space = { addressSpace: checkAddressSpace(input.addressSpace) };
  return reconcileCounters(ctx, { ranges: space, blocks: space }, { lockCovers: true });
}

/**
 * Sets a counter to a recount (creating it when missing). A write landing between the count and this set is
 * lost to the counter until the next reconcile; reconcile is for repair, not for running against a busy range.
 */
async function setCount(ctx: Context, id: string, counted: number, exists: boolean): Promise<void> {
  const counters = ctx.store.collection<CounterDoc>(COUNTERS);
  if (exists) return void (await counters.updateOne({ id }, { $set: { [COUNT_FIELD]: counted } }));
  try {
    await counters.insertOne({ id, [COUNT_FIELD]: counted });
  } catch (err) {
    // Created meanwhile (another process reconciling, or the range's own batch on a store without transactions).
    if (!isIpamError(err, 'DUPLICATE')) throw err;
    await counters.updateOne({ id }, { $set: { [COUNT_FIELD]: counted } });
  }
}

const MIGRATED = 'migration:counters-collection';

/**
 * Stores written before counters had their own collection (the count was a field of the range or block, or
 * there was none) get a counter for every range and block lacking one, by a recount, once; the old field is
 * then removed from the records. A counter another process opening the same store created meanwhile stands.
 */
export async function migrateCounters(ctx: Context): Promise<void> {
  const settings = ctx.store.collection('settings');
  if (await settings.findOne({ name: MIGRATED })) return;
  for (const [collection, field] of [['ranges', 'rangeId'], ['blocks', 'blockId']] as const) {
    const ids = (await ctx.store.collection(collection).find({}, { fields: ['id'] })).map((doc) => doc.id);
    const stored = await storedCounts(ctx, ids);
    for (const [index, id] of ids.entries()) {
      if (stored.has(id)) continue;
      const counted = await ctx.store.collection('addresses').count({ [field]: id });
      await ctx.store.collection<CounterDoc>(COUNTERS).insertOne({ id, [COUNT_FIELD]: counted }).catch(unlessDuplicate);
      if (index % 100 === 99) await yieldToEventLoop();
    }
    await ctx.store.collection(collection).updateMany({ [COUNT_FIELD]: { $exists: true } }, { $unset: { [COUNT_FIELD]: true } });
  }
  await settings.insertOne({ id: MIGRATED, name: MIGRATED, at: new Date(await ctx.store.now()).toISOString() }).catch(unlessDuplicate);
}

function unlessDuplicate(err: unknown): void {
  if (!isIpamError(err, 'DUPLICATE')) throw err;
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
