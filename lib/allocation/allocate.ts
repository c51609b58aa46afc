/**
 * Find and allocate available addresses of a range (the guide's "Find and Allocate Available IP
 * Address", "Find Next"). The parts: view.ts (the range as the search sees it), search.ts (the gap search
 * and probes), hint.ts (where a search starts), claims.ts (in-process claims and the atomic writes),
 * release.ts (reclaim).
 */
import { parseAddress, formatAddress, checkAddressSpace, keyValue, requestKey, activeProbes, type CheckName } from '../address';
import { duplicateAddress, getRangeDoc, type AddressDoc, type RangeDoc } from '../space';
import { SERVICES, canonicalOrCustom, fold, checkInput, toRecord, type AddressRecord, type Context } from '../record';
import { IpamError, invalid, show } from '../errors';
import { expiredHolds, freeExpiredHoldsOf, heldState, holdUntilOf, storeNowIso } from './holds';
import { claim, claimSlots, fillFromStore, newSlot, pickCandidates, releaseClaims, type Slot } from './claims';
import { startOf } from './hint';
import { availableOf, batchSize, checksRun, rangeFull } from './search';
import { MAX_COUNT, asObject, checkCount, describeRange, resolveRange, viewOf, type RangeView } from './view';
import { merged } from '../own';

/** An allocated address as returned by `allocate`: the record, plus the checks that made it available. */
export type AllocatedRecord = AddressRecord & { checks: CheckName[] };

/* ------------------------------------------------------------------ find */

/** Candidate addresses (text), in order, after every configured check. Writes nothing. */
export async function findAvailable(ctx: Context, payload: unknown): Promise<string[]> {
  const input = asObject(payload);
  const count = checkCount(input.count);
  const range = await resolveRange(ctx, input);
  const view = viewOf(ctx, range);
  const probing = activeProbes(ctx.checks).length > 0;
  const found: bigint[] = [];
  const skip = new Set<bigint>();
  let cursor = startOf(view);
  while (found.length < count) {
    const want = batchSize(count - found.length, probing);
    const picked = await pickCandidates(ctx, view, cursor, want, skip);
    if (picked.candidates.length === 0) break;
    try {
      const available = await availableOf(ctx, view, picked.candidates);
      picked.candidates.forEach((value, i) => {
        if (available[i] && found.length < count) found.push(value);
      });
    } finally {
      releaseClaims(view, picked.candidates);
    }
    cursor = picked.candidates[picked.candidates.length - 1] + 1n;
  }
  const merged = [...found, ...(await expiredHoldValues(ctx, view, count))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (merged.length === 0) throw rangeFull(range, ctx, 1, 0);
  return merged.slice(0, count).map((value) => formatAddress(view.family, value));
}

/** Expired holds of the range that pass the probes: free, though still stored (find writes nothing). */
async function expiredHoldValues(ctx: Context, view: RangeView, count: number): Promise<bigint[]> {
  const now = await storeNowIso(ctx);
  const docs = await expiredHolds(ctx, { rangeId: view.doc.id }, now, MAX_COUNT);
  const values = docs.map((doc) => keyValue(doc.key)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, count);
  const available = await availableOf(ctx, view, values);
  return values.filter((_, i) => available[i]);
}

/**
 * Allocates `count` addresses of a range (or exactly `address`), with the other fields as the new
 * records' fields. With `requestId`, a repeat returns what the first call allocated.
 * `count` > 1 is all or nothing: a failure deletes what this call had written.
 */
export async function allocate(ctx: Context, payload: unknown): Promise<AllocatedRecord | AllocatedRecord[]> {
  const input = asObject(payload);
  const { range: _range, rangeId: _rangeId, count: rawCount, address, holdSeconds, holdUntil: holdAt, ...rest } = input;
  const count = checkCount(rawCount);
  const holdUntil = await holdUntilOf(ctx, holdSeconds, holdAt);
  const resolved = await resolveRange(ctx, input);
  const fields = addressFieldsFor(resolved, holdUntil ? { ...rest, ...heldState() } : rest);
  // Freeing lowered the range's hint and bumped its version: search from the range as it is now.
  const range = (await freeExpiredHoldsOf(ctx, resolved.id)) ? await getRangeDoc(ctx, { id: resolved.id }) : resolved;
  if (address !== undefined && address !== '' && address !== null) {
    if (count !== 1) throw invalid('count', rawCount, 'must be 1 when an address is given');
    return allocateGiven(ctx, range, fields, address, holdUntil);
  }
  const requestId = fields.requestId as string | undefined;
  const slots: Slot[] = [];
  for (let index = 0; index < count; index++) slots.push(newSlot(index, requestId && requestKey(range.addressSpace, requestId, index), holdUntil));
  // Ending the request's expired hold lowered the hint and bumped the version: search from the range as it is now.
  const endedHold = requestId ? await fillFromStore(ctx, slots) : false;
  await claimSlots(ctx, endedHold ? await getRangeDoc(ctx, { id: range.id }) : range, fields, slots);
  const checks = checksRun(ctx);
  const records = slots.map((slot) => withChecks(ctx, slot.doc as AddressDoc, checks));
  return rawCount === undefined || count === 1 ? records[0] : records;
}

/** The record of a stored address, with the checks that made it available (added to `toRecord`'s fresh copy). */
function withChecks(ctx: Context, doc: AddressDoc, checks: CheckName[]): AllocatedRecord {
  return Object.assign(toRecord<AddressRecord>(doc, ctx), { checks });
}

/** `address` given: exactly that one, if it is inside the range and not taken. */
async function allocateGiven(
  ctx: Context,
  range: RangeDoc,
  fields: Record<string, unknown>,
  address: unknown,
  holdUntil: string | undefined,
): Promise<AllocatedRecord> {
  const parsed = parseAddress(address, 'address');
  const view = viewOf(ctx, range);
  if (parsed.family !== view.family || parsed.value < view.first || parsed.value > view.last) {
    throw new IpamError('OUT_OF_RANGE', `address ${show(address)}: is outside ${describeRange(range)}`, {
      field: 'address',
      value: address,
    });
  }
  const checks: CheckName[] = ['store', 'reservations'];
  const requestId = fields.requestId as string | undefined;
  const slot = newSlot(0, requestId && requestKey(range.addressSpace, requestId), holdUntil);
  if (requestId) await fillFromStore(ctx, [slot]);
  if (!slot.doc) {
    const outcome = await claim(ctx, view, fields, slot, parsed.value);
    if (outcome === 'taken') throw duplicateAddress({ address: parsed.text, addressSpace: range.addressSpace });
  }
  return withChecks(ctx, slot.doc as AddressDoc, checks);
}

/**
 * The new records' fields: validated up front (so nothing is written for bad input), with the range's
 * address space, service and instance, which an address needs to map to the range.
 */
function addressFieldsFor(range: RangeDoc, rest: Record<string, unknown>): Record<string, unknown> {
  const fields = checkInput('addresses', rest);
  if (fields.addressSpace !== undefined && checkAddressSpace(fields.addressSpace) !== range.addressSpace) {
    throw invalid('addressSpace', fields.addressSpace, `must be the range's address space ${show(range.addressSpace)}`);
  }
  const matches: [string, string, readonly string[]][] = [
    ['managedByService', range.managedByService, SERVICES],
    ['serviceInstance', range.serviceInstance, []],
  ];
  for (const [field, expected, known] of matches) {
    if (fields[field] !== undefined && fold(canonicalOrCustom(field, fields[field], known)) !== fold(expected)) {
      throw invalid(field, fields[field], `must be the range's ${show(expected)} (an address maps to a range with the same ${field})`);
    }
  }
  return merged(fields, {
    addressSpace: range.addressSpace,
    managedByService: range.managedByService,
    serviceInstance: range.serviceInstance,
  });
}
