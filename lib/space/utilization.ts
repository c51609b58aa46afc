/**
 * Utilization from the maintained counters (lib/counters.ts) and range bounds; never by walking or
 * counting addresses. A block sums its own counter and those of the blocks nested in it.
 */
import { jsonCount, sizeOf, unionSize } from '../address';
import { getBlockDoc } from './blocks';
import { COUNT_FIELD, assignedOf } from './counters';
import { getRangeDoc } from './ranges';
import { inside, intervalOf, intervalOfKeys } from './bounds';
import type { Context } from '../record';

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
  return summarise(size, size, await assignedOf(ctx, 'ranges', range));
}

/** A block counts every range and address inside it, nested blocks and unmapped addresses included. */
export async function blockUtilization(ctx: Context, selector: unknown): Promise<Utilization> {
  const block = await getBlockDoc(ctx, selector);
  const within = { addressSpace: block.addressSpace, ...inside(block) };
  const ranges = await ctx.store
    .collection<{ id: string; startKey: string; endKey: string }>('ranges')
    .find(within, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] });
  // Every address inside the block maps to it or to a block nested in it (blocks never partly overlap).
  const blocks = await ctx.store
    .collection<{ id: string; assignedCount?: number }>('blocks')
    .find(within, { fields: [COUNT_FIELD] });
  let assigned = 0;
  for (const nested of blocks) assigned += await assignedOf(ctx, 'blocks', nested);
  return summarise(sizeOf(intervalOfKeys(block)), unionSize(ranges.map(intervalOfKeys)), assigned);
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
