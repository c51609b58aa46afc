/**
 * Utilization from the maintained counters (lib/space/counters.ts) and range covers (lib/space/range-cover.ts); never by
 * walking or counting addresses. A block sums its own counter and cover and those of the blocks nested in it.
 */
import { jsonCount, sizeOf, unionSize } from '../address';
import { getBlockDoc } from './blocks';
import { assignedOf } from './counters';
import { RANGED_FIELD, STRADDLING_FIELD, summedCover } from './range-cover';
import { getRangeDoc } from './ranges';
import { inside, intervalOf, intervalOfKeys } from './bounds';
import type { Context } from '../record';
import type { Filter } from '../store';

export interface Utilization {
  size: number | string;
  /** Addresses covered by ranges (for a range, its own size). */
  rangeSize: number | string;
  assigned: number;
  free: number | string;
  utilizedPercent: number;
}

export async function rangeUtilization(ctx: Context, selector: unknown): Promise<Utilization> {
  const range = await getRangeDoc(ctx, selector);
  const size = sizeOf(intervalOf(range));
  const [assigned] = await assignedOf(ctx, 'ranges', [range.id]);
  return summarise(size, size, assigned);
}

/**
 * A block counts every range and address inside it, nested blocks and unmapped addresses included: O(blocks
 * beneath it). Only where a range straddles a nested block are the ranges' bounds read, for the union.
 */
export async function blockUtilization(ctx: Context, selector: unknown): Promise<Utilization> {
  const block = await getBlockDoc(ctx, selector);
  const within = { addressSpace: block.addressSpace, ...inside(block) };
  // Every address inside the block maps to it or to a block nested in it (blocks never partly overlap).
  const blocks = await ctx.store
    .collection<{ id: string; rangedSize?: string; straddling?: number }>('blocks')
    .find(within, { fields: [RANGED_FIELD, STRADDLING_FIELD] });
  const assigned = (await assignedOf(ctx, 'blocks', blocks.map((nested) => nested.id))).reduce((sum, n) => sum + n, 0);
  const rangeSize = summedCover(blocks) ?? (await rangeUnion(ctx, within));
  return summarise(sizeOf(intervalOfKeys(block)), rangeSize, assigned);
}

/** The addresses covered by the ranges inside `within`, from their bounds. */
async function rangeUnion(ctx: Context, within: Filter): Promise<bigint> {
  const ranges = await ctx.store
    .collection<{ id: string; startKey: string; endKey: string }>('ranges')
    .find(within, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] });
  return unionSize(ranges.map(intervalOfKeys));
}

export function summarise(size: bigint, rangeSize: bigint, assigned: number): Utilization {
  const used = BigInt(assigned);
  return {
    size: jsonCount(size),
    rangeSize: jsonCount(rangeSize),
    assigned,
    free: jsonCount(size - used),
    utilizedPercent: percent(used, size),
  };
}

/** Percentage with two decimals, exact for sizes far beyond 2^53. */
function percent(part: bigint, whole: bigint): number {
  if (whole === 0n) return 0;
  return Number((part * 10000n) / whole) / 100;
}
