/**
 * Utilization from indexed counts and range bounds; never by walking addresses.
 */
import { jsonCount, sizeOf, unionSize } from './address';
import { getBlockDoc } from './blocks';
import { getRangeDoc } from './ranges';
import { inside, intervalOf, intervalOfKeys, type Context } from './space';

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
  const assigned = await ctx.store.collection('addresses').count({ rangeId: range.id });
  return summarise(size, size, assigned);
}

/** A block counts every range and address inside it, nested blocks included. */
export async function blockUtilization(ctx: Context, selector: unknown): Promise<Utilization> {
  const block = await getBlockDoc(ctx, selector);
  const ranges = await ctx.store
    .collection<{ id: string; startKey: string; endKey: string }>('ranges')
    .find({ addressSpace: block.addressSpace, ...inside(block) }, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] });
  const assigned = await ctx.store
    .collection('addresses')
    .count({ key: { $gte: block.startKey, $lte: block.endKey } });
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
