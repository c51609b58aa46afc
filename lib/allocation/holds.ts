/**
 * Allocation holds. `allocate` with `holdSeconds` (or a `holdUntil` instant) stores the address as `Reserved`
 * with `holdUntil`; `confirm` makes it a normal allocation; a hold not confirmed in time is free again.
 *
 * No timer is needed for that: an allocation first removes the expired holds of its range (and a requestId
 * replay an expired hold of its own), and `find` offers them as candidates; `ipam-expiry` removes the rest and
 * reports each. Every write that ends a hold (confirm, release, expiry) carries the history entry
 * `hold|<id>|<holdUntil>` in its batch (lib/record/history.ts), so of two racing ends only the first commits.
 * Times are the store's clock (`store.now()`), so instances sharing MongoDB agree on when a hold ends.
 */
import { parseAddress, checkAddressSpace, requestKey } from '../address';
import { getAddressDoc, freedHintWrites, CHUNK, deleteAddressesCounted, updateAddressCounted, yieldToEventLoop, addressesByRequest, type AddressDoc } from '../space';
import { ADDRESS_STATES, canonicalOf, changesOfEntry, nowIso, toRecord, type HistoryDoc, type AddressRecord, type Context } from '../record';
import { IpamError, invalid, isIpamError, show } from '../errors';
import type { Filter } from '../store';
import { merged } from '../own';

/** The longest hold: a year. */
export const MAX_HOLD_SECONDS = 366 * 86_400;

/** `holdSeconds` or `holdUntil` of an allocation as the hold's end (ISO, store clock), or undefined for none. */
export async function holdUntilOf(ctx: Context, holdSeconds: unknown, holdUntil: unknown): Promise<string | undefined> {
  const given = (value: unknown): boolean => value !== undefined && value !== null && value !== '';
  if (given(holdSeconds) && given(holdUntil)) throw invalid('holdUntil', holdUntil, 'give holdSeconds or holdUntil, not both');
  if (!given(holdSeconds) && !given(holdUntil)) return undefined;
  const now = await ctx.store.now();
  if (given(holdSeconds)) {
    const seconds = Number(holdSeconds);
    if (typeof holdSeconds === 'boolean' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_HOLD_SECONDS) {
      throw invalid('holdSeconds', holdSeconds, `must be a whole number of seconds from 1 to ${MAX_HOLD_SECONDS}`);
    }
    return new Date(now + seconds * 1000).toISOString();
  }
  const time = typeof holdUntil === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(holdUntil.trim()) ? Date.parse(holdUntil) : Number.NaN;
  if (Number.isNaN(time)) throw invalid('holdUntil', holdUntil, 'must be an ISO instant such as 2026-12-31T18:00:00Z');
  if (time <= now) throw invalid('holdUntil', holdUntil, 'must be in the future');
  if (time > now + MAX_HOLD_SECONDS * 1000) throw invalid('holdUntil', holdUntil, `must be within ${MAX_HOLD_SECONDS} seconds from now`);
  return new Date(time).toISOString();
}

/** The fields a held allocation's records get. */
export function heldState(): { ipAddressState: 'Reserved' } {
  return { ipAddressState: 'Reserved' };
}

export function isExpiredHold(doc: { holdUntil?: unknown }, now: string): boolean {
  return typeof doc.holdUntil === 'string' && doc.holdUntil <= now;
}

export async function storeNowIso(ctx: Context): Promise<string> {
  return new Date(await ctx.store.now()).toISOString();
}

/**
 * Deletes these expired holds, each in its own batch with its `hold-expired` history entry; a hold another
 * writer ended meanwhile (confirmed, released, expired by another process) is left as that writer left it.
 * Returns the holds this call ended.
 */
export async function endExpiredHolds(ctx: Context, docs: AddressDoc[]): Promise<AddressDoc[]> {
  if (docs.length === 0) return [];
  const ended: AddressDoc[] = [];
  for (const doc of docs) {
    try {
      // The hint goes down in the delete's batch, as for any delete (lib/space/addresses.ts deleteAddressDocs).
      await deleteAddressesCounted(ctx, [doc], undefined, 'hold-expired', (chunk) => freedHintWrites(ctx, chunk));
      ended.push(doc);
    } catch (err) {
      if (!isIpamError(err, 'DUPLICATE')) throw err;
    }
  }
  return ended;
}

/** The expired holds matching `filter` (by the store clock), up to `limit`. */
export async function expiredHolds(ctx: Context, filter: Filter, now: string, limit = CHUNK): Promise<AddressDoc[]> {
  return ctx.store
    .collection<AddressDoc>('addresses')
    .find(merged(filter, { holdUntil: { $lte: now } }), { sort: { holdUntil: 1 }, limit });
}

/** How far this process's clock may run behind the store's: the first look for expired holds uses it. */
const CLOCK_SLACK_MS = 60_000;

/**
 * Before an allocation in this range: its expired holds are freed, so the search meets them as gaps. The first
 * query is by this process's clock widened by CLOCK_SLACK_MS, so the store's clock is only asked (a round trip
 * on MongoDB) when a hold is near its end.
 */
export async function freeExpiredHoldsOf(ctx: Context, rangeId: string): Promise<boolean> {
  const near = await expiredHolds(ctx, { rangeId }, new Date(Date.now() + CLOCK_SLACK_MS).toISOString());
  if (near.length === 0) return false;
  const now = await storeNowIso(ctx);
  let freed = false;
  for (let docs = near.filter((doc) => isExpiredHold(doc, now)); docs.length > 0; docs = await expiredHolds(ctx, { rangeId }, now)) {
    const ended = await endExpiredHolds(ctx, docs);
    freed = true;
    if (docs.length < CHUNK || ended.length === 0) break;
    await yieldToEventLoop();
  }
  return freed;
}

/* ------------------------------------------------------------------ confirm */

/**
 * `confirm`: turns a held address (by `id`, `address` (+ `addressSpace`) or `requestId`) into a normal
 * allocation with `ipAddressState` (default `In-Use`). An expired hold is CONFLICT; an address that is not held
 * (already confirmed) is returned unchanged, so a repeated confirm is harmless.
 */
export async function confirm(ctx: Context, payload: unknown): Promise<AddressRecord> {
  const input = (typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : undefined) as
    | Record<string, unknown>
    | undefined;
  if (!input) throw invalid('payload', payload, 'must be an object: {id}, {address, addressSpace?} or {requestId, addressSpace?}');
  const state = canonicalOf('ipAddressState', input.ipAddressState ?? 'In-Use', ADDRESS_STATES);
  const doc = await heldDoc(ctx, input);
  if (typeof doc.holdUntil !== 'string') return toRecord(doc, ctx);
  const now = await storeNowIso(ctx);
  if (isExpiredHold(doc, now)) {
    await endExpiredHolds(ctx, [doc]);
    throw holdExpired(doc.address, doc.holdUntil);
  }
  const update = { $set: { ipAddressState: state, updatedAt: nowIso() }, $unset: { holdUntil: true as const } };
  try {
    await updateAddressCounted(ctx, doc, { id: doc.id, holdUntil: doc.holdUntil }, update, doc, { operation: 'confirm' });
  } catch (err) {
    // The hold's end entry exists: an expiry (or a release) ended it first.
    if (isIpamError(err, 'DUPLICATE')) throw holdExpired(doc.address, doc.holdUntil);
    throw err;
  }
  const { holdUntil: _held, ...confirmed } = doc;
  return toRecord({ ...confirmed, ipAddressState: state, updatedAt: update.$set.updatedAt } as AddressDoc, ctx);
}

async function heldDoc(ctx: Context, input: Record<string, unknown>): Promise<AddressDoc> {
  const byRequest = (input.id === undefined || input.id === '') && (input.address === undefined || input.address === '');
  if (!byRequest) {
    try {
      return await getAddressDoc(ctx, input.id !== undefined && input.id !== '' ? { id: input.id } : input);
    } catch (err) {
      if (isIpamError(err, 'NOT_FOUND')) await throwIfExpired(ctx, endedFilter(input));
      throw err;
    }
  }
  if (typeof input.requestId !== 'string' || input.requestId === '') {
    throw invalid('id', input.id, 'give the id, the address (and addressSpace) or the requestId of the held address');
  }
  const space = checkAddressSpace(input.addressSpace);
  const key = requestKey(space, input.requestId);
  const found = (await addressesByRequest<AddressDoc>(ctx, [key])).get(key);
  if (found) return found;
  await throwIfExpired(ctx, { requestKey: key });
  throw new IpamError('NOT_FOUND', `requestId ${show(input.requestId)}: no address allocated for it in address space ${show(space)}`, {
    field: 'requestId',
    value: input.requestId,
  });
}

/** Where a removed hold's history entry is found: by record id, or by address. */
function endedFilter(input: Record<string, unknown>): Filter | undefined {
  if (typeof input.id === 'string' && input.id !== '') return { entity: 'address', recordId: input.id };
  if (input.address === undefined) return undefined;
  return { entity: 'address', key: parseAddress(input.address, 'address').text, addressSpace: checkAddressSpace(input.addressSpace) };
}

/** A hold that expired and was removed: CONFLICT names when, from its history entry. */
async function throwIfExpired(ctx: Context, filter: Filter | undefined): Promise<void> {
  if (!filter) return;
  const ended = await ctx.store
    .collection<HistoryDoc>('history')
    .find({ ...filter, operation: 'hold-expired' }, { sort: { order: -1 }, limit: 1 });
  const entry = ended[0];
  if (entry) throw holdExpired(entry.key, String(changesOfEntry(entry).holdUntil?.[0] ?? entry.at));
}

function holdExpired(address: string, holdUntil: string): IpamError {
  return new IpamError('CONFLICT', `address ${show(address)}: its hold expired at ${holdUntil} and it was released; allocate again`, {
    field: 'holdUntil',
    value: holdUntil,
  });
}

/* ------------------------------------------------------------------ ipam-expiry */

export interface HoldExpiredEvent {
  event: 'hold-expired';
  id: string;
  address: string;
  addressSpace: string;
  requestId?: string;
  holdUntil: string;
  rangeId?: string | null;
  deviceName?: string;
  expiredAt: string;
}

/**
 * The hold part of an ipam-expiry run: deletes every expired hold (a CHUNK per query, yielding between), then
 * reports every hold expiry not reported yet, also those an allocation ended, and marks them reported. An
 * event may be repeated if the process stops between reporting and marking, never lost.
 */
export async function expireHolds(ctx: Context, emit: (event: HoldExpiredEvent) => Promise<void>): Promise<number> {
  const now = await storeNowIso(ctx);
  for (;;) {
    const docs = await expiredHolds(ctx, {}, now);
    if (docs.length === 0) break;
    const ended = await endExpiredHolds(ctx, docs);
    if (docs.length < CHUNK || ended.length === 0) break;
    await yieldToEventLoop();
  }
  const history = ctx.store.collection<HistoryDoc>('history');
  let reported = 0;
  for (;;) {
    const entries = await history.find({ unreported: true }, { sort: { order: 1 }, limit: CHUNK });
    for (const entry of entries) await emit(eventOf(entry));
    if (entries.length > 0) await history.updateMany({ id: { $in: entries.map((e) => e.id) } }, { $unset: { unreported: true } });
    reported += entries.length;
    if (entries.length < CHUNK) return reported;
    await yieldToEventLoop();
  }
}

function eventOf(entry: HistoryDoc): HoldExpiredEvent {
  const changes = changesOfEntry(entry);
  const before = (field: string): unknown => changes[field]?.[0] ?? undefined;
  const event: HoldExpiredEvent = {
    event: 'hold-expired',
    id: entry.recordId,
    address: entry.key,
    addressSpace: entry.addressSpace,
    holdUntil: String(before('holdUntil')),
    rangeId: (before('rangeId') as string | undefined) ?? null,
    expiredAt: entry.at,
  };
  if (before('requestId') !== undefined) event.requestId = String(before('requestId'));
  if (before('deviceName') !== undefined) event.deviceName = String(before('deviceName'));
  return event;
}

