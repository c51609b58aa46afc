/**
 * What blocks and ranges share: their network and bounds, and the key-range queries on them.
 */
import { contains, formatAddress, parseAddress, parseNetwork, sizeOf, usableBounds, addressKey, checkAddressSpace, familyKeyBounds, intervalKeys, keyValue, type Family, type Interval, type Network } from '../address';
import { IpamError, invalid, show } from '../errors';
import { toRecord, type Context } from '../record';
import type { Doc, Filter, FindOptions } from '../store';

export interface Bounds extends Interval {
  addressSpace: string;
  family: Family;
  network: Network;
  startKey: string;
  endKey: string;
  startAddress: string;
  endAddress: string;
}

/** The fields a block or range record stores of its bounds. */
export function boundsFields(bounds: Bounds) {
  return {
    addressSpace: bounds.addressSpace,
    family: bounds.family,
    network: bounds.network.cidr,
    prefixLength: bounds.network.prefixLength,
    startAddress: bounds.startAddress,
    endAddress: bounds.endAddress,
  };
}

/**
 * Network and start/end of a block or range. Without explicit start and end, a block spans its whole
 * network and a range its usable addresses; explicit ones must lie inside the network.
 */
export function resolveBounds(input: Record<string, unknown>, automatic: 'whole' | 'usable'): Bounds {
  const network = parseNetwork(networkText(input));
  const addressSpace = checkAddressSpace(input.addressSpace);
  const auto = automatic === 'whole' ? { first: network.first, last: network.last } : usableBounds(network);
  const first = input.startAddress === undefined ? auto.first : boundInside(network, 'startAddress', input.startAddress);
  const last = input.endAddress === undefined ? auto.last : boundInside(network, 'endAddress', input.endAddress);
  if (first > last) {
    if (input.endAddress === undefined) {
      throw invalid('startAddress', input.startAddress, `is beyond the last address ${formatAddress(network.family, last)}`);
    }
    throw invalid('endAddress', input.endAddress, `must not be below startAddress ${show(input.startAddress ?? formatAddress(network.family, first))}`);
  }
  const interval = { first, last };
  return {
    addressSpace,
    family: network.family,
    network,
    ...interval,
    ...intervalKeys(addressSpace, network.family, interval),
    startAddress: formatAddress(network.family, first),
    endAddress: formatAddress(network.family, last),
  };
}

/** `network` may carry the prefix, or come as a network ID with a separate `prefixLength`. */
function networkText(input: Record<string, unknown>): string {
  const network = input.network;
  if (network === undefined) throw invalid('network', network, 'is required (CIDR, e.g. 10.1.0.0/24)');
  if (typeof network === 'string' && !network.includes('/') && input.prefixLength !== undefined) {
    return `${network.trim()}/${String(input.prefixLength)}`;
  }
  if (typeof network === 'string' && input.prefixLength !== undefined) {
    const fromNetwork = Number(network.split('/')[1]);
    if (fromNetwork !== Number(input.prefixLength)) {
      throw invalid('prefixLength', input.prefixLength, `does not match network ${show(network)}`);
    }
  }
  return network as string;
}

function boundInside(network: Network, field: string, value: unknown): bigint {
  const address = parseAddress(value, field);
  if (address.family !== network.family || !contains(network, { first: address.value, last: address.value })) {
    throw new IpamError('OUT_OF_RANGE', `${field} ${show(value)}: is outside network ${network.cidr}`, { field, value });
  }
  return address.value;
}

type Located = Pick<Bounds, 'addressSpace' | 'family' | 'startKey' | 'endKey'>;

/**
 * Filter for documents whose [startKey, endKey] overlaps the interval, within one space and family.
 * `floor` (from `startFloor`) bounds how far back a start can lie; without it the scan starts at the family's first key.
 */
export function overlapping(bounds: Located, floor?: string) {
  return {
    startKey: { $gte: floor ?? familyKeyBounds(bounds.addressSpace, bounds.family).$gte, $lte: bounds.endKey },
    endKey: { $gte: bounds.startKey },
  };
}

/** `span` key of a block or range: its size minus one, fixed-width, per space and family. */
export function spanKey(bounds: Pick<Bounds, 'addressSpace' | 'family' | 'first' | 'last'>): string {
  return addressKey(bounds.addressSpace, bounds.family, bounds.last - bounds.first);
}

/**
 * The lowest start key a block or range overlapping `bounds` can have: nothing starts further back than the
 * largest one's span. This keeps interval queries to a window instead of every earlier document.
 */
export async function startFloor(ctx: Context, collection: 'blocks' | 'ranges', bounds: Located): Promise<string> {
  const { filter, options } = widestQuery(bounds.addressSpace, bounds.family);
  const widest = await ctx.store.collection<{ id: string; spanKey: string }>(collection).findOne(filter, options);
  if (!widest) return bounds.startKey;
  return floorBySpan(bounds, keyValue(widest.spanKey));
}

/** Address spaces whose widest-span query is kept; past this many, the kept ones are dropped. */
const WIDEST_QUERIES_KEPT = 256;
const widestQueries = new Map<string, { filter: Filter; options: FindOptions }>();

/**
 * The query for the widest block or range of a space and family, frozen and the same objects every time: an
 * import asks it for every row, and its batch snapshot (lib/csv/snapshot.ts) then recognises a repeat by
 * identity instead of serialising the query.
 */
function widestQuery(addressSpace: string, family: Family): { filter: Filter; options: FindOptions } {
  const name = `${family}|${addressSpace}`;
  let query = widestQueries.get(name);
  if (!query) {
    if (widestQueries.size >= WIDEST_QUERIES_KEPT) widestQueries.clear();
    const filter = Object.freeze({ spanKey: Object.freeze(familyKeyBounds(addressSpace, family)) });
    const options = Object.freeze({ sort: Object.freeze({ spanKey: -1 as const }), fields: Object.freeze(['spanKey']) as string[] });
    query = { filter, options };
    widestQueries.set(name, query);
  }
  return query;
}

/** The lowest start key a block or range of at most `span` + 1 addresses overlapping `bounds` can have. */
export function floorBySpan(bounds: Located, span: bigint): string {
  const start = keyValue(bounds.startKey);
  return addressKey(bounds.addressSpace, bounds.family, start > span ? start - span : 0n);
}

/** Filter for documents whose [startKey, endKey] lies inside the interval. */
export function inside(bounds: Pick<Bounds, 'startKey' | 'endKey'>) {
  return { startKey: { $gte: bounds.startKey, $lte: bounds.endKey }, endKey: { $lte: bounds.endKey } };
}

/** Filter for documents whose [startKey, endKey] contains the interval (`floor` as for `overlapping`). */
export function containing(bounds: Located, floor?: string) {
  return {
    startKey: { $gte: floor ?? familyKeyBounds(bounds.addressSpace, bounds.family).$gte, $lte: bounds.startKey },
    endKey: { $gte: bounds.endKey },
  };
}

/** Interval of a stored block or range, from its canonical bounds. */
export function intervalOf(doc: { startAddress: string; endAddress: string }): Interval {
  return { first: parseAddress(doc.startAddress).value, last: parseAddress(doc.endAddress).value };
}

/** Interval of a stored block or range from its keys: cheaper than parsing its address text. */
export function intervalOfKeys(doc: { startKey: string; endKey: string }): Interval {
  return { first: keyValue(doc.startKey), last: keyValue(doc.endKey) };
}

/** The smallest of several blocks or ranges (the most specific container). */
export function smallest<T extends { startKey: string; endKey: string }>(docs: T[]): T | undefined {
  let best: T | undefined;
  let bestSize = 0n;
  for (const doc of docs) {
    const size = sizeOf(intervalOfKeys(doc));
    if (!best || size < bestSize) [best, bestSize] = [doc, size];
  }
  return best;
}

/** Turns `{id}` or `{network, addressSpace?, startAddress?}` into an equality filter on stored values. */
export function selectorFilter(selector: unknown): { filter: Filter; described: string } {
  const input = (typeof selector === 'string' ? { id: selector } : selector) as Record<string, unknown> | null;
  if (input && typeof input.id === 'string' && input.id !== '') {
    return { filter: { id: input.id }, described: `id ${show(input.id)}` };
  }
  if (input && input.network !== undefined) {
    const { network, prefixLength, addressSpace, startAddress } = input;
    const bounds = resolveBounds({ network, prefixLength, addressSpace, startAddress }, 'whole');
    const filter: Filter = { network: bounds.network.cidr, addressSpace: bounds.addressSpace };
    if (startAddress !== undefined) filter.startAddress = bounds.startAddress;
    return { filter, described: `network ${show(bounds.network.cidr)} in ${show(bounds.addressSpace)}` };
  }
  throw invalid('id', input?.id, 'give the id, or the network (and addressSpace)');
}


/** The block or range a selector names, as its record. */
export async function getSpaceRecord<T extends Doc>(ctx: Context, collection: 'blocks' | 'ranges', selector: unknown): Promise<T> {
  return toRecord(await findBySelector<T>(ctx, collection, selector), ctx);
}

/** The blocks or ranges a store filter matches, as records in address order. */
export async function listSpaceRecords<T extends Doc>(ctx: Context, collection: 'blocks' | 'ranges', filter: Filter): Promise<T[]> {
  const docs = await ctx.store.collection<T>(collection).find(filter, { sort: { startKey: 1 } });
  return docs.map((doc) => toRecord(doc, ctx));
}

/** The one block or range a selector names: NOT_FOUND when none, CONFLICT when several. */
export async function findBySelector<T extends Doc>(ctx: Context, collection: 'blocks' | 'ranges', selector: unknown): Promise<T> {
  const { filter, described } = selectorFilter(selector);
  const label = collection === 'blocks' ? 'block' : 'range';
  const matches = await ctx.store.collection<T>(collection).find(filter, { limit: 2 });
  if (matches.length === 0) throw new IpamError('NOT_FOUND', `${label} ${described} not found`, { value: described });
  if (matches.length > 1) {
    throw new IpamError('CONFLICT', `${label} ${described} is ambiguous: give its id or startAddress`, { value: described });
  }
  return matches[0];
}
