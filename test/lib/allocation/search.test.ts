/**
 * The gap search (lib/allocation/search.ts) on its own, over a collection that answers `count` and `values`
 * from a sorted list of keys: every free address from the start on, in order, once, for both read windows
 * (the embedded store's and MongoDB's), with exclusions, starts before and inside them, and a span remembered
 * from an earlier search.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { addressKey } from '../../../lib/address';
import type { Context } from '../../../lib/record';
import type { RangeDoc } from '../../../lib/space';
import { localState, type Filter, type Store } from '../../../lib/store';
import { gaps, readWindow } from '../../../lib/allocation/search';
import type { RangeView } from '../../../lib/allocation/view';

const SPACE = 'S';

/** A context whose addresses collection holds `keys`; `reads` counts its calls. */
function contextOver(kind: Store['kind'], keys: string[], reads: { count: number; values: number; overLimit: number }): Context {
  const sorted = [...keys].sort();
  const between = (filter: Filter) => {
    const { $gte, $lte } = filter.key as { $gte: string; $lte: string };
    return sorted.filter((key) => key >= $gte && key <= $lte);
  };
  const addresses = {
    count: async (filter: Filter) => (reads.count++, between(filter).length),
    values: async (_field: string, filter: Filter, options: { limit: number }) => {
      reads.values++;
      const found = between(filter);
      if (found.length > options.limit) reads.overLimit++;
      return found.slice(0, options.limit);
    },
  };
  return { store: { kind, collection: () => addresses } } as unknown as Context;
}

async function all(search: AsyncGenerator<bigint>): Promise<bigint[]> {
  const found: bigint[] = [];
  for await (const value of search) found.push(value);
  return found;
}

const FIRST = 1000n;

for (const kind of ['embedded', 'mongodb'] as const) {
  describe(`gap search: ${kind} (read window ${kind === 'embedded' ? 32 : 1024})`, () => {
    it('yields every free address from the start on, in order and once, for any used runs, exclusions and remembered span', async () => {
      const run = fc.record({ used: fc.boolean(), length: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3000 })) });
      let ranges = 0;
      const reads = { count: 0, values: 0, overLimit: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 6000 }),
          fc.array(run, { maxLength: 12 }),
          fc.array(fc.tuple(fc.nat(6000), fc.nat(300)), { maxLength: 4 }),
          fc.integer({ min: -100, max: 6000 }),
          fc.option(fc.bigInt({ min: 1n, max: 9000n })),
          async (size, runs, excluded, startOffset, remembered) => {
            const last = FIRST + BigInt(size) - 1n;
            const used = new Set<bigint>();
            let value = FIRST;
            for (const { used: isUsed, length } of runs) {
              for (let i = 0; i < length && value <= last; i++, value++) if (isUsed) used.add(value);
            }
            const exclusions = merge(excluded.map(([at, length]) => ({ first: FIRST + BigInt(at) - 50n, last: FIRST + BigInt(at) - 50n + BigInt(length) })));
            const ctx = contextOver(kind, [...used].map((v) => addressKey(SPACE, 4, v)), reads);
            const local = localState(ctx.store);
            const id = `r${ranges++}`;
            // A remembered span is always wider than a window (gaps() keeps only those).
            if (remembered !== null) local.gapSpans.set(id, remembered + readWindow(ctx));
            const view = { doc: { id, addressSpace: SPACE } as RangeDoc, family: 4, first: FIRST, last, exclusions, local } as RangeView;
            const from = FIRST + BigInt(startOffset);
            const free: bigint[] = [];
            for (let p = from < FIRST ? FIRST : from; p <= last; p++) {
              if (!used.has(p) && !exclusions.some((e) => e.first <= p && p <= e.last)) free.push(p);
            }
            expect(await all(gaps(ctx, view, from))).to.deep.equal(free);
            // Again, from the span the first search remembered.
            expect(await all(gaps(ctx, view, from))).to.deep.equal(free);
          },
        ),
        { seed: 20261202, numRuns: 300 },
      );
      // The searches counted and halved wide spans as well as reading windows, and never asked for fewer keys than a window holds.
      expect(reads.count).to.be.greaterThan(100);
      expect(reads.values).to.be.greaterThan(100);
      expect(reads.overLimit).to.equal(0);
    });
  });
}

/** Exclusions as a range view keeps them: sorted and merged. */
function merge(intervals: { first: bigint; last: bigint }[]): { first: bigint; last: bigint }[] {
  const merged: { first: bigint; last: bigint }[] = [];
  for (const interval of [...intervals].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))) {
    const previous = merged[merged.length - 1];
    if (previous && interval.first <= previous.last + 1n) previous.last = interval.last > previous.last ? interval.last : previous.last;
    else merged.push({ ...interval });
  }
  return merged;
}
