/**
 * Mapping: a range maps to the most specific block containing it; an address to the most specific block
 * containing it and to the most specific range containing it with the same service and instance.
 */
import { sizeOf, type Family } from '../address';
import { isIpamError } from '../errors';
import { remapAddresses } from './counters';
import type { Keyed, RangeRecord, Context } from '../record';
import { keepBounded, localState, type Write } from '../store';
import { containing, floorBySpan, intervalOfKeys, overlapping, smallest, startFloor } from './bounds';

type RangeDoc = RangeRecord & Keyed & { startKey: string; endKey: string };

type Container = { id: string; startKey: string; endKey: string };

interface Service {
  managedByService: string;
  serviceInstance: string;
}

interface Located {
  addressSpace: string;
  family: Family;
  startKey: string;
  endKey: string;
}

/** Only what picking the most specific container needs: sorted on the start key, so an ordered index walk answers. */
export const CONTAINER_READ = { sort: { startKey: 1 as const }, fields: ['startKey', 'endKey'] };

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

/* ------------------------------------------------------------ range plans */

/**
 * Where the addresses of one range map, for allocating from it: the ranges of its service and instance no
 * larger than it, and the blocks, that overlap it (in start order, as the queries above read them). Read once
 * and kept in this process while its address space's structure version stays the same, so an allocation
 * maps its address with one read of that version instead of three queries. A range overlapped by more than
 * PLAN_LIMIT of either has no plan: its addresses are mapped by the queries.
 */
export interface RangePlan {
  ranges: Container[];
  blocks: Container[];
}

export const PLAN_LIMIT = 64;

/** Plans kept per store; past this many, the oldest go. */
const PLANS_KEPT = 1000;

/**
 * The address's range and block. `within`: the range the address is being allocated from (it contains the
 * address, with this service and instance), whose plan answers without queries; `read`: that plan as
 * `rangePlan` read it once for several addresses of one batch.
 */
export async function mappingOf(
  ctx: Context,
  where: Located,
  service: Service,
  within?: RangeDoc,
  read?: Promise<RangePlan | undefined>,
): Promise<{ rangeId: string | null; blockId: string | null }> {
  const sameService = within && within.managedByService === service.managedByService && within.serviceInstance === service.serviceInstance;
  const plan = sameService ? await (read ?? rangePlan(ctx, within)) : undefined;
  const range = plan && smallest(plan.ranges.filter((doc) => holds(doc, where.startKey)));
  if (plan && range) return { rangeId: range.id, blockId: smallest(plan.blocks.filter((doc) => holds(doc, where.startKey)))?.id ?? null };
  return { rangeId: await mostSpecificRangeId(ctx, where, service, within), blockId: await mostSpecificBlockId(ctx, where) };
}

function holds(doc: Container, key: string): boolean {
  return doc.startKey <= key && key <= doc.endKey;
}

/** The range's plan under the current structure version (undefined: it has none, map by the queries). */
export async function rangePlan(ctx: Context, range: RangeDoc): Promise<RangePlan | undefined> {
  const version = await structureVersion(ctx, range.addressSpace);
  const plans = localState(ctx.store).rangePlans;
  const kept = plans.get(range.id);
  if (kept && kept.version === version && kept.updatedAt === range.updatedAt) return kept.plan as RangePlan | undefined;
  const plan = await readPlan(ctx, range);
  keepBounded(plans, range.id, { version, updatedAt: range.updatedAt, plan }, PLANS_KEPT);
  return plan;
}

async function readPlan(ctx: Context, range: RangeDoc): Promise<RangePlan | undefined> {
  const span = spanOf(range);
  const read = { ...CONTAINER_READ, limit: PLAN_LIMIT + 1 };
  const ranges = await ctx.store.collection<RangeDoc>('ranges').find(
    {
      addressSpace: range.addressSpace,
      managedByService: range.managedByService,
      serviceInstance: range.serviceInstance,
      ...overlapping(range, floorBySpan(range, span)),
    },
    read,
  );
  const blocks = await ctx.store
    .collection<Container>('blocks')
    .find({ addressSpace: range.addressSpace, ...overlapping(range, await startFloor(ctx, 'blocks', range)) }, read);
  // A read cut off at the limit may lack a container: no plan (the size filter comes after this check).
  if (ranges.length > PLAN_LIMIT || blocks.length > PLAN_LIMIT) return undefined;
  return { ranges: ranges.filter((doc) => spanOf(doc) <= span), blocks };
}

/* ------------------------------------------------------- structure version */

function structureName(addressSpace: string): string {
  return `structure|${addressSpace}`;
}

/**
 * The structure version of an address space: bumped in the same batch as every block or range write of a
 * structural change (lib/space/structural.ts), so a range plan read under one version stays exact until it
 * moves. -1 until the space's first structural change through this version of the code.
 */
export async function structureVersion(ctx: Context, addressSpace: string): Promise<number> {
  const doc = await ctx.store.collection<{ id: string; version?: number }>('settings').findOne({ name: structureName(addressSpace) }, { fields: ['version'] });
  return typeof doc?.version === 'number' ? doc.version : -1;
}

/** Creates the space's version document if it is missing; call before a change whose batches carry `structureBump`. */
export async function ensureStructureVersion(ctx: Context, addressSpace: string): Promise<void> {
  const name = structureName(addressSpace);
  const settings = ctx.store.collection('settings');
  if (await settings.findOne({ name }, { fields: ['name'] })) return;
  await settings.insertOne({ id: name, name, version: 0 }).catch((err: unknown) => {
    if (!isIpamError(err, 'DUPLICATE')) throw err;
  });
}

export function structureBump(addressSpace: string): Write {
  return { op: 'update', collection: 'settings', filter: { name: structureName(addressSpace) }, update: { $inc: { version: 1 } } };
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
