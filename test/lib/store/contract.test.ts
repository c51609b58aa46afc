/**
 * One contract, every adapter: what the core relies on from a store.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { IpamError } from '../../../lib/errors';
import { openStore } from '../../../lib/store';
import { openEmbeddedStore } from '../../../lib/store/embedded';
import type { Filter, Store } from '../../../lib/store/port';
import { availableStores, tempDir } from '../../support/stores';

interface Row {
  id: string;
  key: string;
  n: number;
  tag?: string | null;
  requestKey?: string;
  [field: string]: unknown;
}

for (const factory of availableStores()) {
  describe(`store contract: ${factory.name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await factory.open();
    });
    afterEach(() => store.close());
    after(async () => factory.shutdown?.());

    const rows = () => store.collection<Row>('addresses');
    const row = (key: string, n: number, extra: Partial<Row> = {}): Row => ({ id: randomUUID(), key, n, ...extra });

    it('inserts and finds by id and by field', async () => {
      const doc = row('D|4|0a000001', 1);
      await rows().insertOne(doc);
      expect(await rows().findOne({ id: doc.id })).to.deep.equal(doc);
      expect(await rows().findOne({ key: 'D|4|0a000001' })).to.deep.equal(doc);
      expect(await rows().findOne({ key: 'nope' })).to.equal(null);
    });

    it('atomic applies a batch of inserts, updates and deletes in order', async () => {
      const a = row('D|4|01', 1);
      const b = row('D|4|02', 2);
      await rows().insertOne(a);
      await store.atomic([
        { op: 'insert', collection: 'addresses', doc: b },
        { op: 'update', collection: 'addresses', filter: { id: b.id }, update: { $inc: { n: 10 } } },
        { op: 'delete', collection: 'addresses', filter: { id: a.id } },
      ]);
      expect((await rows().find({}, { sort: { key: 1 } })).map((d) => [d.key, d.n])).to.deep.equal([['D|4|02', 12]]);
    });

    it('atomic undoes the whole batch when a later write collides', async () => {
      const a = row('D|4|01', 1);
      await rows().insertOne(a);
      const err = await store
        .atomic([
          { op: 'update', collection: 'addresses', filter: { id: a.id }, update: { $set: { n: 5 } } },
          { op: 'insert', collection: 'addresses', doc: row('D|4|02', 2) },
          { op: 'insert', collection: 'addresses', doc: row('D|4|01', 3) },
        ])
        .catch((e: IpamError) => e);
      expect((err as IpamError).code).to.equal('DUPLICATE');
      expect((await rows().find({})).map((d) => [d.key, d.n])).to.deep.equal([['D|4|01', 1]]);
    });

    it('refuses a duplicate unique key with DUPLICATE naming the field', async () => {
      await rows().insertOne(row('D|4|0a000001', 1));
      const err = await rows().insertOne(row('D|4|0a000001', 2)).catch((e: IpamError) => e);
      expect(err).to.be.instanceOf(IpamError);
      expect((err as IpamError).code).to.equal('DUPLICATE');
      expect((err as IpamError).field).to.equal('key');
      expect(await rows().count({})).to.equal(1);
    });

    it('addresses are unique by key alone; requests by id (requestId idempotency, lib/space/requests.ts)', async () => {
      await rows().insertOne(row('D|4|03', 3, { requestKey: 'D|r1' }));
      await rows().insertOne(row('D|4|04', 4, { requestKey: 'D|r1' }));
      const requests = store.collection('requests');
      await requests.insertOne({ id: 'D|r1', addressId: 'a' });
      const err = await requests.insertOne({ id: 'D|r1', addressId: 'b' }).catch((e: IpamError) => e);
      expect((err as IpamError).code).to.equal('DUPLICATE');
      expect(await requests.find({ id: 'D|r1' })).to.deep.equal([{ id: 'D|r1', addressId: 'a' }]);
    });

    it('orders fixed-width hex keys numerically and answers interval queries', async () => {
      const values = [0x0a000010, 0x0a000002, 0x0a0000ff, 0x0a000100, 0x0b000000];
      for (const v of values) await rows().insertOne(row(`D|4|${v.toString(16).padStart(8, '0')}`, v));
      const found = await rows().find({ key: { $gte: 'D|4|0a000000', $lte: 'D|4|0a0000ff' } }, { sort: { key: 1 } });
      expect(found.map((d) => d.n)).to.deep.equal([0x0a000002, 0x0a000010, 0x0a0000ff]);
      expect(await rows().count({ key: { $gt: 'D|4|0a000010', $lt: 'D|4|0b000000' } })).to.equal(2);
      const page = await rows().find({}, { sort: { key: -1 }, skip: 1, limit: 2 });
      expect(page.map((d) => d.n)).to.deep.equal([0x0a000100, 0x0a0000ff]);
    });

    it('supports $in (with null), $ne and $exists', async () => {
      await rows().insertOne(row('a', 1, { tag: null }));
      await rows().insertOne(row('b', 2, { tag: 'x' }));
      await rows().insertOne(row('c', 3, { tag: 'y' }));
      expect((await rows().find({ tag: { $in: [null, 'x'] } }, { sort: { key: 1 } })).map((d) => d.key)).to.deep.equal(['a', 'b']);
      expect((await rows().find({ tag: { $ne: 'x' } }, { sort: { key: 1 } })).map((d) => d.key)).to.deep.equal(['a', 'c']);
      expect(await rows().count({ requestKey: { $exists: true } })).to.equal(0);
      expect(await rows().count({ tag: null })).to.equal(1);
    });

    it('updates one as compare-and-set, many, with $set/$unset/$inc/$min', async () => {
      const doc = row('a', 5, { tag: 'x' });
      await rows().insertOne(doc);
      await rows().insertOne(row('b', 7, { tag: 'x' }));
      expect(await rows().updateOne({ id: doc.id, n: 4 }, { $set: { tag: 'no' } })).to.equal(false);
      expect(await rows().updateOne({ id: doc.id, n: 5 }, { $set: { tag: 'yes' }, $inc: { n: 1 } })).to.equal(true);
      expect(await rows().findOne({ id: doc.id })).to.include({ tag: 'yes', n: 6 });
      expect(await rows().updateMany({}, { $min: { n: 6 }, $unset: { tag: true } })).to.equal(2);
      const all = await rows().find({}, { sort: { key: 1 } });
      expect(all.map((d) => [d.n, d.tag])).to.deep.equal([[6, undefined], [6, undefined]]);
    });

    it('update colliding on a unique key fails with DUPLICATE and changes nothing', async () => {
      await rows().insertOne(row('a', 1));
      const b = row('b', 2);
      await rows().insertOne(b);
      const err = await rows().updateOne({ id: b.id }, { $set: { key: 'a' } }).catch((e: IpamError) => e);
      expect((err as IpamError).code).to.equal('DUPLICATE');
      expect((await rows().findOne({ id: b.id }))?.key).to.equal('b');
    });

    it('insertMany keeps the valid documents and reports each failure by index', async () => {
      await rows().insertOne(row('taken', 0));
      const result = await rows().insertMany([row('x1', 1), row('taken', 2), row('x3', 3), row('x1', 4)]);
      expect(result.inserted).to.equal(2);
      expect(result.failures.map((f) => f.index).sort()).to.deep.equal([1, 3]);
      expect(result.failures.every((f) => (f.error as IpamError).code === 'DUPLICATE')).to.equal(true);
      expect(await rows().count({})).to.equal(3);
    });

    it('deletes one and many', async () => {
      for (const k of ['a', 'b', 'c']) await rows().insertOne(row(k, 1));
      expect(await rows().deleteOne({ key: 'a' })).to.equal(true);
      expect(await rows().deleteOne({ key: 'a' })).to.equal(false);
      expect(await rows().deleteMany({ n: 1 })).to.equal(2);
      expect(await rows().count({})).to.equal(0);
    });

    it('sorted, limited interval reads match a brute-force answer in both directions', async () => {
      const keys = Array.from({ length: 400 }, (_, i) => `S|4|${((i * 7919) % 4000).toString(16).padStart(8, '0')}`);
      await rows().insertMany(keys.map((key, i) => row(key, i % 3)));
      const sorted = [...keys].sort();
      const cases = [
        { lo: 'S|4|00000100', hi: 'S|4|00000800', dir: 1 as const, limit: 7, skip: 0, n: undefined },
        { lo: 'S|4|00000100', hi: 'S|4|00000800', dir: -1 as const, limit: 5, skip: 2, n: 1 },
        { lo: undefined, hi: 'S|4|00000500', dir: -1 as const, limit: 3, skip: 0, n: 2 },
        { lo: 'S|4|00000f00', hi: undefined, dir: 1 as const, limit: 1000, skip: 0, n: undefined },
      ];
      for (const c of cases) {
        const range: Record<string, string> = {};
        if (c.lo) range.$gt = c.lo;
        if (c.hi) range.$lte = c.hi;
        const filter: Filter = c.n === undefined ? { key: range } : { key: range, n: c.n };
        const got = await rows().find(filter, { sort: { key: c.dir }, limit: c.limit, skip: c.skip });
        const expected = (c.dir === 1 ? sorted : [...sorted].reverse())
          .filter((k) => (!c.lo || k > c.lo) && (!c.hi || k <= c.hi))
          .filter((k) => c.n === undefined || keys.indexOf(k) % 3 === c.n)
          .slice(c.skip, c.skip + c.limit);
        expect(got.map((d) => d.key), JSON.stringify(c)).to.deep.equal(expected);
        expect(await rows().count({ key: range })).to.equal(sorted.filter((k) => (!c.lo || k > c.lo) && (!c.hi || k <= c.hi)).length);
      }
    });

    it('returns only the requested fields (and id), sorted or not', async () => {
      const doc = row('k1', 1, { tag: 'x' });
      await rows().insertOne(doc);
      expect(await rows().find({ key: 'k1' }, { fields: ['n'] })).to.deep.equal([{ id: doc.id, n: 1 }]);
      expect(await rows().find({ key: { $gte: 'k' } }, { sort: { key: 1 }, fields: ['tag'] })).to.deep.equal([{ id: doc.id, tag: 'x' }]);
    });

    it('a projection keeps stored nulls, leaves missing fields out, and returns nested values, numbers and odd names as stored', async () => {
      const extra = { none: null, sub: { a: [1, 'two', { b: false }] }, big: 2 ** 53 - 1, frac: 0.1, neg: -1.5e-7, 'dot.ted': 'd', "quo'te": 'q', uni: 'é\u2028' };
      const doc = row('k1', 1, extra);
      await rows().insertOne(doc);
      const fields = ['none', 'absent', 'sub', 'big', 'frac', 'neg', 'dot.ted', "quo'te", 'uni', 'id'];
      const picked = (await rows().findOne({ key: 'k1' }, { fields }))!;
      expect(picked).to.deep.equal({ id: doc.id, ...extra });
      expect(Object.hasOwn(picked, 'absent')).to.equal(false);
      // An unlimited find reads in yielding pages (on a file store): the same projection there.
      expect(await rows().find({ key: 'k1' }, { fields: ['none', 'absent', 'sub'] })).to.deep.equal([{ id: doc.id, none: null, sub: extra.sub }]);
    });

    it('updates of documents sharing an indexed value keep that index exact', async () => {
      const docs = Array.from({ length: 30 }, (_, i) => row(`k${String(i).padStart(2, '0')}`, i, { rangeId: 'r1' }));
      await rows().insertMany(docs);
      await rows().updateOne({ id: docs[3].id }, { $set: { tag: 'changed' } });
      await rows().updateMany({ n: { $gte: 20 } }, { $set: { tag: 'many' } });
      await rows().updateOne({ id: docs[5].id }, { $set: { rangeId: 'r2' } });
      expect(await rows().count({ rangeId: 'r1' })).to.equal(29);
      const inR1 = await rows().find({ rangeId: 'r1' }, { sort: { key: 1 } });
      expect(inR1.find((d) => d.id === docs[3].id)?.tag).to.equal('changed');
      expect(inR1.filter((d) => d.tag === 'many')).to.have.length(10);
      expect((await rows().find({ rangeId: 'r2' })).map((d) => d.id)).to.deep.equal([docs[5].id]);
      const err = await rows().updateOne({ id: docs[6].id }, { $set: { key: 'k00', tag: 'lost' } }).catch((e: IpamError) => e);
      expect((err as IpamError).code).to.equal('DUPLICATE');
      expect((await rows().findOne({ rangeId: 'r1', key: 'k06' }))?.tag).to.equal(undefined);
      expect(await rows().count({ rangeId: 'r1' })).to.equal(29);
      await rows().deleteOne({ id: docs[3].id });
      await rows().deleteMany({ n: { $gte: 25 } });
      const left = await rows().find({ rangeId: 'r1' }, { sort: { key: 1 } });
      expect(left.map((d) => d.n)).to.deep.equal([0, 1, 2, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
      expect(await rows().count({ rangeId: 'r1' })).to.equal(23);
    });

    it('exactly one of many concurrent inserts of one key wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => rows().insertOne(row('same', i))));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      expect(await rows().count({ key: 'same' })).to.equal(1);
    });
  });
}

describe('embedded store files', () => {
  it('persists across close and reopen', async () => {
    const directory = tempDir();
    const first = await openStore({ kind: 'embedded', directory });
    await first.collection('blocks').insertOne({ id: 'b1', key: 'k1' });
    await first.close();
    const second = await openStore({ kind: 'embedded', directory });
    expect(await second.collection('blocks').findOne({ id: 'b1' })).to.deep.equal({ id: 'b1', key: 'k1' });
    await second.close();
  });

  it('shares one open store per directory inside a process and closes it with its last user', async () => {
    const directory = tempDir();
    const a = await openStore({ kind: 'embedded', directory });
    const b = await openStore({ kind: 'embedded', directory });
    await a.collection('blocks').insertOne({ id: 'x', key: 'x' });
    expect(await b.collection('blocks').count({})).to.equal(1);
    await a.close();
    expect(await b.collection('blocks').count({})).to.equal(1);
    await b.close();
    expect(() => b.collection('blocks')).to.throw(IpamError, /closed/);
  });
});

describe('embedded store: large counts in steps', () => {
  it('counts an interval of the unique key in steps exactly as one count would', async () => {
    const store = await openEmbeddedStore({ countStep: 7 });
    try {
      const keys = Array.from({ length: 100 }, (_, i) => `S|4|${(i * 37 % 1000).toString(16).padStart(8, '0')}`);
      await store.collection('addresses').insertMany(keys.map((key, i) => ({ id: `a${i}`, key, rangeId: i % 2 ? 'r1' : null })));
      const bounds: Record<string, string>[] = [{ $gte: 'S|4|00000000' }, { $gt: 'S|4|00000100', $lte: 'S|4|00000300' }, { $lt: 'S|4|000002ff' }, { $gte: 'S|4|000003e0' }];
      for (const bound of bounds) {
        const expected = keys.filter((k) => (!bound.$gte || k >= bound.$gte) && (!bound.$gt || k > bound.$gt) && (!bound.$lt || k < bound.$lt) && (!bound.$lte || k <= bound.$lte)).length;
        expect(await store.collection('addresses').count({ key: bound }), JSON.stringify(bound)).to.equal(expected);
      }
      expect(await store.collection('addresses').count({ rangeId: 'r1' }), 'no stepping field: counted in pages').to.equal(50);
      expect(await store.collection('addresses').count({}), 'the whole collection').to.equal(100);
    } finally {
      await store.close();
    }
  });

  it('stores of one process share their SQL, each with its own count step', async () => {
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: `a${i}`, key: `S|4|${i.toString(16).padStart(8, '0')}` }));
    const stepping = await openEmbeddedStore({ countStep: 7 });
    const plain = await openEmbeddedStore();
    try {
      for (const store of [stepping, plain]) await store.collection('addresses').insertMany(docs);
      // A filter shape no other test counts with: the first store here is the first to keep its SQL.
      const filter = { id: { $gte: 'a' }, key: { $gte: 'S|4|00000000', $lte: 'S|4|000000ff' } };
      expect(await stepping.collection('addresses').count(filter)).to.equal(50);
      expect(await plain.collection('addresses').count(filter), 'the other store, after the first kept its SQL').to.equal(50);
    } finally {
      await stepping.close();
      await plain.close();
    }
  });
});
