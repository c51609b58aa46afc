/**
 * The batch snapshot answers the mapping reads of an import batch (sorted on the start key, projected) from
 * the blocks and ranges it read once, exactly as the store would, and leaves other reads to the store.
 */
import { expect } from 'chai';
import { batchSnapshot } from '../../../lib/csv/snapshot';
import { openEmbeddedStore, type Doc, type Filter, type FindOptions, type Store } from '../../../lib/store';
import { startFloor } from '../../../lib/space';
import type { Context } from '../../../lib/record';

const key = (n: number) => `S|4|${n.toString(16).padStart(8, '0')}`;

/** Nested and overlapping ranges (no two start alike: ties come in no set order), one outside the batch spans below. */
function ranges(): Doc[] {
  const spans: [number, number][] = [[0x0, 0xffff], [0x1000, 0x1fff], [0x1001, 0x10ff], [0x1080, 0x108f], [0x1800, 0x18ff], [0x3000, 0x30ff], [0x0f00, 0x1100]];
  return spans.map(([first, last], i) => ({ id: `r${i}`, startKey: key(first), endKey: key(last), spanKey: key(last - first), service: i % 2 ? 'a' : 'b', note: i === 3 ? null : `n${i}` }));
}

/** Counts the finds and findOnes that reach the store's ranges collection. */
function counting(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const real = store.collection('ranges');
  const collection = { ...real, find: (f: Filter, o?: FindOptions) => (reads++, real.find(f, o)), findOne: (f: Filter, o?: FindOptions) => (reads++, real.findOne(f, o)) };
  return {
    store: { ...store, collection: ((name) => (name === 'ranges' ? collection : store.collection(name))) as Store['collection'] },
    reads: () => reads,
  };
}

describe('csv batch snapshot', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openEmbeddedStore();
    await store.collection('ranges').insertMany(ranges());
  });
  afterEach(() => store.close());

  it('answers sorted, limited and projected containment reads inside the batch span as the store does, without reading it', async () => {
    const keys = [key(0x1081), key(0x1085), key(0x10f0)];
    const { store: watched, reads } = counting(store);
    const snap = await batchSnapshot(watched, keys);
    const before = reads();
    const queries: [Filter, FindOptions][] = [];
    for (const k of keys) {
      const containing = { startKey: { $gte: key(0), $lte: k }, endKey: { $gte: k } };
      queries.push([containing, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] }]);
      queries.push([containing, { sort: { startKey: -1 }, limit: 2, fields: ['note', 'absent'] }]);
      queries.push([{ ...containing, service: 'a' }, { sort: { startKey: 1 } }]);
    }
    for (const [filter, options] of queries) {
      const got = await snap.collection('ranges').find(filter, options);
      const expected = await store.collection('ranges').find(filter, options);
      expect(got, JSON.stringify([filter, options])).to.deep.equal(expected);
      expect(await snap.collection('ranges').findOne(filter, options)).to.deep.equal(await store.collection('ranges').findOne(filter, options));
    }
    expect(reads() - before).to.equal(0);
  });

  it('leaves reads reaching outside the span, or sorted on other fields, to the store', async () => {
    const { store: watched, reads } = counting(store);
    const snap = await batchSnapshot(watched, [key(0x1081)]);
    const before = reads();
    const outside = { startKey: { $gte: key(0), $lte: key(0x3050) }, endKey: { $gte: key(0x3050) } };
    expect((await snap.collection('ranges').find(outside, { sort: { startKey: 1 } })).map((d) => d.id)).to.deep.equal(['r0', 'r5']);
    const inside = { startKey: { $gte: key(0), $lte: key(0x1081) }, endKey: { $gte: key(0x1081) } };
    expect(await snap.collection('ranges').find(inside, { sort: { note: 1 } })).to.deep.equal(await store.collection('ranges').find(inside, { sort: { note: 1 } }));
    expect(reads() - before).to.equal(2);
  });

  it('reads a findOne it cannot answer from the store once per batch, and gives each caller its own copy', async () => {
    const { store: watched, reads } = counting(store);
    const snap = await batchSnapshot(watched, [key(0x1081)]);
    const before = reads();
    const widest = () => snap.collection('ranges').findOne({ spanKey: { $gte: key(0) } }, { sort: { spanKey: -1 } });
    const first = await widest();
    expect(first).to.deep.equal(await store.collection('ranges').findOne({ spanKey: { $gte: key(0) } }, { sort: { spanKey: -1 } }));
    first!.spanKey = 'changed by the caller';
    expect((await widest())!.id).to.equal('r0');
    expect((await widest())!.spanKey).to.equal(key(0xffff));
    expect(reads() - before, 'equal queries built afresh').to.equal(1);
    const filter = Object.freeze({ spanKey: Object.freeze({ $gte: key(0) }) });
    const options = Object.freeze({ sort: Object.freeze({ spanKey: 1 as const }) });
    for (let i = 0; i < 3; i++) expect((await snap.collection('ranges').findOne(filter, options))!.id).to.equal('r3');
    expect(reads() - before, 'the same frozen query three times').to.equal(2);
    expect((await snap.collection('ranges').findOne(filter, Object.freeze({ sort: Object.freeze({ spanKey: -1 as const }) })))!.id).to.equal('r0');
    expect(reads() - before, 'frozen, with other options').to.equal(3);
  });

  it("an import's startFloor, asked for every row of a batch, reads the widest range once", async () => {
    const { store: watched, reads } = counting(store);
    const snap = await batchSnapshot(watched, [key(0x1081), key(0x10f0)]);
    const before = reads();
    const asked: [Filter, FindOptions | undefined][] = [];
    const ranges = snap.collection('ranges');
    const ctx = { store: { ...snap, collection: () => ({ ...ranges, findOne: (f: Filter, o?: FindOptions) => (asked.push([f, o]), ranges.findOne(f, o)) }) } } as unknown as Context;
    const floors = [];
    for (const k of [key(0x1081), key(0x1085), key(0x10f0)]) floors.push(await startFloor(ctx, 'ranges', { addressSpace: 'S', family: 4, startKey: k, endKey: k }));
    expect(floors).to.deep.equal([key(0), key(0), key(0)]);
    expect(reads() - before).to.equal(1);
    // The same frozen objects each time: the snapshot knows the repeat without serialising the query.
    expect(asked).to.have.length(3);
    for (const [filter, options] of asked) {
      expect(filter).to.equal(asked[0][0]);
      expect(options).to.equal(asked[0][1]);
      expect(Object.isFrozen(filter) && Object.isFrozen(options)).to.equal(true);
    }
    expect(await startFloor({ store } as unknown as Context, 'ranges', { addressSpace: 'S', family: 4, startKey: key(0x1081), endKey: key(0x1081) })).to.equal(key(0));
  });
});
