/**
 * The allocation hint: where the next search of a range starts (`freeHint`, stored; `hintVersion`, bumped by
 * every release). Allocations move it up by compare-and-set; this process keeps its own hint ahead of the
 * stored one (`localHints`) and writes only when the stored one lags.
 */
import { keyValue } from '../address';
import type { Context } from '../record';
import { eachOnItsOwn, yieldToEventLoop, type AddressDoc, type RangeDoc } from '../space';
import { KEPT_HINTS, keepBounded, type Write } from '../store';
import { gaps } from './search';
import { keyAt, viewOf, type RangeView } from './view';

/** How far the stored hint may lag behind this process's own before it is written... */
export const HINT_LAG = 64n;

/**
 * ...and then only once this process's hint has moved this many times since it last wrote, or this far: in a
 * nearly full range every allocation moves the hint past a long used stretch, which would otherwise cost a write each.
 */
export const HINT_WRITE_MOVES = 64;

export const HINT_WRITE_SPAN = 4096n;

/**
 * Moves the range's hint up to the first address this call did not leave taken, by compare-and-set on
 * `hintVersion`: a release since the range was read bumped it, and its lower hint then stands.
 */
export async function advanceHint(ctx: Context, view: RangeView, firstGap: bigint, mine: AddressDoc[]): Promise<void> {
  const taken = new Set(mine.map((doc) => keyValue(doc.key)));
  let hint = firstGap;
  while (taken.has(hint)) hint++;
  await moveHint(ctx, view, hint);
}

/**
 * An address let go unwritten by an allocation of this process is free: this process's hint goes back to it if it
 * had moved past (another allocation took a higher address meanwhile), and so does the hint each allocation in
 * progress will move to (it may have searched past the address while it was claimed; claims.ts claimSlots).
 */
export function lowerLocalHint(view: RangeView, value: bigint): void {
  const local = view.local.localHints.get(view.doc.id);
  if (local && local.value > value) local.value = value;
  for (const allocation of view.local.allocating.get(view.doc.id) ?? []) {
    if (allocation.letGo === undefined || value < allocation.letGo) allocation.letGo = value;
  }
}

/** Nothing free from the hint on: park the hint past the end until a release lowers it. */
export async function markFull(ctx: Context, view: RangeView): Promise<void> {
  if (endsFamily(view)) return;
  await moveHint(ctx, view, view.last + 1n, true);
}

/** A range ending at the family's last address has no "past the end" to park a hint at. */
function endsFamily(view: RangeView): boolean {
  return view.last + 1n > (view.family === 4 ? 0xffffffffn : (1n << 128n) - 1n);
}

/** The stored hint; a range written before hints existed starts at its first address. */
export function storedHint(doc: RangeDoc): string {
  return doc.freeHint ?? doc.startKey;
}

/**
 * The start of a search: this process's own hint for the range (`local.localHints`), valid only while
 * the stored `hintVersion` is the one it was computed under (any release, from any process, bumps it).
 * It spares the store a write per allocation: the stored hint moves only once it lags behind
 * (HINT_LAG, HINT_WRITE_*), so another process starting from it skips at most HINT_WRITE_SPAN used
 * addresses, by counting.
 */
export function startOf(view: RangeView): bigint {
  const stored = keyValue(storedHint(view.doc));
  const local = view.local.localHints.get(view.doc.id);
  return local && local.version === view.doc.hintVersion && local.value > stored ? local.value : stored;
}

export async function moveHint(ctx: Context, view: RangeView, value: bigint, always = false): Promise<void> {
  const write = hintWrite(view, value, always);
  if (write) await ctx.store.collection<RangeDoc>('ranges').updateOne(write.filter, write.update);
}

/** The stored-hint write moveHint would make (compare-and-set on `hintVersion`), or none when the hint stays. */
function hintWrite(view: RangeView, value: bigint, always: boolean): (Write & { op: 'update' }) | undefined {
  const { id, hintVersion } = view.doc;
  let local = view.local.localHints.get(id);
  if (!local || local.version !== hintVersion) keepBounded(view.local.localHints, id, (local = { version: hintVersion, value, moves: 0 }), KEPT_HINTS);
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

/** Ranges whose hint writes are committed together in refreshHints (one commit where the store has transactions). */
const HINT_BATCH = 200;

/**
 * refreshHint for many ranges (after an import): the hint writes of HINT_BATCH ranges are committed together
 * (commitHints), each still a compare-and-set of its own, and the event loop gets a turn between ranges.
 */
export async function refreshHints(ctx: Context, rangeIds: Iterable<string>): Promise<void> {
  let writes: Write[] = [];
  for (const id of rangeIds) {
    const write = await refreshWrite(ctx, id);
    if (write) writes.push(write);
    if (writes.length >= HINT_BATCH) {
      await commitHints(ctx, writes);
      writes = [];
    }
    await yieldToEventLoop();
  }
  if (writes.length > 0) await commitHints(ctx, writes);
}

/**
 * Each hint write is a compare-and-set of its own: with transactions a batch of them is one commit; without,
 * each is written alone, as the undo of a failed batch would put range documents back over the lower hints
 * other processes' releases wrote meanwhile.
 */
async function commitHints(ctx: Context, writes: Write[]): Promise<void> {
  if (ctx.store.transactional) await ctx.store.atomic(writes);
  else await eachOnItsOwn(ctx, writes);
}

async function refreshWrite(ctx: Context, rangeId: string): Promise<Write | undefined> {
  const doc = await ctx.store.collection<RangeDoc>('ranges').findOne({ id: rangeId });
  if (!doc) return undefined;
  const view = viewOf(ctx, doc);
  for await (const value of gaps(ctx, view, keyValue(storedHint(doc)))) return hintWrite(view, value, true);
  // Nothing free from the hint on: parked past the end, as markFull does.
  return endsFamily(view) ? undefined : hintWrite(view, view.last + 1n, true);
}
