/**
 * The gap search: free addresses of a range from a start on, found by reading stored keys in small windows
 * and jumping over fully used stretches by counting (never a walk), then probed (ping, PTR) as configured.
 */
import { activeProbes, probe, keyValue, type CheckName } from '../address';
import { IpamError } from '../errors';
import type { Context } from '../record';
import type { AddressDoc, RangeDoc } from '../space';
import type { Collection, Filter } from '../store';
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
 * Addresses of the range from `from` on that are neither stored nor excluded, in order. A stretch wider than
 * a window is counted first: fully used, it is skipped, doubling the next span; empty, all of it is free;
 * otherwise it is narrowed by halving to the window holding its first gap. A window's stored keys are read,
 * and the addresses between them are the gaps. So a dense stretch of n addresses costs O(log n) counts, never a walk.
 */
export async function* gaps(ctx: Context, view: RangeView, from: bigint): AsyncGenerator<bigint> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  const window = readWindow(ctx);
  let pos = from < view.first ? view.first : from;
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
    const keys = (await addresses.values('key', between(view, lo, hi), { limit: Number(window) })) as string[];
    if (BigInt(keys.length) === hi - lo + 1n) {
      pos = hi + 1n;
      span *= 2n;
      continue;
    }
    // How far from the start this gap was: the next search's first span.
    if (hi - start + 1n > window) view.local.gapSpans.set(view.doc.id, hi - start + 1n);
    else view.local.gapSpans.delete(view.doc.id);
    span = window;
    const first = firstGapAt(keys, lo);
    let p = lo + BigInt(first);
    for (const key of keys.slice(first)) {
      const value = keyValue(key);
      while (p < value) yield p++;
      p = value + 1n;
    }
    while (p <= hi) yield p++;
    pos = hi + 1n;
  }
}

/**
 * How many of the sorted, distinct stored keys of a window starting at `lo` come before its first gap: the i-th
 * key is at lo + i exactly while no address before it is free, so a binary search parses a few keys, not all.
 */
function firstGapAt(keys: string[], lo: bigint): number {
  let below = 0;
  let above = keys.length;
  while (below < above) {
    const mid = (below + above) >> 1;
    if (keyValue(keys[mid]) === lo + BigInt(mid)) below = mid + 1;
    else above = mid;
  }
  return below;
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
