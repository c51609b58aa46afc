/**
 * Structural journal: crash-consistent add/delete of blocks and add/update/delete of ranges.
 *
 * A structural change touches one record and re-maps up to millions of addresses, a CHUNK per atomic
 * batch (lib/space/counters.ts). One batch for the whole change would be too large (a MongoDB journal entry is
 * limited to 16 MB; a SQLite transaction that size stalls the event loop), so the change rolls forward
 * instead: under the space lock, after every check has passed, the intent (the `Change`: the record before
 * and after) is written to the `journal` collection; then the record write and the re-mapping are applied,
 * and the journal entry is removed. Every step is idempotent (a record is inserted only when absent, a
 * re-map moves only what still has the previous value), so applying a change again from its first step,
 * after a crash at any write, ends in the same state as an uninterrupted run.
 *
 * Recovery (`recoverStructural`, run by `Ipam.open`) finishes every entry whose owner is gone, under the
 * space lock, then recounts the counters of what the change touched. An entry's owner is gone when the
 * space lock it named is gone or expired (on the embedded store the pass first releases the locks of
 * processes that have died on this host, lib/space/lock.ts). An entry of a live owner is left alone and looked at
 * again once its lock would expire.
 */
import { randomUUID } from 'node:crypto';
import type { BlockDoc } from './blocks';
import { dropCounterWrite, newCounterWrite, reconcileCounters, remapAddresses } from './counters';
import { historyWrites, type Context } from '../record';
import { withLock, type Lease } from './lock';
import { attachAddresses, detachAddresses, ensureStructureVersion, structureBump } from './mapping';
import { rangeCoverWrites, recomputeCover } from './range-cover';
import type { RangeDoc } from './ranges';
import { findBySelector, inside, overlapping, startFloor } from './bounds';
import { localState, retryLater, type Filter, type Update, type Write } from '../store';

export type Change =
  | { op: 'add-block'; block: BlockDoc }
  | { op: 'delete-block'; block: BlockDoc }
  | { op: 'add-range'; range: RangeDoc }
  | { op: 'update-range'; before: RangeDoc; after: RangeDoc; update: Update }
  | { op: 'delete-range'; range: RangeDoc };

interface StructuralJournal {
  id: string;
  /** One entry per address space (the journal's `name` is unique): changes of a space are serial anyway. */
  name: string;
  kind: 'structural';
  addressSpace: string;
  change: Change;
  owner: string;
  /** The space lock the owner holds while applying (`Lease.id`). */
  lockId: string;
  createdAt: string;
  [field: string]: unknown;
}

export interface StructuralOutcome {
  addressSpace: string;
  op: Change['op'];
  outcome: 'completed' | 'deferred';
  error?: string;
}


export function spaceLock(addressSpace: string): string {
  return `space:${addressSpace}`;
}

function journalName(addressSpace: string): string {
  return `structural|${addressSpace}`;
}

/**
 * Runs `change` on the block or range a selector names, under its space's lock, on the record as read under
 * the lock (another writer may have changed it while this one waited).
 */
export async function withSpaceRecord<T extends BlockDoc | RangeDoc, R>(
  ctx: Context,
  collection: 'blocks' | 'ranges',
  selector: unknown,
  change: (doc: T, lease: Lease) => Promise<R>,
): Promise<R> {
  const found = await findBySelector<T>(ctx, collection, selector);
  return withLock(ctx.store, spaceLock(found.addressSpace), async (lease) => change(await findBySelector<T>(ctx, collection, { id: found.id }), lease));
}

/**
 * Applies a checked change of `addressSpace` through the journal. Call under that space's lock (`lease`).
 * A failure part-way leaves the entry: the next change of the space, or the next recovery pass, finishes it.
 */
export async function applyStructural(ctx: Context, addressSpace: string, lease: Lease, change: Change): Promise<void> {
  const journal = ctx.store.collection<StructuralJournal>('journal');
  await finishLeftover(ctx, addressSpace, lease);
  lease.check();
  const doc: StructuralJournal = {
    id: randomUUID(),
    name: journalName(addressSpace),
    kind: 'structural',
    addressSpace,
    change,
    owner: localState(ctx.store).structuralOwner,
    lockId: lease.id,
    createdAt: new Date().toISOString(),
  };
  await journal.insertOne(doc);
  await run(ctx, doc, lease, false);
}

/** Rolls forward the entries of this space's structural changes whose owners are gone (see the module comment). */
export async function recoverStructural(ctx: Context): Promise<StructuralOutcome[]> {
  const journal = ctx.store.collection<StructuralJournal>('journal');
  const outcomes: StructuralOutcome[] = [];
  // Entries this process is applying on this store (a second config node on it must not take them).
  const { activeStructural } = localState(ctx.store);
  for (const doc of await journal.find({ kind: 'structural' })) {
    if (activeStructural.has(doc.id)) continue;
    const summary = { addressSpace: doc.addressSpace, op: doc.change.op };
    try {
      const liveUntil = await ownerLiveUntil(ctx, doc);
      if (liveUntil !== undefined) {
        const retryInMs = liveUntil - (await ctx.store.now()) + 1000;
        outcomes.push({ ...summary, outcome: 'deferred', error: `its process still holds the space lock; recovery retries in ${Math.ceil(retryInMs / 1000)} s` });
        scheduleRecovery(ctx, retryInMs);
        continue;
      }
      await withLock(ctx.store, spaceLock(doc.addressSpace), (lease) => finishLeftover(ctx, doc.addressSpace, lease));
      outcomes.push({ ...summary, outcome: 'completed' });
    } catch (err) {
      outcomes.push({ ...summary, outcome: 'deferred', error: (err as Error).message });
    }
  }
  return outcomes;
}

/** Finishes the space's entry left by an owner that is gone (we hold the space lock, so it no longer does). */
async function finishLeftover(ctx: Context, addressSpace: string, lease: Lease): Promise<void> {
  const journal = ctx.store.collection<StructuralJournal>('journal');
  const doc = await journal.findOne({ name: journalName(addressSpace) });
  const { activeStructural, structuralOwner: owner } = localState(ctx.store);
  if (!doc || activeStructural.has(doc.id)) return;
  const taken = await journal.updateOne({ id: doc.id, owner: doc.owner }, { $set: { owner, lockId: lease.id } });
  if (!taken) return;
  await run(ctx, { ...doc, owner, lockId: lease.id }, lease, true);
}

async function run(ctx: Context, doc: StructuralJournal, lease: Lease, recovering: boolean): Promise<void> {
  const { activeStructural } = localState(ctx.store);
  activeStructural.add(doc.id);
  try {
    await ensureStructureVersion(ctx, doc.addressSpace);
    await applyChange(ctx, doc.addressSpace, doc.change, lease);
    // Once more at the end: on a store without transactions a batch's bump may be what a crash cut off, and a
    // rerun skips a batch whose record write is done.
    await ctx.store.atomic([structureBump(doc.addressSpace)]);
    // Each re-map batch moves its counts with it; a recovery recounts anyway, since the store (or a
    // process before counters were batched) may have left drift. Not done on the live path: a recount
    // racing a concurrent allocation would itself lose a count.
    if (recovering) await reconcileCounters(ctx, await touched(ctx, doc.change));
    lease.check();
    await ctx.store.collection('journal').deleteOne({ id: doc.id, owner: doc.owner });
  } finally {
    activeStructural.delete(doc.id);
  }
}

/** The steps of a change; each is idempotent, so a rerun from the first step completes an interrupted one. */
async function applyChange(ctx: Context, addressSpace: string, change: Change, lease: Lease): Promise<void> {
  const blocks = ctx.store.collection<BlockDoc>('blocks');
  const ranges = ctx.store.collection<RangeDoc>('ranges');
  // Each record write goes with its counter, its history entry and the space's structure version bump
  // (lib/space/mapping.ts) in one batch; a rerun finds the write done and skips it. The bump comes first and
  // last: on a store without transactions, a range plan read while the batch is part-way is read again, and a
  // counter is dropped before its record, so a cut-off batch leaves no counter without a record.
  const recorded = (writes: Write[]) => ctx.store.atomic([structureBump(addressSpace), ...writes, structureBump(addressSpace)]);
  switch (change.op) {
    case 'add-block':
      if (!(await blocks.findOne({ id: change.block.id }, { fields: ['id'] }))) {
        await recorded([{ op: 'insert', collection: 'blocks', doc: change.block }, newCounterWrite(change.block.id), ...historyWrites(ctx, 'block', null, change.block)]);
      }
      lease.check();
      return adoptChildren(ctx, change.block, lease);
    case 'delete-block':
      if (await blocks.findOne({ id: change.block.id }, { fields: ['id'] })) {
        await recorded([dropCounterWrite(change.block.id), { op: 'delete', collection: 'blocks', filter: { id: change.block.id } }, ...historyWrites(ctx, 'block', change.block, null)]);
      }
      lease.check();
      return moveChildren(ctx, change.block, lease);
    case 'add-range':
      if (!(await ranges.findOne({ id: change.range.id }, { fields: ['id'] }))) {
        const cover = await rangeCoverWrites(ctx, [], [change.range]);
        await recorded([{ op: 'insert', collection: 'ranges', doc: change.range }, newCounterWrite(change.range.id), ...historyWrites(ctx, 'range', null, change.range), ...cover]);
      }
      lease.check();
      await attachAddresses(ctx, change.range);
      return;
    case 'update-range': {
      await detachAddresses(ctx, change.before);
      lease.check();
      const stored = await ranges.findOne({ id: change.before.id }, { fields: ['updatedAt'] });
      if (stored && stored.updatedAt !== change.after.updatedAt) {
        await recorded([
          { op: 'update', collection: 'ranges', filter: { id: change.before.id }, update: change.update },
          ...historyWrites(ctx, 'range', change.before, change.after),
          ...(await rangeCoverWrites(ctx, [change.before], [change.after])),
        ]);
      }
      lease.check();
      await attachAddresses(ctx, change.after);
      return;
    }
    case 'delete-range':
      if (await ranges.findOne({ id: change.range.id }, { fields: ['id'] })) {
        const cover = await rangeCoverWrites(ctx, [change.range], []);
        await recorded([dropCounterWrite(change.range.id), { op: 'delete', collection: 'ranges', filter: { id: change.range.id } }, ...historyWrites(ctx, 'range', change.range, null), ...cover]);
      }
      lease.check();
      await detachAddresses(ctx, change.range);
      return;
  }
}

/** A new block takes, from its parent, the child blocks, ranges and addresses that lie inside it. */
async function adoptChildren(ctx: Context, block: BlockDoc, lease: Lease): Promise<void> {
  const within = inside(block);
  const parentId = block.parentId ?? null;
  await ctx.store.collection('blocks').updateMany(
    { ...within, addressSpace: block.addressSpace, parentId, id: { $ne: block.id } },
    { $set: { parentId: block.id } },
  );
  lease.check();
  await ctx.store.collection('ranges').updateMany({ ...within, addressSpace: block.addressSpace, blockId: parentId }, { $set: { blockId: block.id } });
  // The new block and its parent changed ranges and child blocks; blocks further out did not (see lib/space/range-cover.ts).
  await recomputeCover(ctx, [block.id, parentId]);
  lease.check();
  await remapAddresses(ctx, { key: { $gte: block.startKey, $lte: block.endKey }, blockId: parentId }, 'blockId', block.id);
}

/** A deleted block's child blocks, ranges and addresses move to its parent (or become unmapped). */
async function moveChildren(ctx: Context, block: BlockDoc, lease: Lease): Promise<void> {
  const to = block.parentId ?? null;
  await ctx.store.collection('blocks').updateMany({ parentId: block.id }, { $set: { parentId: to } });
  lease.check();
  await ctx.store.collection('ranges').updateMany({ blockId: block.id }, { $set: { blockId: to } });
  // Only the parent's cover changes: it takes the ranges and children. A range further out that overlapped the
  // deleted block also overlaps the parent (or the parent's own ancestor below it), so what it straddles stays.
  await recomputeCover(ctx, [to]);
  lease.check();
  await remapAddresses(ctx, { blockId: block.id }, 'blockId', to);
}

/** The counters a change can move: the blocks it adds or removes and their parent, or the ranges overlapping its span. */
async function touched(ctx: Context, change: Change): Promise<{ ranges: Filter; blocks: Filter }> {
  const none: Filter = { id: { $in: [] } };
  if (change.op === 'add-block' || change.op === 'delete-block') {
    const ids = [change.block.id, ...(change.block.parentId ? [change.block.parentId] : [])];
    return { ranges: none, blocks: { id: { $in: ids } } };
  }
  const spans = change.op === 'update-range' ? [change.before, change.after] : [change.range];
  const ids = new Set<string>();
  for (const span of spans) {
    const found = await ctx.store
      .collection('ranges')
      .find({ addressSpace: span.addressSpace, ...overlapping(span, await startFloor(ctx, 'ranges', span)) }, { fields: ['id'] });
    for (const doc of found) ids.add(doc.id);
  }
  return { ranges: { id: { $in: [...ids] } }, blocks: none };
}

/** When the entry's owner may still be applying it: the expiry of the space lock it holds; undefined when that lock is gone or expired. */
async function ownerLiveUntil(ctx: Context, doc: StructuralJournal): Promise<number | undefined> {
  const lock = await ctx.store.collection<{ id: string; expiresAt: number }>('locks').findOne({ id: doc.lockId });
  if (!lock || lock.expiresAt < (await ctx.store.now())) return undefined;
  return lock.expiresAt;
}

/** One pending retry of `recoverStructural` per store (an entry was deferred because its owner looked alive). */
function scheduleRecovery(ctx: Context, delayMs: number): void {
  retryLater(ctx.store, 'structuralRetry', Math.max(delayMs, 1000), () => recoverStructural(ctx));
}
