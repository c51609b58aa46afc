/**
 * The guide's reclaim (`release`): deletes address records (never DHCP reservations or DNS records).
 */
import { checkAddressSpace } from '../address';
import { IpamError, invalid, show } from '../errors';
import { toRecord, type Context, type AddressRecord } from '../record';
import { deleteAddressDocs, getAddressDoc, CHUNK, yieldToEventLoop, type AddressDoc, type RangeDoc } from '../space';
import type { Filter } from '../store';
import { asObject, describeRange, resolveRange } from './view';

/**
 * The guide's reclaim: deletes address records (never DHCP reservations or DNS records) given as
 * `{addresses: [...]}` or `{range, addresses?}` (all of the range's addresses without `addresses`).
 * Refuses, before deleting anything, an address that is not mapped to a range (or, with `range`, not to
 * that range).
 */
export interface ReleaseOptions {
  /** Called after each batch with the number of addresses released so far. */
  onProgress?: (released: number) => void;
}

export async function release(ctx: Context, payload: unknown, options: ReleaseOptions = {}): Promise<{ released: AddressRecord[] }> {
  const input = asObject(payload);
  const hasRange = input.range !== undefined || input.rangeId !== undefined;
  if (!hasRange && !Array.isArray(input.addresses)) {
    throw invalid('addresses', input.addresses, 'give a list of addresses or ids, or a range');
  }
  if (input.addresses !== undefined && !Array.isArray(input.addresses)) {
    throw invalid('addresses', input.addresses, 'must be a list of addresses or ids');
  }
  const range = hasRange ? await resolveRange(ctx, input) : undefined;
  const space = range?.addressSpace ?? checkAddressSpace(input.addressSpace);
  let docs: AddressDoc[];
  if (Array.isArray(input.addresses)) {
    docs = [];
    for (const [index, entry] of input.addresses.entries()) {
      const doc = await getAddressDoc(ctx, addressSelector(entry, space, `addresses.${index}`));
      refuseUnmapped(doc, range, `addresses.${index}`);
      if (!docs.some((d) => d.id === doc.id)) docs.push(doc);
    }
  } else {
    return { released: await releaseAll(ctx, range as RangeDoc, options) };
  }
  const deleted = await deleteAddressDocs(ctx, docs, (done) => options.onProgress?.(done), 'release');
  return { released: deleted.map((doc) => toRecord(doc, ctx)) };
}

/**
 * Every address of the range, read and deleted a page at a time, so no step holds the event loop long. Pages
 * follow the key index over the range's span (an ordered walk on every store); addresses in the span that map
 * to another range (a nested one) are passed over.
 */
async function releaseAll(ctx: Context, range: RangeDoc, options: ReleaseOptions): Promise<AddressRecord[]> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  const released: AddressRecord[] = [];
  let key: Filter['key'] = { $gte: range.startKey, $lte: range.endKey };
  for (;;) {
    const page = await addresses.find({ key }, { sort: { key: 1 }, limit: CHUNK });
    if (page.length === 0) return released;
    const mine = page.filter((doc) => doc.rangeId === range.id);
    if (mine.length > 0) await deleteAddressDocs(ctx, mine, undefined, 'release');
    for (const doc of mine) released.push(toRecord(doc, ctx));
    options.onProgress?.(released.length);
    key = { $gt: page[page.length - 1].key, $lte: range.endKey };
    await yieldToEventLoop();
  }
}

function addressSelector(entry: unknown, space: string, field: string): unknown {
  if (typeof entry === 'string') {
    const looksLikeAddress = /^[\d.]+$/.test(entry.trim()) || entry.includes(':');
    return looksLikeAddress ? { address: entry, addressSpace: space } : { id: entry };
  }
  if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
    const selector = entry as Record<string, unknown>;
    return selector.id !== undefined ? { id: selector.id } : { address: selector.address, addressSpace: selector.addressSpace ?? space };
  }
  throw invalid(field, entry, 'must be an address, an id, or {id} / {address, addressSpace}');
}

function refuseUnmapped(doc: AddressDoc, range: RangeDoc | undefined, field: string): void {
  if (doc.rangeId === null || doc.rangeId === undefined) {
    throw new IpamError(
      'OUT_OF_RANGE',
      `${field} ${show(doc.address)}: is not mapped to a range and cannot be released (its service and instance must match a range's)`,
      { field, value: doc.address },
    );
  }
  if (range && doc.rangeId !== range.id) {
    throw new IpamError('OUT_OF_RANGE', `${field} ${show(doc.address)}: is not mapped to ${describeRange(range)}`, {
      field,
      value: doc.address,
    });
  }
}
