/**
 * Mapping: a range maps to the most specific block containing it; an address to the most specific block
 * containing it and to the most specific range containing it with the same service and instance.
 */
import { sizeOf, type Family } from '../address';
import { remapAddresses } from './counters';
import type { Keyed, RangeRecord, Context } from '../record';
import { containing, floorBySpan, intervalOfKeys, overlapping, smallest, startFloor } from './bounds';

type RangeDoc = RangeRecord & Keyed & { startKey: string; endKey: string };

interface Located {
  addressSpace: string;
  family: Family;
  startKey: string;
  endKey: string;
}

/** Only what picking the most specific container needs: sorted on the start key, so an ordered index walk answers. */
const CONTAINER_READ = { sort: { startKey: 1 as const }, fields: ['startKey', 'endKey'] };

export async function mostSpecificBlockId(ctx: Context, where: Located): Promise<string | null> {
  const blocks = await ctx.store
    .collection<{ id: string; startKey: string; endKey: string }>('blocks')
    .find({ addressSpace: where.addressSpace, ...containing(where, await startFloor(ctx, 'blocks', where)) }, CONTAINER_READ);
  return smallest(blocks)?.id ?? null;
}

/**
 * `within`: a range expected to contain `where` with this service and instance (the one allocating from).
 * Only a range no larger than it can be more specific, and such a range starts at most its span back,
 * so the search usually needs no `startFloor` query.
 */
export async function mostSpecificRangeId(
  ctx: Context,
  where: Located,
  service: { managedByService: string; serviceInstance: string },
  within?: { startKey: string; endKey: string },
): Promise<string | null> {
  if (within) {
    const span = spanOf(within);
    const best = smallest(await rangesContaining(ctx, where, service, floorBySpan(where, span)));
    // Every range this small that contains `where` starts in that window, so the smallest of them is the answer;
    // none this small (`within` changed or went away meanwhile) needs the full search.
    if (best && spanOf(best) <= span) return best.id;
  }
  return smallest(await rangesContaining(ctx, where, service, await startFloor(ctx, 'ranges', where)))?.id ?? null;
}

function rangesContaining(
  ctx: Context,
  where: Located,
  service: { managedByService: string; serviceInstance: string },
  floor: string,
): Promise<RangeDoc[]> {
  return ctx.store.collection<RangeDoc>('ranges').find(
    {
      addressSpace: where.addressSpace,
      managedByService: service.managedByService,
      serviceInstance: service.serviceInstance,
      ...containing(where, floor),
    },
    CONTAINER_READ,
  );
}

function spanOf(doc: { startKey: string; endKey: string }): bigint {
  const { first, last } = intervalOfKeys(doc);
  return last - first;
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
  return remapAddresses(
    ctx,
    {
      key: { $gte: range.startKey, $lte: range.endKey },
      managedByService: range.managedByService,
      serviceInstance: range.serviceInstance,
      rangeId: { $in: [null, ...larger] },
    },
    'rangeId',
    range.id,
  );
}

/** A range leaving hands each of its addresses to the next most specific range, or unmaps it. */
export async function detachAddresses(ctx: Context, range: RangeDoc): Promise<void> {
  for (const peer of await peers(ctx, range)) {
    const key = { $gte: maxKey(range.startKey, peer.startKey), $lte: minKey(range.endKey, peer.endKey) };
    if (key.$gte <= key.$lte) await remapAddresses(ctx, { rangeId: range.id, key }, 'rangeId', peer.id);
  }
  await remapAddresses(ctx, { rangeId: range.id }, 'rangeId', null);
}

function maxKey(a: string, b: string): string {
  return a > b ? a : b;
}

function minKey(a: string, b: string): string {
  return a < b ? a : b;
}
