/**
 * The range an allocation works in, as the search sees it: bounds as numbers, exclusions merged, and this
 * process's claims and hints for the range's store (`localState`); plus the input checks shared by find,
 * allocate and release.
 */
import { formatAddress, parseAddress, addressKey, keyValue, type Address, type Family, type Interval } from '../address';
import { invalid } from '../errors';
import type { Context } from '../record';
import { getRangeDoc, type RangeDoc } from '../space';
import { localState, type StoreLocal } from '../store';

export const MAX_COUNT = 1024;

export interface RangeView {
  doc: RangeDoc;
  family: Family;
  first: bigint;
  last: bigint;
  /** Sorted and merged. */
  exclusions: Interval[];
  /** This process's claims and hints for the range's store. */
  local: StoreLocal;
}

/** The range named by `rangeId` or `range`: an id, a CIDR (+ `addressSpace`) or a selector object. */
export async function resolveRange(ctx: Context, input: Record<string, unknown>): Promise<RangeDoc> {
  const selector = input.rangeId ?? input.range;
  if (typeof selector === 'string' && selector.includes('/')) {
    return getRangeDoc(ctx, { network: selector, addressSpace: input.addressSpace });
  }
  if (typeof selector === 'string' && selector.trim() !== '') return getRangeDoc(ctx, { id: selector.trim() });
  if (selector && typeof selector === 'object' && !Array.isArray(selector)) {
    return getRangeDoc(ctx, { addressSpace: input.addressSpace, ...(selector as Record<string, unknown>) });
  }
  throw invalid('range', selector, 'is required: the range id, its network (CIDR, with addressSpace) or {id}');
}

export function viewOf(ctx: Context, doc: RangeDoc): RangeView {
  const first = keyValue(doc.startKey);
  const last = keyValue(doc.endKey);
  const intervals = (doc.exclusions ?? [])
    .map((e) => ({ first: parseAddress(e.startAddress).value, last: parseAddress(e.endAddress).value }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const exclusions: Interval[] = [];
  for (const next of intervals) {
    const current = exclusions[exclusions.length - 1];
    if (current && next.first <= current.last + 1n) current.last = next.last > current.last ? next.last : current.last;
    else exclusions.push({ ...next });
  }
  return { doc, family: doc.family, first, last, exclusions, local: localState(ctx.store) };
}

export function keyAt(view: RangeView, value: bigint): string {
  return addressKey(view.doc.addressSpace, view.family, value);
}

/** The addresses of the range that callers of this process are claiming now (lib/allocation/claims.ts), in no order. */
export function claimedIn(view: RangeView): bigint[] {
  const prefix = `${view.doc.addressSpace}|${view.family}|`;
  const values: bigint[] = [];
  for (const key of view.local.claiming.keys()) {
    if (!key.startsWith(prefix)) continue;
    const value = keyValue(key);
    if (value >= view.first && value <= view.last) values.push(value);
  }
  return values;
}

export function describeRange(doc: RangeDoc): string {
  return `range ${doc.network} (${doc.startAddress}-${doc.endAddress})`;
}

export function addressOf(view: RangeView, value: bigint): Address {
  return { family: view.family, value, text: formatAddress(view.family, value) };
}

export function asObject(payload: unknown): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('payload', payload, 'must be an object');
  }
  return payload as Record<string, unknown>;
}

export function checkCount(value: unknown): number {
  if (value === undefined || value === null || value === '') return 1;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    throw invalid('count', value, `must be a whole number from 1 to ${MAX_COUNT}`);
  }
  return count;
}
