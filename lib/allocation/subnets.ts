/**
 * `allocate-subnet`: the first free aligned subnet of a prefix length inside a block, created as a
 * range in the same call. Choosing and creating run under the address space's lock, so concurrent calls
 * (in this process or any other on the same store) never get the same subnet.
 */
import { familyBits, firstFreeSubnet, parseNetwork, checkAddressSpace, type Interval } from '../address';
import { getBlockDoc, spaceLock, withLock, insertRange, prepareRange, inside, intervalOf, overlapping, type BlockDoc, type RangeDoc } from '../space';
import { IpamError, invalid, show } from '../errors';
import type { RangeRecord, Context } from '../record';

/** Fields the chosen subnet decides; a caller may not give them. */
const CHOSEN = ['network', 'startAddress', 'endAddress'] as const;

export async function allocateSubnet(ctx: Context, payload: unknown): Promise<RangeRecord> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('payload', payload, 'must be an object {block or blockId, prefixLength, ...range fields}');
  }
  const { block: blockSelector, blockId, prefixLength: rawLength, ...rangeFields } = payload as Record<string, unknown>;
  for (const field of CHOSEN) {
    if (rangeFields[field] !== undefined) throw invalid(field, rangeFields[field], 'is chosen by allocate-subnet; leave it out');
  }
  const found = await getBlockDoc(ctx, blockSelectorOf(blockId ?? blockSelector, rangeFields.addressSpace));
  if (rangeFields.addressSpace !== undefined && checkAddressSpace(rangeFields.addressSpace) !== found.addressSpace) {
    throw invalid('addressSpace', rangeFields.addressSpace, `must be the block's address space ${show(found.addressSpace)}`);
  }
  const prefixLength = checkPrefixLength(rawLength, found);
  return withLock(ctx.store, spaceLock(found.addressSpace), async (lease) => {
    const block = await getBlockDoc(ctx, { id: found.id });
    const subnet = firstFreeSubnet(block.family, intervalOf(block), prefixLength, await takenIn(ctx, block));
    if (!subnet) {
      throw new IpamError('RANGE_FULL', `block ${block.network}: no free /${prefixLength} subnet left (ranges and child blocks take the rest)`, {
        field: 'prefixLength',
        value: prefixLength,
      });
    }
    const draft = await prepareRange(ctx, { ...rangeFields, addressSpace: block.addressSpace, network: subnet.cidr });
    return insertRange(ctx, draft, lease);
  });
}

/** A block by id, by CIDR (+ addressSpace), or by a selector object. */
function blockSelectorOf(selector: unknown, addressSpace: unknown): unknown {
  if (typeof selector === 'string' && selector.includes('/')) return { network: selector, addressSpace };
  if (typeof selector === 'string' && selector.trim() !== '') return { id: selector.trim() };
  if (selector && typeof selector === 'object' && !Array.isArray(selector)) return { addressSpace, ...selector };
  throw invalid('block', selector, 'is required: the block id, its network (CIDR, with addressSpace) or {id}');
}

function checkPrefixLength(value: unknown, block: BlockDoc): number {
  const length = Number(value);
  const max = familyBits(block.family);
  if (value === undefined || value === '' || !Number.isInteger(length) || length < block.prefixLength || length > max) {
    throw invalid('prefixLength', value, `must be a whole number from ${block.prefixLength} to ${max} for block ${block.network}`);
  }
  return length;
}

/**
 * What a new subnet must not overlap: the networks of ranges overlapping the block (a range's network
 * is in use even where its start and end leave addresses out) and every block inside it.
 */
async function takenIn(ctx: Context, block: BlockDoc): Promise<Interval[]> {
  const where = { addressSpace: block.addressSpace, family: block.family, startKey: block.startKey, endKey: block.endKey };
  const ranges = await ctx.store.collection<RangeDoc>('ranges').find({ addressSpace: block.addressSpace, ...overlapping(where) });
  const children = await ctx.store
    .collection<BlockDoc>('blocks')
    .find({ addressSpace: block.addressSpace, ...inside(block), id: { $ne: block.id } });
  return [
    ...ranges.map((range) => {
      const network = parseNetwork(range.network);
      return { first: network.first, last: network.last };
    }),
    ...children.map((child) => intervalOf(child)),
  ];
}
