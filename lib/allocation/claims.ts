/**
 * Claims: candidates are reserved in this process (`claiming`, on the store's local state) while they are
 * probed and written, so allocators of one process do not collide; between processes the unique address key
 * decides (a collision moves on to the next free address). A slot is one address of an allocation.
 */
import { formatAddress, activeProbes } from '../address';
import { isIpamError } from '../errors';
import type { Context } from '../record';
import { buildAddress, insertAddressCounted, insertAtomically, addressesByRequest, rangePlan, type AddressDoc, type RangeDoc, type RangePlan } from '../space';
import { endExpiredHolds, isExpiredHold, storeNowIso } from './holds';
import { advanceHint, lowerLocalHint, markFull, startOf } from './hint';
import { availableOf, batchSize, dropFree, forgetFree, gaps, rangeFull, unlistFree } from './search';
import { claimedIn, keyAt, viewOf, type RangeView } from './view';
import { merged } from '../own';

export interface Picked {
  /** Reserved for this caller in `claiming`; release them with `releaseClaims`. */
  candidates: bigint[];
  /** Free in the store but being claimed by another allocator of this process. */
  blocked: { value: bigint; settled: Promise<void> }[];
  /** The first address not stored and not excluded, whether claimable or not. */
  firstGap?: bigint;
}

/**
 * Up to `want` free addresses from `from` on, reserved against the other allocators of this process. `keep`: an
 * allocation without probes, which keeps the free addresses its key reads find for the next ones (search.ts).
 */
export async function pickCandidates(
  ctx: Context,
  view: RangeView,
  from: bigint,
  want: number,
  skip: Set<bigint>,
  keep = false,
): Promise<Picked> {
  const picked: Picked = { candidates: [], blocked: [] };
  try {
    for await (const value of gaps(ctx, view, from, keep)) {
      picked.firstGap ??= value;
      if (skip.has(value)) continue;
      const key = keyAt(view, value);
      const settled = view.local.claiming.get(key);
      if (settled) {
        // Another caller holds it: it writes it, or lets it go and so drops the kept list (releaseClaims).
        picked.blocked.push({ value, settled });
        continue;
      }
      // Checked and set with no await in between: the claim is atomic within this process.
      let release!: () => void;
      view.local.claiming.set(key, new Promise<void>((resolve) => (release = resolve)));
      unlistFree(view, value);
      view.local.releasers.set(key, release);
      picked.candidates.push(value);
      if (picked.candidates.length >= want) break;
    }
  } catch (err) {
    releaseClaims(view, picked.candidates);
    throw err;
  }
  if (keep) {
    // A kept list no longer holds the addresses other allocators took off it (each claimed as soon as it was
    // given, so before this one was) and are writing: the first gap is also the lowest of those, as a read of
    // the store would meet it (claimed, so blocked) first.
    for (const value of claimedIn(view)) if (value >= from && (picked.firstGap === undefined || value < picked.firstGap)) picked.firstGap = value;
  }
  return picked;
}

/**
 * Ends this caller's claims. Addresses let go unwritten are free again, but a kept list (search.ts) skipped
 * them while they were claimed: it is dropped, and the next allocation reads the store. The hints go back to
 * the lowest of them (hint.ts lowerLocalHint).
 */
export function releaseClaims(view: RangeView, values: bigint[], written = false): void {
  if (!written && values.length > 0) {
    dropFree(view);
    lowerLocalHint(view, values.reduce((min, value) => (value < min ? value : min)));
  }
  for (const value of values) {
    const key = keyAt(view, value);
    view.local.releasers.get(key)?.();
    view.local.releasers.delete(key);
    view.local.claiming.delete(key);
  }
}

export interface Slot {
  index: number;
  requestKey?: string;
  /** The hold's end (ISO) when the allocation is a hold. */
  holdUntil?: string;
  doc?: AddressDoc;
}

/** Slot `index`, with the request key and hold end when the call has them. */
export function newSlot(index: number, requestKey: string | undefined, holdUntil: string | undefined): Slot {
  // Set one by one: on Node 20 a literal spreading conditional parts costs microseconds (see lib/own.ts merged).
  const slot: Slot = { index };
  if (requestKey) slot.requestKey = requestKey;
  if (holdUntil) slot.holdUntil = holdUntil;
  return slot;
}

/**
 * Slots a previous (or concurrent) call with the same requestId already filled. True when it ended an expired
 * hold of the request (which lowered the range's hint and bumped its version).
 */
export async function fillFromStore(ctx: Context, slots: Slot[]): Promise<boolean> {
  const open = slots.filter((slot) => !slot.doc && slot.requestKey);
  if (open.length === 0) return false;
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
  return expired.length > 0;
}

/**
 * Fills the open slots: candidates are reserved in this process (`claiming`) until every open slot has one,
 * then all are written in one atomic batch, so a crash part-way leaves nothing of the call. A batch that
 * collides (another process took an address, or a concurrent call with the same requestId won) writes
 * nothing: the taken address is skipped, a replayed slot is filled from the store, and the rest is tried again.
 */
export async function claimSlots(ctx: Context, range: RangeDoc, fields: Record<string, unknown>, slots: Slot[]): Promise<void> {
  const view = viewOf(ctx, range);
  const probing = activeProbes(ctx.checks).length > 0;
  const skip = new Set<bigint>();
  let pending: { slot: Slot; value: bigint }[] = [];
  let cursor = startOf(view);
  let firstGap: bigint | undefined;
  let firstPass = true;
  let fromStart = false;
  let written = false;
  const unclaimed = () => slots.filter((s) => !s.doc && !pending.some((p) => p.slot === s));
  const inProgress = allocationsOf(view);
  const self: { letGo?: bigint } = {};
  inProgress.add(self);
  try {
    for (;;) {
      for (let open = unclaimed(); open.length > 0; open = unclaimed()) {
        // The look from the range's start before calling it full always reads the store.
        const keep = !probing && !fromStart;
        const picked = await pickCandidates(ctx, view, cursor, batchSize(open.length, probing), skip, keep);
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
      if (outcome === 'written') {
        written = true;
        break;
      }
      // Not written: a taken address is skipped, a replayed slot keeps the winner's record; the rest stays pending.
      const taken = outcome === 'replayed' ? [] : outcome;
      // Taken by this process (an allocation, add or import it made since the list was read): read again. By another
      // process: read again, and stop keeping for a while (search.ts forgetFree).
      if (taken.length > 0) {
        const own = taken.every((value) => view.local.recentWrites.keys.includes(keyAt(view, value)));
        if (own) dropFree(view);
        else forgetFree(view);
      }
      const gone = pending.filter((p) => p.slot.doc || taken.includes(p.value));
      for (const value of taken) skip.add(value);
      // Taken ones are not free; a replayed slot's address is, and goes back to the search.
      releaseClaims(view, gone.map((p) => p.value));
      pending = pending.filter((p) => !gone.includes(p));
    }
  } finally {
    releaseClaims(view, pending.map((p) => p.value), written);
    inProgress.delete(self);
    if (inProgress.size === 0) view.local.allocating.delete(view.doc.id);
  }
  const mine = pending.map((p) => p.slot.doc as AddressDoc);
  // No await from here to where advanceHint sets this process's hint: a later let-go lowers that hint instead.
  if (firstGap !== undefined) await advanceHint(ctx, view, belowClaims(view, self.letGo !== undefined && self.letGo < firstGap ? self.letGo : firstGap), mine);
}

/** This process's allocations in progress from the view's range (releaseClaims lowers their hints). */
function allocationsOf(view: RangeView): Set<{ letGo?: bigint }> {
  let allocations = view.local.allocating.get(view.doc.id);
  if (!allocations) view.local.allocating.set(view.doc.id, (allocations = new Set()));
  return allocations;
}

/**
 * `value`, or a lower address another caller of this process is claiming: a kept list no longer holds the
 * addresses being written, and should one be let go, the hint must not have moved past it.
 */
function belowClaims(view: RangeView, value: bigint): bigint {
  let lowest = value;
  for (const claimed of claimedIn(view)) if (claimed < lowest) lowest = claimed;
  return lowest;
}

/**
 * Writes the pending records in one atomic batch and fills their slots. On a collision it writes nothing
 * and returns the addresses of the batch found taken (all of them, so a busy neighbour is not met again
 * one address per try), or 'replayed' once the slots a concurrent same-requestId call filled hold its records.
 */
export async function writeAll(
  ctx: Context,
  view: RangeView,
  fields: Record<string, unknown>,
  pending: { slot: Slot; value: bigint }[],
): Promise<'written' | 'replayed' | bigint[]> {
  if (pending.length === 0) return 'written';
  // One read of the range's plan for the whole batch (its failure reaches every address built from it).
  const plan = rangePlan(ctx, view.doc);
  plan.catch(() => undefined);
  const docs = await Promise.all(pending.map(({ slot, value }) => addressAt(ctx, view, fields, slot, value, plan)));
  try {
    await insertAtomically(ctx, docs);
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

export async function addressAt(
  ctx: Context,
  view: RangeView,
  fields: Record<string, unknown>,
  slot: Slot,
  value: bigint,
  plan?: Promise<RangePlan | undefined>,
): Promise<AddressDoc> {
  // `fields` were checked once for the whole call (allocate.ts addressFieldsFor).
  const address = { family: view.family, value, text: formatAddress(view.family, value) };
  const doc = await buildAddress(ctx, merged(fields, { address: address.text }), undefined, { range: view.doc, plan, checked: true, address });
  if (slot.requestKey) doc.requestKey = slot.requestKey;
  if (slot.holdUntil) doc.holdUntil = slot.holdUntil;
  return doc;
}

/**
 * Inserts the slot's record at `value`. A taken address (another writer won the unique key) leaves the
 * slot open; a taken requestKey (a concurrent call with the same requestId won) fills it with the winner.
 */
export async function claim(
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
    // Written (or, below, taken): off the kept list (search.ts), so no allocation collides on it.
    unlistFree(view, value);
    return 'claimed';
  } catch (err) {
    if (isIpamError(err, 'DUPLICATE') && err.field !== 'key') {
      await fillFromStore(ctx, [slot]);
      return slot.doc ? 'replayed' : 'taken';
    }
    if (isIpamError(err, 'DUPLICATE')) {
      unlistFree(view, value);
      return 'taken';
    }
    throw err;
  }
}
