/**
 * Mapping: a range maps to the most specific block containing it; an address to the most specific block
 * containing it and to the most specific range containing it with the same service and instance.
 */
import { sizeOf, type Family } from './address';
import type { Keyed, RangeRecord } from './records';
import { containing, intervalOfKeys, overlapping, smallest, startFloor, type Context } from './space';

type RangeDoc = RangeRecord & Keyed & { startKey: string; endKey: string };

interface Located {
  addressSpace: string;
  family: Family;
  startKey: string;
  endKey: string;
}

export async function mostSpecificBlockId(ctx: Context, where: Located, excludeId?: string): Promise<string | null> {
  const blocks = await ctx.store
    .collection<{ id: string; startKey: string; endKey: string }>('blocks')
    .find({ addressSpace: where.addressSpace, ...containing(where, await startFloor(ctx, 'blocks', where)) });
  return smallest(blocks.filter((b) => b.id !== excludeId))?.id ?? null;
}

export async function mostSpecificRangeId(
  ctx: Context,
  where: Located,
  service: { managedByService: string; serviceInstance: string },
): Promise<string | null> {
  const ranges = await ctx.store.collection<RangeDoc>('ranges').find({
    addressSpace: where.addressSpace,
    managedByService: service.managedByService,
    serviceInstance: service.serviceInstance,
    ...containing(where, await startFloor(ctx, 'ranges', where)),
  });
  return smallest(ranges)?.id ?? null;
}

/** Other ranges of the same service and instance that overlap this one, smallest first. */
async function peers(ctx: Context, range: RangeDoc): Promise<RangeDoc[]> {
  const found = await ctx.store.collection<RangeDoc>('ranges').find({
    addressSpace: range.addressSpace,
    managedByService: range.managedByService,
    serviceInstance: range.serviceInstance,
    id: { $ne: range.id },
    ...overlapping(range, await startFloor(ctx, 'ranges', range)),
  });
  return found
    .map((doc) => ({ doc, size: sizeOf(intervalOfKeys(doc)) }))
    .sort((a, b) => (a.size < b.size ? -1 : a.size > b.size ? 1 : 0))
    .map((entry) => entry.doc);
}

/** A range arriving takes the addresses inside it that are unmapped or mapped to a larger range. */
export async function attachAddresses(ctx: Context, range: RangeDoc): Promise<number> {
  const size = sizeOf(intervalOfKeys(range));
  const larger = (await peers(ctx, range)).filter((peer) => sizeOf(intervalOfKeys(peer)) > size).map((p) => p.id);
  return ctx.store.collection('addresses').updateMany(
    {
      key: { $gte: range.startKey, $lte: range.endKey },
      managedByService: range.managedByService,
      serviceInstance: range.serviceInstance,
      rangeId: { $in: [null, ...larger] },
    },
    { $set: { rangeId: range.id } },
  );
}

/** A range leaving hands each of its addresses to the next most specific range, or unmaps it. */
export async function detachAddresses(ctx: Context, range: RangeDoc): Promise<void> {
  const addresses = ctx.store.collection('addresses');
  for (const peer of await peers(ctx, range)) {
    await addresses.updateMany(
      {
        rangeId: range.id,
        key: { $gte: maxKey(range.startKey, peer.startKey), $lte: minKey(range.endKey, peer.endKey) },
      },
      { $set: { rangeId: peer.id } },
    );
  }
  await addresses.updateMany({ rangeId: range.id }, { $set: { rangeId: null } });
}

function maxKey(a: string, b: string): string {
  return a > b ? a : b;
}

function minKey(a: string, b: string): string {
  return a < b ? a : b;
}
