/**
 * Range cover of blocks, so that block utilization reads its subtree's blocks and never its ranges. Every block
 * keeps `rangedSize`, the addresses covered by the ranges mapped directly to it (a decimal string: IPv6 sizes
 * exceed 2^53), and `straddling`, how many of those ranges overlap one of its child blocks.
 *
 * Ranges of one block never overlap. Ranges of two blocks of a subtree overlap only where the outer one
 * straddles a nested block (it maps to the outer block, being not inside the inner one, yet reaches into it). So
 * the addresses covered by the ranges inside a block are the sum of its subtree's `rangedSize` whenever no
 * block there has `straddling` > 0; otherwise lib/space/utilization.ts takes the union of the ranges' intervals.
 *
 * Kept exact: each range insert, update and delete carries its change (`rangeCoverWrites`) in the structural
 * journal's batch with the range write; a block add or delete, which moves ranges and child blocks between
 * blocks, recomputes the blocks it changed (`recomputeCover`); `reconcile` recomputes and reports drift.
 */
import { sizeOf } from '../address';
import type { Context } from '../record';
import { intervalOfKeys, overlapping, startFloor } from './bounds';
import type { Write } from '../store';

export const RANGED_FIELD = 'rangedSize';
export const STRADDLING_FIELD = 'straddling';

/** The cover a block starts with: no ranges. */
export const EMPTY_COVER = { [RANGED_FIELD]: '0', [STRADDLING_FIELD]: 0 };

type Placed = { addressSpace: string; family: 4 | 6; startKey: string; endKey: string; blockId?: string | null };
type Bounded = { id: string; startKey: string; endKey: string };
type CoverDoc = { id: string; parentId?: string | null; rangedSize?: unknown; straddling?: unknown };

export interface Cover {
  rangedSize: string;
  straddling: number;
}

/** Whether a range of `range.blockId` overlaps one of that block's child blocks. */
async function straddles(ctx: Context, range: Placed): Promise<boolean> {
  if (!range.blockId) return false;
  const child = await ctx.store
    .collection('blocks')
    .findOne({ parentId: range.blockId, ...overlapping(range, await startFloor(ctx, 'blocks', range)) }, { fields: ['id'] });
  return child !== null;
}

/**
 * The block writes that go in one batch with range writes: `removed` ranges leave their blocks, `added` ones
 * join theirs (both as mapped). A block without a stored cover is left to reconcile. Call under the space lock.
 */
export async function rangeCoverWrites(ctx: Context, removed: Placed[], added: Placed[]): Promise<Write[]> {
  const deltas = new Map<string, { size: bigint; straddling: number }>();
  for (const [ranges, sign] of [[removed, -1n], [added, 1n]] as const) {
    for (const range of ranges) {
      if (!range.blockId) continue;
      const delta = deltas.get(range.blockId) ?? { size: 0n, straddling: 0 };
      delta.size += sign * sizeOf(intervalOfKeys(range));
      if (await straddles(ctx, range)) delta.straddling += Number(sign);
      deltas.set(range.blockId, delta);
    }
  }
  const writes: Write[] = [];
  const blocks = ctx.store.collection<CoverDoc>('blocks');
  for (const [id, delta] of deltas) {
    if (delta.size === 0n && delta.straddling === 0) continue;
    const block = await blocks.findOne({ id }, { fields: [RANGED_FIELD] });
    if (typeof block?.rangedSize !== 'string') continue;
    const rangedSize = (BigInt(block.rangedSize) + delta.size).toString();
    const update = { $set: { [RANGED_FIELD]: rangedSize }, ...(delta.straddling !== 0 ? { $inc: { [STRADDLING_FIELD]: delta.straddling } } : {}) };
    writes.push({ op: 'update', collection: 'blocks', filter: { id }, update });
  }
  return writes;
}

/** A block's cover counted from its ranges and child blocks. */
export async function coverOf(ctx: Context, blockId: string): Promise<Cover> {
  const byStart = { sort: { startKey: 1 as const }, fields: ['startKey', 'endKey'] };
  const ranges = await ctx.store.collection<Bounded>('ranges').find({ blockId }, byStart);
  const children = await ctx.store.collection<Bounded>('blocks').find({ parentId: blockId }, byStart);
  let size = 0n;
  let straddling = 0;
  let next = 0;
  // Both lists are sorted and hold disjoint intervals, so one walk finds each range's first child not before it.
  for (const range of ranges) {
    size += sizeOf(intervalOfKeys(range));
    while (next < children.length && children[next].endKey < range.startKey) next++;
    if (next < children.length && children[next].startKey <= range.endKey) straddling++;
  }
  return { rangedSize: size.toString(), straddling };
}

/** Blocks stored before range covers existed get theirs (at open; a scan of the small blocks table, then nothing). */
export async function fillMissingCovers(ctx: Context): Promise<void> {
  const missing = await ctx.store.collection<CoverDoc>('blocks').find({ [RANGED_FIELD]: { $exists: false } }, { fields: ['id'] });
  await recomputeCover(ctx, missing.map((block) => block.id));
}

/** Sets the cover of these blocks to a recount; returns the blocks whose stored cover differed. */
export async function recomputeCover(ctx: Context, blockIds: (string | null | undefined)[]): Promise<{ id: string; stored: Partial<Cover>; counted: Cover }[]> {
  const blocks = ctx.store.collection<CoverDoc>('blocks');
  const drifted: { id: string; stored: Partial<Cover>; counted: Cover }[] = [];
  for (const id of new Set(blockIds)) {
    if (!id) continue;
    const stored = await blocks.findOne({ id }, { fields: [RANGED_FIELD, STRADDLING_FIELD] });
    if (!stored) continue;
    const counted = await coverOf(ctx, id);
    if (stored.rangedSize === counted.rangedSize && stored.straddling === counted.straddling) continue;
    await blocks.updateOne({ id }, { $set: { ...counted } });
    drifted.push({ id, stored: { rangedSize: stored.rangedSize as string, straddling: stored.straddling as number }, counted });
  }
  return drifted;
}

/**
 * The addresses covered by ranges inside a block, from the stored covers of its subtree's blocks (the block
 * included); undefined when one of them has none yet or has a straddling range (then the union decides).
 */
export function summedCover(blocks: CoverDoc[]): bigint | undefined {
  let total = 0n;
  for (const block of blocks) {
    if (typeof block.rangedSize !== 'string' || block.straddling !== 0) return undefined;
    total += BigInt(block.rangedSize);
  }
  return total;
}
