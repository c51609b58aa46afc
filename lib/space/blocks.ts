/**
 * IP address blocks: containers of ranges. Blocks nest; partial overlap and duplicates are refused.
 * Every structural change runs under the address space's lock and re-maps what lies beneath.
 */
import { randomUUID } from 'node:crypto';
import { isPrivate, overlaps } from '../address';
import { canonicalOf, RIRS, optionalFields, historyWrites, checkInput, clearedFields, nowIso, toRecord, checkCustomFields, type BlockRecord, type Keyed, type RangeRecord, type Context } from '../record';
import { IpamError, invalid, show } from '../errors';
import { withLock } from './lock';
import { intervalOf, intervalOfKeys, overlapping, resolveBounds, boundsFields, findBySelector, getSpaceRecord, listSpaceRecords, smallest, spanKey, startFloor, type Bounds } from './bounds';
import type { Filter } from '../store';
import { EMPTY_COVER } from './range-cover';
import { applyStructural, spaceLock, withSpaceRecord } from './structural';

export { spaceLock };

export type BlockDoc = BlockRecord &
  Keyed & { startKey: string; endKey: string; spanKey: string; rangedSize?: string; straddling?: number };

/** Fields an update may change without moving the block: its optional ones. */
const EDITABLE = optionalFields('blocks');

export async function addBlock(ctx: Context, input: unknown): Promise<BlockRecord> {
  const fields = checkInput('blocks', input);
  const bounds = resolveBounds(fields, 'whole');
  const privateBlock = isPrivate(bounds.family, bounds);
  const rir = checkRir(bounds, privateBlock, fields.rir);
  const customFields = await checkCustomFields(ctx, 'blocks', fields.customFields);
  return withLock(ctx.store, spaceLock(bounds.addressSpace), async (lease) => {
    const parent = await refuseOverlap(ctx, bounds);
    const now = nowIso();
    const doc: BlockDoc = {
      id: randomUUID(),
      ...boundsFields(bounds),
      isPrivate: privateBlock,
      ...(rir ? { rir } : {}),
      ...(fields.description ? { description: fields.description as string } : {}),
      ...(customFields ? { customFields } : {}),
      parentId: parent?.id ?? null,
      key: `${bounds.startKey}|${bounds.endKey}`,
      spanKey: spanKey(bounds),
      startKey: bounds.startKey,
      endKey: bounds.endKey,
      ...EMPTY_COVER,
      createdAt: now,
      updatedAt: now,
    };
    await applyStructural(ctx, doc.addressSpace, lease, { op: 'add-block', block: doc });
    return toRecord(doc, ctx);
  });
}

export async function updateBlock(ctx: Context, selector: unknown, input: unknown): Promise<BlockRecord> {
  const current = await getBlockDoc(ctx, selector);
  const fields = checkInput('blocks', input);
  for (const field of ['network', 'startAddress', 'endAddress', 'prefixLength', 'addressSpace'] as const) {
    if (fields[field] !== undefined && String(fields[field]) !== String(current[field])) {
      throw invalid(field, fields[field], 'cannot change on an existing block; delete it and add the new one');
    }
  }
  const changes: Record<string, unknown> = {};
  for (const field of EDITABLE) if (fields[field] !== undefined) changes[field] = fields[field];
  const cleared = clearedFields(input).filter((field) => EDITABLE.includes(field));
  if ('rir' in changes || cleared.includes('rir')) changes.rir = checkRir(current, current.isPrivate, changes.rir);
  if ('customFields' in changes) changes.customFields = await checkCustomFields(ctx, 'blocks', changes.customFields);
  for (const field of Object.keys(changes)) if (changes[field] === undefined) delete changes[field];
  const $unset = Object.fromEntries(cleared.filter((f) => !(f in changes)).map((f) => [f, true as const]));
  changes.updatedAt = nowIso();
  const updated: Record<string, unknown> = { ...current, ...changes };
  for (const field of Object.keys($unset)) delete updated[field];
  await ctx.store.atomic([
    { op: 'update', collection: 'blocks', filter: { id: current.id }, update: { $set: changes, ...(Object.keys($unset).length ? { $unset } : {}) } },
    ...historyWrites(ctx, 'block', current, updated as BlockDoc),
  ]);
  return toRecord(updated as BlockDoc, ctx);
}

export const getBlock = (ctx: Context, selector: unknown): Promise<BlockRecord> => getSpaceRecord<BlockDoc>(ctx, 'blocks', selector);
export const listBlocks = (ctx: Context, filter: Filter): Promise<BlockRecord[]> => listSpaceRecords<BlockDoc>(ctx, 'blocks', filter);

/** Deletes a block; its ranges, child blocks and addresses move to its parent (or become unmapped). */
export async function deleteBlock(ctx: Context, selector: unknown): Promise<{ deleted: BlockRecord }> {
  return withSpaceRecord<BlockDoc, { deleted: BlockRecord }>(ctx, 'blocks', selector, async (block, lease) => {
    await refuseRangeCollisionsInParent(ctx, block);
    await applyStructural(ctx, block.addressSpace, lease, { op: 'delete-block', block });
    return { deleted: toRecord(block, ctx) };
  });
}

/** A block by `id`, or by `network` (+ `addressSpace`, and `startAddress` when several share the network). */
export function getBlockDoc(ctx: Context, selector: unknown): Promise<BlockDoc> {
  return findBySelector<BlockDoc>(ctx, 'blocks', selector);
}

/** RIR rule: required for a public IPv4 block, refused on a private one, canonical otherwise. */
export function checkRir(bounds: { family: 4 | 6; network: string | { cidr: string } }, privateBlock: boolean, value: unknown): string | undefined {
  const network = typeof bounds.network === 'string' ? bounds.network : bounds.network.cidr;
  if (value === undefined || value === '') {
    if (bounds.family === 4 && !privateBlock) {
      throw invalid('rir', value ?? '', `is required for public IPv4 block ${network} (one of ${RIRS.join(', ')})`);
    }
    return undefined;
  }
  if (privateBlock) throw invalid('rir', value, `is not allowed on private block ${network}`);
  return canonicalOf('rir', value, RIRS);
}

/** Refuses partial overlap and duplicates; returns the most specific block containing the new one. */
async function refuseOverlap(ctx: Context, bounds: Bounds): Promise<BlockDoc | undefined> {
  const blocks = ctx.store.collection<BlockDoc>('blocks');
  const floor = await startFloor(ctx, 'blocks', bounds);
  const near = await blocks.find({ addressSpace: bounds.addressSpace, ...overlapping(bounds, floor) });
  for (const other of near) {
    const interval = intervalOfKeys(other);
    if (interval.first === bounds.first && interval.last === bounds.last) {
      throw new IpamError('DUPLICATE', `block ${other.network} (${other.startAddress}-${other.endAddress}) already exists`, {
        field: 'network',
        value: other.network,
      });
    }
    const nests = (interval.first <= bounds.first && bounds.last <= interval.last) ||
      (bounds.first <= interval.first && interval.last <= bounds.last);
    if (!nests) {
      throw new IpamError(
        'OVERLAP',
        `network ${show(bounds.network.cidr)}: partially overlaps block ${other.network} (${other.startAddress}-${other.endAddress})`,
        { field: 'network', value: bounds.network.cidr },
      );
    }
  }
  return smallest(near.filter((other) => {
    const interval = intervalOfKeys(other);
    return interval.first <= bounds.first && bounds.last <= interval.last;
  }));
}

/** Ranges of a deleted block join its parent's; refuse when that would make two of them overlap. */
async function refuseRangeCollisionsInParent(ctx: Context, block: BlockDoc): Promise<void> {
  const ranges = ctx.store.collection<RangeRecord & Keyed>('ranges');
  const moving = await ranges.find({ blockId: block.id }, { sort: { startKey: 1 } });
  if (moving.length === 0) return;
  const staying = await ranges.find({
    blockId: block.parentId,
    addressSpace: block.addressSpace,
    ...overlapping(block, await startFloor(ctx, 'ranges', block)),
  });
  for (const other of staying) {
    const clash = moving.find((range) => overlaps(intervalOf(range), intervalOf(other)));
    if (clash) {
      throw new IpamError(
        'OVERLAP',
        `block ${block.network}: deleting it would make range ${clash.network} (${clash.startAddress}-${clash.endAddress}) overlap range ${other.network} in the parent`,
        { field: 'network', value: block.network },
      );
    }
  }
}
