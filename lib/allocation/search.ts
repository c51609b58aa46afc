/**
 * The gap search: free addresses of a range from a start on, found by reading stored keys in small windows
 * and jumping over fully used stretches by counting (never a walk), then probed (ping, PTR) as configured.
 */
import { activeProbes, probe, keyValue, type CheckName } from '../address';
import { IpamError } from '../errors';
import type { Context } from '../record';
import type { AddressDoc, RangeDoc } from '../space';
import { KEPT_HINTS, keepBounded, type Collection, type Filter, type StoreLocal } from '../store';
import { addressOf, describeRange, keyAt, type RangeView } from './view';

/** With ping/PTR on, candidates probed in parallel per round: at least this many... */
export const PROBE_BATCH = 4;

/** ...and at most this many (each ping is a process). */
export const MAX_PARALLEL_PROBES = 16;

/**
 * The widest window whose stored keys are read (off the key index alone: the port's `values`); wider spans are
 * counted, and halved down to a window. On the embedded store a key read costs about 0.3 µs against 0.05 µs
 * counted, and a count about 15 µs, so halving stops at 32; on MongoDB a round trip costs more than a thousand keys.
 */
export function readWindow(ctx: Context): bigint {
  return ctx.store.kind === 'embedded' ? 32n : 1024n;
}

/**
 * An allocation (`keep`) reads wider windows on the embedded store and keeps the free addresses it did not take
 * (`knownFree`): the next allocations of this process take them without a read, so in a range 99% full one read
 * of 256 keys (about 80 µs) serves two or three allocations instead of each making about four counts.
 */
export const KEPT_WINDOW = 256n;

/** Ranges whose free addresses are kept, per store; past this many, the oldest go. */
const KEPT_RANGES = 256;

type KnownFree = StoreLocal['knownFree'] extends Map<string, infer K> ? K : never;

/**
 * The free addresses kept for the range: valid while the range's `hintVersion` (every release and hold end
 * bumps it) and `updatedAt` (every change of its bounds or exclusions) are the ones they were read under. An
 * address taken since by another writer is met as a collision, which forgets them (`forgetFree`).
 */
function keptFree(view: RangeView): KnownFree | undefined {
  const known = view.local.knownFree.get(view.doc.id);
  return known && known.hintVersion === view.doc.hintVersion && known.updatedAt === view.doc.updatedAt ? known : undefined;
}

/**
 * Keeps the free addresses of [lo, hi] a read found (`writtenAtRead`: this process's write count just before it),
 * but for those other callers of this process are claiming (each writes its address, or lets it go unwritten,
 * which drops the list: claims.ts releaseClaims) or wrote since the read, which it could not see. Undefined
 * when more were written since than are remembered: then nothing is kept.
 */
function keepFree(view: RangeView, lo: bigint, hi: bigint, found: bigint[], writtenAtRead: number): KnownFree | undefined {
  const { knownFree } = view.local;
  knownFree.delete(view.doc.id);
  const { keys, total } = view.local.recentWrites;
  if (total - writtenAtRead > keys.length) return undefined;
  const [loKey, hiKey] = [keyAt(view, lo), keyAt(view, hi)];
  const own = new Set(ownKeys(view, writtenAtRead).filter((key) => key >= loKey && key <= hiKey).map(keyValue));
  const free = own.size === 0 ? found : found.filter((value) => !own.has(value));
  const known = { hintVersion: view.doc.hintVersion, updatedAt: view.doc.updatedAt, lo, hi, free };
  keepBounded(knownFree, view.doc.id, known, KEPT_RANGES);
  return known;
}

/** The free addresses a read found, kept (keepFree) and handed out from the list, or, when they cannot be kept, as they are. */
function* handOut(view: RangeView, lo: bigint, hi: bigint, found: bigint[], writtenAtRead: number): Generator<bigint, bigint> {
  const known = keepFree(view, lo, hi, found, writtenAtRead);
  if (known) return yield* takeFree(view, known, lo);
  yield* found;
  return hi + 1n;
}

/** Keys of addresses this process is claiming now or wrote after its `since`-th remembered write (noteWritten). */
function ownKeys(view: RangeView, since: number): string[] {
  const { keys, total } = view.local.recentWrites;
  return [...view.local.claiming.keys(), ...keys.slice(Math.max(0, keys.length - (total - since)))];
}

/** The most addresses below a kept list that ownBetween checks one by one. */
const OWN_SPAN = 64n;

/**
 * Whether every address of [from, to) is being written by an allocation of this process or was written by one:
 * a search starting there (concurrent allocations keep the hint at the lowest one in flight) may start at `to`.
 */
function ownBetween(view: RangeView, from: bigint, to: bigint): boolean {
  if (to - from > OWN_SPAN) return false;
  const own = new Set(ownKeys(view, 0));
  for (let value = from; value < to; value++) if (!own.has(keyAt(view, value))) return false;
  return true;
}

/** An address a caller of this process claims (it may have found it by reading the store) leaves the kept list. */
export function unlistFree(view: RangeView, value: bigint): void {
  const free = view.local.knownFree.get(view.doc.id)?.free;
  const at = free ? free.indexOf(value) : -1;
  if (at >= 0) free!.splice(at, 1);
}

/**
 * After a collision the range's free addresses are read again, and for KEEP_PAUSE_MS not kept: another process
 * is allocating from the range too, and lists kept by both would make every other allocation collide.
 */
export function forgetFree(view: RangeView): void {
  dropFree(view);
  keepBounded(view.local.keepPaused, view.doc.id, Date.now() + KEEP_PAUSE_MS, KEPT_RANGES);
}

export const KEEP_PAUSE_MS = 30_000;

/**
 * The range's kept free addresses are read again: a kept address was handed out and then let go unwritten (its
 * allocation failed, was replayed or gave way to another allocator), and is no longer on the list.
 */
export function dropFree(view: RangeView): void {
  view.local.knownFree.delete(view.doc.id);
}

function keeping(view: RangeView): boolean {
  const until = view.local.keepPaused.get(view.doc.id);
  if (until === undefined) return true;
  if (until > Date.now()) return false;
  view.local.keepPaused.delete(view.doc.id);
  return true;
}

/**
 * The kept free addresses from `pos` on, each handed out once (removed as it is given), while they are the
 * range's current list; gives where the search goes on: past the window once the list is used up, or just past
 * the last address handed out if the list was dropped or replaced meanwhile (another list may hold the rest).
 */
function* takeFree(view: RangeView, known: KnownFree, pos: bigint): Generator<bigint, bigint> {
  // Every entry is at or above `pos`: a search takes from a list only then (gaps), and entries only leave it.
  while (view.local.knownFree.get(view.doc.id) === known) {
    const next = known.free.shift();
    if (next === undefined) return known.hi + 1n;
    pos = next + 1n;
    yield next;
  }
  return pos;
}

/**
 * The addresses of [lo, hi] missing from its sorted, distinct stored keys, in order. A run of keys with as many
 * addresses between its neighbours as it has keys holds no gap and is not parsed: in a window 99% used, a few
 * dozen of its 256 keys are.
 */
function freeBetween(keys: string[], lo: bigint, hi: bigint): bigint[] {
  const free: bigint[] = [];
  // keys[a..b) lie strictly between the values `below` and `above`.
  const collect = (a: number, b: number, below: bigint, above: bigint): void => {
    if (above - below - 1n === BigInt(b - a)) return;
    if (a === b) {
      for (let p = below + 1n; p < above; p++) free.push(p);
      return;
    }
    const middle = (a + b) >> 1;
    const value = keyValue(keys[middle]);
    collect(a, middle, below, value);
    collect(middle + 1, b, value, above);
  };
  collect(0, keys.length, lo - 1n, hi + 1n);
  return free;
}

/**
 * Addresses of the range from `from` on that are neither stored nor excluded, in order. A stretch wider than
 * a window is counted first: fully used, it is skipped, doubling the next span; empty, all of it is free;
 * otherwise it is narrowed by halving to the window holding its first gap. A window's stored keys are read,
 * and the addresses between them are the gaps. So a dense stretch of n addresses costs O(log n) counts, never a walk.
 */
export async function* gaps(ctx: Context, view: RangeView, from: bigint, keepFound = false): AsyncGenerator<bigint> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  let keep = keepFound && keeping(view);
  let pos = from < view.first ? view.first : from;
  const known = keep ? keptFree(view) : undefined;
  if (known && pos < known.lo && ownBetween(view, pos, known.lo)) pos = known.lo;
  if (known && known.lo <= pos && pos <= known.hi && !(known.free[0] < pos)) {
    pos = yield* takeFree(view, known, pos);
  } else if (known && known.free.length > 0) {
    // Kept addresses this search would pass by or start below: other allocators take them; it reads the store
    // and leaves the list as it is.
    keep = false;
  }
  const window = keep && ctx.store.kind === 'embedded' ? KEPT_WINDOW : readWindow(ctx);
  // Start with the span the last search of this range found its gap in: in a range used evenly (99% at
  // random) the next gap is about as far, so the doubling counts up to it are not repeated on every call.
  let span = view.local.gapSpans.get(view.doc.id) ?? window;
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
    if (hi - lo + 1n > window) {
      const writtenAtRead = view.local.recentWrites.total;
      const used = await stored(addresses, view, lo, hi);
      if (used === hi - lo + 1n) {
        pos = hi + 1n;
        span *= 2n;
        continue;
      }
      if (used === 0n) {
        view.local.gapSpans.delete(view.doc.id);
        if (keep) {
          pos = yield* handOut(view, lo, lo + window - 1n, Array.from({ length: Number(window) }, (_, i) => lo + BigInt(i)), writtenAtRead);
          span = window;
          continue;
        }
        for (let p = lo; p <= hi; p++) yield p;
        pos = hi + 1n;
        span = window;
        continue;
      }
      while (hi - lo + 1n > window) {
        const mid = lo + (hi - lo + 1n) / 2n - 1n;
        if ((await stored(addresses, view, lo, mid)) === mid - lo + 1n) lo = mid + 1n;
        else hi = mid;
      }
    }
    // At most a window of keys lies between lo and hi: one limit for every window keeps one SQL text.
    const writtenAtRead = view.local.recentWrites.total;
    const keys = (await addresses.values('key', between(view, lo, hi), { limit: Number(window) })) as string[];
    if (BigInt(keys.length) === hi - lo + 1n) {
      pos = hi + 1n;
      span *= 2n;
      continue;
    }
    // How far from the start this gap was: the next search's first span.
    if (hi - start + 1n > window) keepBounded(view.local.gapSpans, view.doc.id, hi - start + 1n, KEPT_HINTS);
    else view.local.gapSpans.delete(view.doc.id);
    span = window;
    const free = freeBetween(keys, lo, hi);
    if (keep) {
      pos = yield* handOut(view, lo, hi, free, writtenAtRead);
      continue;
    }
    yield* free;
    pos = hi + 1n;
  }
}

export function between(view: RangeView, lo: bigint, hi: bigint): Filter {
  return { key: { $gte: keyAt(view, lo), $lte: keyAt(view, hi) } };
}

/** How many addresses of [lo, hi] are stored. */
export async function stored(addresses: Collection<AddressDoc>, view: RangeView, lo: bigint, hi: bigint): Promise<bigint> {
  return BigInt(await addresses.count(between(view, lo, hi)));
}

/** Probes candidates in parallel (ping, PTR as configured); all available when no probe is on. */
export async function availableOf(ctx: Context, view: RangeView, candidates: bigint[]): Promise<boolean[]> {
  if (activeProbes(ctx.checks).length === 0) return candidates.map(() => true);
  const verdicts = await Promise.all(candidates.map((value) => probe(addressOf(view, value), ctx.checks)));
  return verdicts.map((verdict) => verdict.available);
}

export function batchSize(open: number, probing: boolean): number {
  return probing ? Math.min(Math.max(open, PROBE_BATCH), MAX_PARALLEL_PROBES) : open;
}

/** The checks that decide availability, in the order they run. */
export function checksRun(ctx: Context): CheckName[] {
  return ['store', 'reservations', 'exclusions', ...activeProbes(ctx.checks)];
}

export function rangeFull(doc: RangeDoc, ctx: Context, wanted: number, found: number): IpamError {
  const what = wanted === 1 ? 'no available address' : `only ${found} of ${wanted} addresses available`;
  return new IpamError('RANGE_FULL', `${describeRange(doc)}: ${what} (checks: ${checksRun(ctx).join(', ')})`, {
    field: 'range',
    value: doc.network,
  });
}
