/**
 * Find and allocate available addresses of a range (the guide's "Find and Allocate Available IP
 * Address", "Find Next") and reclaim them (`release`).
 *
 * The search starts at the range's `freeHint` and reads stored keys in small windows, jumping over
 * fully used stretches by counting; it never walks the range. Claims are decided by the unique address
 * key (a collision moves on to the next free address); within one process, candidates being probed or
 * claimed are skipped by other allocators so they do not collide in the first place.
 */
import { parseAddress, formatAddress, type Address, type Family, type Interval } from './address';
import { buildAddress, deleteAddressDocs, duplicateAddress, getAddressDoc, type AddressDoc } from './addresses';
import { CHUNK, insertAddressCounted, insertWritesCounted, yieldToEventLoop } from './counters';
import { SERVICES, canonicalOrCustom, fold } from './enums';
import { IpamError, invalid, isIpamError, show } from './errors';
import { addressKey, checkAddressSpace, keyValue, requestKey } from './keys';
import { addressesByRequest } from './requests';
import { activeProbes, probe, type CheckName } from './probes';
import { checkInput, toRecord, type AddressRecord } from './records';
import { getRangeDoc, type RangeDoc } from './ranges';
import { endExpiredHolds, expiredHolds, freeExpiredHoldsOf, heldState, holdUntilOf, isExpiredHold, storeNowIso } from './holds';
import type { Context } from './space';
import { localState, type StoreLocal } from './store/local';
import type { Collection, Filter, Write } from './store/port';

/** An allocated address as returned by `allocate`: the record, plus the checks that made it available. */
export type AllocatedRecord = AddressRecord & { checks: CheckName[] };

export const MAX_COUNT = 1024;
/** How far the stored hint may lag behind this process's own before it is written... */
const HINT_LAG = 64n;
/**
 * ...and then only once this process's hint has moved this many times since it last wrote, or this far: in a
 * nearly full range every allocation moves the hint past a long used stretch, which would otherwise cost a write each.
 */
const HINT_WRITE_MOVES = 64;
const HINT_WRITE_SPAN = 4096n;
/** With ping/PTR on, candidates probed in parallel per round: at least this many... */
const PROBE_BATCH = 4;
/** ...and at most this many (each ping is a process). */
const MAX_PARALLEL_PROBES = 16;


/* ------------------------------------------------------------------ ranges */

interface RangeView {
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

function viewOf(ctx: Context, doc: RangeDoc): RangeView {
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

function keyAt(view: RangeView, value: bigint): string {
  return addressKey(view.doc.addressSpace, view.family, value);
}

function describeRange(doc: RangeDoc): string {
  return `range ${doc.network} (${doc.startAddress}-${doc.endAddress})`;
}

/* ------------------------------------------------------------------ the gap search */

/**
 * The largest window whose address documents are read. Wider spans are measured by counting, which
 * copies no documents: on the embedded store reading is the expensive part (every found document is
 * deep-copied), on MongoDB the round trip is, so it reads wider windows and counts only to skip.
 */
function readWindow(ctx: Context): bigint {
  return ctx.store.kind === 'embedded' ? 8n : 64n;
}

/**
 * Addresses of the range from `from` on that are neither stored nor excluded, in order. A fully used
 * stretch is skipped by counting spans of doubling size, then narrowed by halving to a small window
 * that is read, so a dense stretch of n addresses costs O(log n) counts, never a walk.
 */
async function* gaps(ctx: Context, view: RangeView, from: bigint): AsyncGenerator<bigint> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  const read = readWindow(ctx);
  const countFirst = ctx.store.kind === 'embedded';
  let pos = from < view.first ? view.first : from;
  // Start with the span the last search of this range found its gap in: in a range used evenly (99% at
  // random) the next gap is about as far, so the doubling counts up to it are not repeated on every call.
  let span = view.local.gapSpans.get(view.doc.id) ?? read;
  const start = pos;
  while (pos <= view.last) {
    const excluded = view.exclusions.find((e) => e.first <= pos && pos <= e.last);
    if (excluded) {
      pos = excluded.last + 1n;
      continue;
    }
    const nextExclusion = view.exclusions.find((e) => e.first > pos);
    const limit = nextExclusion && nextExclusion.first - 1n < view.last ? nextExclusion.first - 1n : view.last;
    let lo = pos;
    let hi = pos + span - 1n < limit ? pos + span - 1n : limit;
    if (countFirst || hi - lo + 1n > read) {
      const used = await stored(addresses, view, lo, hi);
      if (used === hi - lo + 1n) {
        pos = hi + 1n;
        span *= 2n;
        continue;
      }
      if (used === 0n) {
        view.local.gapSpans.delete(view.doc.id);
        for (let p = lo; p <= hi; p++) yield p;
        pos = hi + 1n;
        span = read;
        continue;
      }
      while (hi - lo + 1n > read) {
        const mid = lo + (hi - lo + 1n) / 2n - 1n;
        if ((await stored(addresses, view, lo, mid)) === mid - lo + 1n) lo = mid + 1n;
        else hi = mid;
      }
      // How far from the start this gap was: the next search's first span.
      if (hi - start + 1n > read) view.local.gapSpans.set(view.doc.id, hi - start + 1n);
      else view.local.gapSpans.delete(view.doc.id);
    }
    const docs = await addresses.find(between(view, lo, hi), { sort: { key: 1 }, fields: ['key'] });
    if (BigInt(docs.length) === hi - lo + 1n) {
      pos = hi + 1n;
      span *= 2n;
      continue;
    }
    span = read;
    let p = lo;
    for (const doc of docs) {
      const value = keyValue(doc.key);
      while (p < value) yield p++;
      p = value + 1n;
    }
    while (p <= hi) yield p++;
    pos = hi + 1n;
  }
}


function between(view: RangeView, lo: bigint, hi: bigint): Filter {
  return { key: { $gte: keyAt(view, lo), $lte: keyAt(view, hi) } };
}

/** How many addresses of [lo, hi] are stored. */
async function stored(addresses: Collection<AddressDoc>, view: RangeView, lo: bigint, hi: bigint): Promise<bigint> {
  return BigInt(await addresses.count(between(view, lo, hi)));
}

interface Picked {
  /** Reserved for this caller in `claiming`; release them with `releaseClaims`. */
  candidates: bigint[];
  /** Free in the store but being claimed by another allocator of this process. */
  blocked: { value: bigint; settled: Promise<void> }[];
  /** The first address not stored and not excluded, whether claimable or not. */
  firstGap?: bigint;
}

/** Up to `want` free addresses from `from` on, reserved against the other allocators of this process. */
async function pickCandidates(
  ctx: Context,
  view: RangeView,
  from: bigint,
  want: number,
  skip: Set<bigint>,
): Promise<Picked> {
  const picked: Picked = { candidates: [], blocked: [] };
  try {
    for await (const value of gaps(ctx, view, from)) {
      picked.firstGap ??= value;
      if (skip.has(value)) continue;
      const key = keyAt(view, value);
      const settled = view.local.claiming.get(key);
      if (settled) {
        picked.blocked.push({ value, settled });
        continue;
      }
      // Checked and set with no await in between: the claim is atomic within this process.
      let release!: () => void;
      view.local.claiming.set(key, new Promise<void>((resolve) => (release = resolve)));
      view.local.releasers.set(key, release);
      picked.candidates.push(value);
      if (picked.candidates.length >= want) break;
    }
  } catch (err) {
    releaseClaims(view, picked.candidates);
    throw err;
  }
  return picked;
}

function releaseClaims(view: RangeView, values: bigint[]): void {
  for (const value of values) {
    const key = keyAt(view, value);
    view.local.releasers.get(key)?.();
    view.local.releasers.delete(key);
    view.local.claiming.delete(key);
  }
}

/** Probes candidates in parallel (ping, PTR as configured); all available when no probe is on. */
async function availableOf(ctx: Context, view: RangeView, candidates: bigint[]): Promise<boolean[]> {
  if (activeProbes(ctx.checks).length === 0) return candidates.map(() => true);
  const verdicts = await Promise.all(candidates.map((value) => probe(addressOf(view, value), ctx.checks)));
  return verdicts.map((verdict) => verdict.available);
}

function addressOf(view: RangeView, value: bigint): Address {
  return { family: view.family, value, text: formatAddress(view.family, value) };
}

function batchSize(open: number, probing: boolean): number {
  return probing ? Math.min(Math.max(open, PROBE_BATCH), MAX_PARALLEL_PROBES) : open;
}

/** The checks that decide availability, in the order they run. */
export function checksRun(ctx: Context): CheckName[] {
  return ['store', 'reservations', 'exclusions', ...activeProbes(ctx.checks)];
}

function rangeFull(doc: RangeDoc, ctx: Context, wanted: number, found: number): IpamError {
  const what = wanted === 1 ? 'no available address' : `only ${found} of ${wanted} addresses available`;
  return new IpamError('RANGE_FULL', `${describeRange(doc)}: ${what} (checks: ${checksRun(ctx).join(', ')})`, {
    field: 'range',
    value: doc.network,
  });
}

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

/* ------------------------------------------------------------------ allocate */

interface Slot {
  index: number;
  requestKey?: string;
  /** The hold's end (ISO) when the allocation is a hold. */
  holdUntil?: string;
  doc?: AddressDoc;
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
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({
    index,
    ...(requestId ? { requestKey: requestKey(range.addressSpace, requestId, index) } : {}),
    ...(holdUntil ? { holdUntil } : {}),
  }));
  if (requestId) await fillFromStore(ctx, slots);
  await claimSlots(ctx, range, fields, slots);
  const checks = checksRun(ctx);
  const records = slots.map((slot) => withChecks(ctx, slot.doc as AddressDoc, checks));
  return rawCount === undefined || count === 1 ? records[0] : records;
}

/** The record of a stored address, with the checks that made it available (added to `toRecord`'s fresh copy). */
function withChecks(ctx: Context, doc: AddressDoc, checks: CheckName[]): AllocatedRecord {
  return Object.assign(toRecord<AddressRecord>(doc, ctx), { checks });
}

/** Slots a previous (or concurrent) call with the same requestId already filled. */
async function fillFromStore(ctx: Context, slots: Slot[]): Promise<void> {
  const open = slots.filter((slot) => !slot.doc && slot.requestKey);
  if (open.length === 0) return;
  const found = await addressesByRequest<AddressDoc>(ctx, open.map((slot) => slot.requestKey as string));
  // A hold of this request that expired is not replayed: it is ended, and the slot allocates afresh.
  const held = [...found.values()].filter((doc) => typeof doc.holdUntil === 'string');
  const now = held.length > 0 ? await storeNowIso(ctx) : '';
  const expired = held.filter((doc) => isExpiredHold(doc, now));
  if (expired.length > 0) await endExpiredHolds(ctx, expired);
  for (const slot of open) {
    const doc = found.get(slot.requestKey as string);
    slot.doc = doc && expired.includes(doc) ? undefined : doc;
  }
}

/**
 * Fills the open slots: candidates are reserved in this process (`claiming`) until every open slot has one,
 * then all are written in one atomic batch, so a crash part-way leaves nothing of the call. A batch that
 * collides (another process took an address, or a concurrent call with the same requestId won) writes
 * nothing: the taken address is skipped, a replayed slot is filled from the store, and the rest is tried again.
 */
async function claimSlots(ctx: Context, range: RangeDoc, fields: Record<string, unknown>, slots: Slot[]): Promise<void> {
  const view = viewOf(ctx, range);
  const probing = activeProbes(ctx.checks).length > 0;
  const skip = new Set<bigint>();
  let pending: { slot: Slot; value: bigint }[] = [];
  let cursor = startOf(view);
  let firstGap: bigint | undefined;
  let firstPass = true;
  let fromStart = false;
  const unclaimed = () => slots.filter((s) => !s.doc && !pending.some((p) => p.slot === s));
  try {
    for (;;) {
      for (let open = unclaimed(); open.length > 0; open = unclaimed()) {
        const picked = await pickCandidates(ctx, view, cursor, batchSize(open.length, probing), skip);
        if (firstPass) firstGap = picked.firstGap;
        firstPass = false;
        if (picked.candidates.length === 0) {
          if (picked.blocked.length > 0) {
            // Only addresses other allocators of this process are claiming are left: let ours go (so two
            // waiting allocators cannot hold each other up), wait for theirs, then look again from there.
            releaseClaims(view, pending.map((p) => p.value));
            pending = [];
            await Promise.all(picked.blocked.map((b) => b.settled));
            cursor = picked.blocked.reduce((min, b) => (b.value < min ? b.value : min), picked.blocked[0].value);
            continue;
          }
          await fillFromStore(ctx, slots);
          if (unclaimed().length === 0) break;
          if (!fromStart && cursor > view.first) {
            // Nothing from the hint on: look once from the range's start before calling it full (a hint can be
            // ahead of a free address another process's release has not yet lowered it to).
            fromStart = true;
            cursor = view.first;
            continue;
          }
          if (firstGap === undefined) await markFull(ctx, view);
          throw rangeFull(range, ctx, slots.length, slots.length - unclaimed().length);
        }
        const available = await availableOf(ctx, view, picked.candidates);
        const unused: bigint[] = [];
        for (const [i, value] of picked.candidates.entries()) {
          const slot = available[i] ? open.shift() : undefined;
          if (slot) pending.push({ slot, value });
          else {
            if (!available[i]) skip.add(value);
            unused.push(value);
          }
        }
        releaseClaims(view, unused);
        cursor = picked.candidates[picked.candidates.length - 1] + 1n;
      }
      const outcome = await writeAll(ctx, view, fields, pending);
      if (outcome === 'written') break;
      // Not written: a taken address is skipped, a replayed slot keeps the winner's record; the rest stays pending.
      const taken = outcome === 'replayed' ? [] : outcome;
      const gone = pending.filter((p) => p.slot.doc || taken.includes(p.value));
      for (const value of taken) skip.add(value);
      releaseClaims(view, gone.map((p) => p.value));
      pending = pending.filter((p) => !gone.includes(p));
    }
  } finally {
    releaseClaims(view, pending.map((p) => p.value));
  }
  const mine = pending.map((p) => p.slot.doc as AddressDoc);
  if (firstGap !== undefined) await advanceHint(ctx, view, firstGap, mine);
}

/**
 * Writes the pending records in one atomic batch and fills their slots. On a collision it writes nothing
 * and returns the addresses of the batch found taken (all of them, so a busy neighbour is not met again
 * one address per try), or 'replayed' once the slots a concurrent same-requestId call filled hold its records.
 */
async function writeAll(
  ctx: Context,
  view: RangeView,
  fields: Record<string, unknown>,
  pending: { slot: Slot; value: bigint }[],
): Promise<'written' | 'replayed' | bigint[]> {
  if (pending.length === 0) return 'written';
  const docs = await Promise.all(pending.map(({ slot, value }) => addressAt(ctx, view, fields, slot, value)));
  try {
    await ctx.store.atomic(insertWritesCounted(docs));
  } catch (err) {
    if (!isIpamError(err, 'DUPLICATE')) throw err;
    if (err.field !== 'key') {
      await fillFromStore(ctx, pending.map((p) => p.slot));
      if (!pending.some((p) => p.slot.doc)) throw err;
      return 'replayed';
    }
    const keys = docs.map((doc) => doc.key);
    const stored = await ctx.store.collection<AddressDoc>('addresses').find({ key: { $in: keys } }, { fields: ['key'] });
    if (stored.length === 0) throw err;
    const taken = new Set(stored.map((doc) => doc.key));
    return pending.filter((_, i) => taken.has(keys[i])).map((p) => p.value);
  }
  pending.forEach(({ slot }, i) => (slot.doc = docs[i]));
  return 'written';
}

async function addressAt(ctx: Context, view: RangeView, fields: Record<string, unknown>, slot: Slot, value: bigint): Promise<AddressDoc> {
  const doc = await buildAddress(ctx, { ...fields, address: formatAddress(view.family, value) }, undefined, { range: view.doc });
  if (slot.requestKey) doc.requestKey = slot.requestKey;
  if (slot.holdUntil) doc.holdUntil = slot.holdUntil;
  return doc;
}

/**
 * Inserts the slot's record at `value`. A taken address (another writer won the unique key) leaves the
 * slot open; a taken requestKey (a concurrent call with the same requestId won) fills it with the winner.
 */
async function claim(
  ctx: Context,
  view: RangeView,
  fields: Record<string, unknown>,
  slot: Slot,
  value: bigint,
): Promise<'claimed' | 'taken' | 'replayed'> {
  const doc = await addressAt(ctx, view, fields, slot, value);
  try {
    await insertAddressCounted(ctx, doc);
    slot.doc = doc;
    return 'claimed';
  } catch (err) {
    if (isIpamError(err, 'DUPLICATE') && err.field !== 'key') {
      await fillFromStore(ctx, [slot]);
      return slot.doc ? 'replayed' : 'taken';
    }
    if (isIpamError(err, 'DUPLICATE')) return 'taken';
    throw err;
  }
}

/**
 * Moves the range's hint up to the first address this call did not leave taken, by compare-and-set on
 * `hintVersion`: a release since the range was read bumped it, and its lower hint then stands.
 */
async function advanceHint(ctx: Context, view: RangeView, firstGap: bigint, mine: AddressDoc[]): Promise<void> {
  const taken = new Set(mine.map((doc) => keyValue(doc.key)));
  let hint = firstGap;
  while (taken.has(hint)) hint++;
  await moveHint(ctx, view, hint);
}

/** Nothing free from the hint on: park the hint past the end until a release lowers it. */
async function markFull(ctx: Context, view: RangeView): Promise<void> {
  if (endsFamily(view)) return;
  await moveHint(ctx, view, view.last + 1n, true);
}

/** A range ending at the family's last address has no "past the end" to park a hint at. */
function endsFamily(view: RangeView): boolean {
  return view.last + 1n > (view.family === 4 ? 0xffffffffn : (1n << 128n) - 1n);
}

/** The stored hint; a range written before hints existed starts at its first address. */
function storedHint(doc: RangeDoc): string {
  return doc.freeHint ?? doc.startKey;
}

/**
 * The start of a search: this process's own hint for the range (`local.localHints`), valid only while
 * the stored `hintVersion` is the one it was computed under (any release, from any process, bumps it).
 * It spares the store a write per allocation: the stored hint moves only once it lags behind
 * (HINT_LAG, HINT_WRITE_*), so another process starting from it skips at most HINT_WRITE_SPAN used
 * addresses, by counting.
 */
function startOf(view: RangeView): bigint {
  const stored = keyValue(storedHint(view.doc));
  const local = view.local.localHints.get(view.doc.id);
  return local && local.version === view.doc.hintVersion && local.value > stored ? local.value : stored;
}

async function moveHint(ctx: Context, view: RangeView, value: bigint, always = false): Promise<void> {
  const write = hintWrite(view, value, always);
  if (write) await ctx.store.collection<RangeDoc>('ranges').updateOne(write.filter, write.update);
}

/** The stored-hint write moveHint would make (compare-and-set on `hintVersion`), or none when the hint stays. */
function hintWrite(view: RangeView, value: bigint, always: boolean): (Write & { op: 'update' }) | undefined {
  const { id, hintVersion } = view.doc;
  let local = view.local.localHints.get(id);
  if (!local || local.version !== hintVersion) view.local.localHints.set(id, (local = { version: hintVersion, value, moves: 0 }));
  if (local.value < value) local.value = value;
  local.moves++;
  const next = keyAt(view, value);
  if (next <= storedHint(view.doc)) return undefined;
  const lag = value - keyValue(storedHint(view.doc));
  if (!always && (lag < HINT_LAG || (local.moves < HINT_WRITE_MOVES && lag < HINT_WRITE_SPAN))) return undefined;
  local.moves = 0;
  return { op: 'update', collection: 'ranges', filter: { id, hintVersion, freeHint: { $lt: next } }, update: { $set: { freeHint: next } } };
}

/**
 * Moves a range's stored hint up to its first free address (after a bulk write such as an import, which
 * does not move hints), so that the first allocation of any process starts there instead of skipping the
 * filled stretch by counting. A range that no longer exists is ignored.
 */
export async function refreshHint(ctx: Context, rangeId: string): Promise<void> {
  await refreshHints(ctx, [rangeId]);
}

/** Ranges whose hint writes share one atomic batch (one commit) in refreshHints. */
const HINT_BATCH = 200;

/**
 * refreshHint for many ranges (after an import): the hint writes of HINT_BATCH ranges go in one atomic
 * batch, each still a compare-and-set of its own, and the event loop gets a turn between ranges.
 */
export async function refreshHints(ctx: Context, rangeIds: Iterable<string>): Promise<void> {
  let writes: Write[] = [];
  for (const id of rangeIds) {
    const write = await refreshWrite(ctx, id);
    if (write) writes.push(write);
    if (writes.length >= HINT_BATCH) {
      await ctx.store.atomic(writes);
      writes = [];
    }
    await yieldToEventLoop();
  }
  if (writes.length > 0) await ctx.store.atomic(writes);
}

async function refreshWrite(ctx: Context, rangeId: string): Promise<Write | undefined> {
  const doc = await ctx.store.collection<RangeDoc>('ranges').findOne({ id: rangeId });
  if (!doc) return undefined;
  const view = viewOf(ctx, doc);
  for await (const value of gaps(ctx, view, keyValue(storedHint(doc)))) return hintWrite(view, value, true);
  // Nothing free from the hint on: parked past the end, as markFull does.
  return endsFamily(view) ? undefined : hintWrite(view, view.last + 1n, true);
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
  const slot: Slot = {
    index: 0,
    ...(requestId ? { requestKey: requestKey(range.addressSpace, requestId) } : {}),
    ...(holdUntil ? { holdUntil } : {}),
  };
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
  return {
    ...fields,
    addressSpace: range.addressSpace,
    managedByService: range.managedByService,
    serviceInstance: range.serviceInstance,
  };
}

/* ------------------------------------------------------------------ release */

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

/* ------------------------------------------------------------------ input */

function asObject(payload: unknown): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('payload', payload, 'must be an object');
  }
  return payload as Record<string, unknown>;
}

function checkCount(value: unknown): number {
  if (value === undefined || value === null || value === '') return 1;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    throw invalid('count', value, `must be a whole number from 1 to ${MAX_COUNT}`);
  }
  return count;
}
