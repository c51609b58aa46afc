/**
 * The gap search (lib/allocation/search.ts) on its own, over a collection that answers `count` and `values`
 * from a sorted list of keys: every free address from the start on, in order, once, for both read windows
 * (the embedded store's and MongoDB's), with exclusions, starts before and inside them, and a span remembered
 * from an earlier search; and the free addresses an allocation keeps (`keep`): each handed out once, read again
 * after a release or a collision.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { addressKey } from '../../../lib/address';
import type { Context } from '../../../lib/record';
import type { RangeDoc } from '../../../lib/space';
import { localState, type Filter, type Store } from '../../../lib/store';
import { KEEP_PAUSE_MS, forgetFree, gaps, readWindow } from '../../../lib/allocation/search';
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

/** A context over a mutable set of stored values (keys made on each read), with its reads counted. */
function contextOverSet(kind: Store['kind'], stored: Set<bigint>, reads: { count: number; values: number }): Context {
  const between = (filter: Filter) => {
    const { $gte, $lte } = filter.key as { $gte: string; $lte: string };
    return [...stored].map((v) => addressKey(SPACE, 4, v)).filter((key) => key >= $gte && key <= $lte).sort();
  };
  const addresses = {
    count: async (filter: Filter) => (reads.count++, between(filter).length),
    values: async (_field: string, filter: Filter, options: { limit: number }) => (reads.values++, between(filter).slice(0, options.limit)),
  };
  return { store: { kind, collection: () => addresses } } as unknown as Context;
}

/** Up to `n` values of a search, as pickCandidates takes them (it stops the search once it has enough). */
async function take(search: AsyncGenerator<bigint>, n: number): Promise<bigint[]> {
  const taken: bigint[] = [];
  for await (const value of search) {
    taken.push(value);
    if (taken.length >= n) break;
  }
  return taken;
}

for (const kind of ['embedded', 'mongodb'] as const) {
  describe(`gap search keeping free addresses: ${kind}`, () => {
    const view = (ctx: Context, id: string, last: bigint, exclusions: { first: bigint; last: bigint }[] = []) =>
      ({ doc: { id, addressSpace: SPACE, hintVersion: 0, updatedAt: 't0' } as RangeDoc, family: 4, first: FIRST, last, exclusions, local: localState(ctx.store) }) as RangeView;

    it('allocations in turn get every free address in order, each once, reading far less often than without keeping', async () => {
      let ranges = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3000 }),
          fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 400 })), { maxLength: 10 }),
          fc.array(fc.tuple(fc.nat(3000), fc.nat(200)), { maxLength: 3 }),
          fc.integer({ min: 1, max: 5 }),
          async (size, runs, excluded, perCall) => {
            const last = FIRST + BigInt(size) - 1n;
            const stored = new Set<bigint>();
            let value = FIRST;
            for (const [used, length] of runs) for (let i = 0; i < length && value <= last; i++, value++) if (used) stored.add(value);
            const exclusions = merge(excluded.map(([at, length]) => ({ first: FIRST + BigInt(at), last: FIRST + BigInt(at) + BigInt(length) })));
            const free: bigint[] = [];
            for (let p = FIRST; p <= last; p++) if (!stored.has(p) && !exclusions.some((e) => e.first <= p && p <= e.last)) free.push(p);
            const kept = { count: 0, values: 0 };
            const ctx = contextOverSet(kind, stored, kept);
            const range = view(ctx, `k${ranges++}`, last, exclusions);
            const handed: bigint[] = [];
            for (let pos = FIRST; ; ) {
              const got = await take(gaps(ctx, range, pos, true), perCall);
              if (got.length === 0) break;
              for (const v of got) stored.add(v);
              handed.push(...got);
              pos = got[got.length - 1] + 1n;
            }
            expect(handed).to.deep.equal(free);
            // Without keeping, each of those calls reads (a count or a key read) at least once.
            if (kind === 'embedded' && free.length >= 64 && perCall === 1) expect(kept.values + kept.count).to.be.lessThan(free.length / 2);
          },
        ),
        { seed: 20261203, numRuns: 200 },
      );
    });

    it('a release (the range hint version moves) makes the next search read again and find the freed address', async () => {
      const stored = new Set<bigint>([FIRST + 1n, FIRST + 3n]);
      const reads = { count: 0, values: 0 };
      const ctx = contextOverSet(kind, stored, reads);
      const range = view(ctx, 'released', FIRST + 99n);
      expect(await take(gaps(ctx, range, FIRST, true), 1)).to.deep.equal([FIRST]);
      stored.add(FIRST);
      const before = reads.values + reads.count;
      expect(await take(gaps(ctx, range, FIRST + 1n, true), 1)).to.deep.equal([FIRST + 2n]);
      expect(reads.values + reads.count).to.equal(before, 'served from the kept addresses');
      stored.add(FIRST + 2n);
      // FIRST + 3 is released: its delete bumps the range's hintVersion in the same batch.
      stored.delete(FIRST + 3n);
      range.doc.hintVersion++;
      expect(await take(gaps(ctx, range, FIRST + 3n, true), 1)).to.deep.equal([FIRST + 3n]);
      expect(reads.values + reads.count).to.be.greaterThan(before);
    });

    it('after a collision (forgetFree) an address another writer took is not handed out again', async () => {
      const stored = new Set<bigint>();
      const ctx = contextOverSet(kind, stored, { count: 0, values: 0 });
      const range = view(ctx, 'collided', FIRST + 999n);
      expect(await take(gaps(ctx, range, FIRST, true), 1)).to.deep.equal([FIRST]);
      stored.add(FIRST);
      // Another process stores FIRST + 1 and FIRST + 2; this one meets FIRST + 1 as a collision.
      stored.add(FIRST + 1n);
      stored.add(FIRST + 2n);
      expect(await take(gaps(ctx, range, FIRST + 1n, true), 1)).to.deep.equal([FIRST + 1n]);
      forgetFree(range);
      expect(await take(gaps(ctx, range, FIRST + 1n, true), 1)).to.deep.equal([FIRST + 3n]);
    });

    it('after a collision the range keeps nothing for KEEP_PAUSE_MS (another process allocates from it too), then keeps again', async () => {
      const stored = new Set<bigint>();
      const reads = { count: 0, values: 0 };
      const ctx = contextOverSet(kind, stored, reads);
      const range = view(ctx, 'paused', FIRST + 9999n);
      const realNow = Date.now;
      let now = realNow();
      Date.now = () => now;
      try {
        const readsOf = async (pos: bigint) => {
          const before = reads.count + reads.values;
          const [got] = await take(gaps(ctx, range, pos, true), 1);
          stored.add(got);
          return reads.count + reads.values - before;
        };
        await readsOf(FIRST);
        expect(await readsOf(FIRST + 1n)).to.equal(0, 'kept');
        forgetFree(range);
        expect(await readsOf(FIRST + 2n)).to.be.greaterThan(0);
        expect(await readsOf(FIRST + 3n)).to.be.greaterThan(0, 'paused: read every time');
        now += KEEP_PAUSE_MS + 1;
        expect(await readsOf(FIRST + 4n)).to.be.greaterThan(0);
        expect(await readsOf(FIRST + 5n)).to.equal(0, 'kept again');
      } finally {
        Date.now = realNow;
      }
    });

    it('an address claimed when the store is read and let go before the list is kept is on the list', async () => {
      const stored = new Set<bigint>([FIRST]);
      const reads = { count: 0, values: 0 };
      const ctx = contextOverSet(kind, stored, reads);
      const range = view(ctx, 'let-go', FIRST + 99n);
      const claimedKey = addressKey(SPACE, 4, FIRST + 1n);
      range.local.claiming.set(claimedKey, Promise.resolve());
      // Another allocation lets FIRST + 1 go, unwritten, while this search's read is answered.
      const addresses = ctx.store.collection('addresses') as unknown as { values: (...args: unknown[]) => Promise<string[]> };
      const read = addresses.values;
      addresses.values = async (...args) => {
        const keys = await read(...args);
        range.local.claiming.delete(claimedKey);
        return keys;
      };
      expect(await take(gaps(ctx, range, FIRST, true), 2)).to.deep.equal([FIRST + 1n, FIRST + 2n]);
    });

    it('two searches at once never get the same kept address', async () => {
      const ctx = contextOverSet(kind, new Set(), { count: 0, values: 0 });
      const range = view(ctx, 'shared', FIRST + 99n);
      const a = gaps(ctx, range, FIRST, true);
      const b = gaps(ctx, range, FIRST, true);
      const got: bigint[] = [];
      for (let i = 0; i < 5; i++) got.push((await a.next()).value as bigint, (await b.next()).value as bigint);
      await a.return(undefined);
      await b.return(undefined);
      expect(new Set(got).size).to.equal(got.length);
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
