/**
 * The port's query and update semantics (port.ts, "Semantics"), checked on every available adapter against
 * mingo, an independent implementation of MongoDB's query language, on generated documents, filters and
 * updates (fast-check, fixed seed): null versus missing, $ne/$in/$exists on missing fields, arrays, dotted
 * paths, mixed-type comparisons and sort order, $set/$unset/$inc/$min.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Query, updateMany, updateOne } from 'mingo';
import type { IpamError } from '../../../lib/errors';
import type { Doc, Filter, Scalar, Store, Update } from '../../../lib/store/port';
import { availableStores, mongoSkipReason, NEEDS_MONGOD } from '../../support/stores';

const SEED = 20261201;
const RUNS = 60;

const scalar = fc.oneof(
  fc.constant(null),
  fc.constantFrom('', 'a', 'ab', 'B', '10', '2'),
  fc.constantFrom(-1, 0, 1, 2, 2.5, 10),
  fc.boolean(),
);
/** A value that may be missing (undefined drops the field). */
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 4 });

const docArb = fc.record(
  {
    rangeId: maybe(scalar), // indexed
    expiryDate: maybe(scalar), // indexed, sparse
    n: maybe(scalar),
    tag: maybe(fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }))),
    sub: maybe(fc.oneof(fc.record({ a: maybe(scalar), b: maybe(scalar) }, { requiredKeys: [] }), scalar)),
    cnt: maybe(fc.integer({ min: -5, max: 5 })),
    // Not indexed, but a scalar field (schema.ts SCALARS): never an array.
    addressSpace: maybe(scalar),
  },
  { requiredKeys: [] },
);
const docsArb = fc.array(docArb, { maxLength: 25 });

const FILTER_FIELDS = ['rangeId', 'expiryDate', 'n', 'tag', 'sub.a', 'sub', 'id', 'cnt', 'addressSpace'];
/** Range bounds are never null (the port refuses one). */
const bound = scalar.filter((v) => v !== null);
const conditionArb: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.record({ $ne: scalar }),
  fc.record({ $in: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
  fc.record({ $exists: fc.boolean() }),
  fc.record({ $gt: bound }),
  fc.record({ $gte: bound }),
  fc.record({ $lt: bound }),
  fc.record({ $lte: bound }),
  fc.record({ $gte: bound, $lt: bound }),
  fc.record({ $ne: scalar, $exists: fc.boolean() }),
);
const filterArb = fc.dictionary(fc.constantFrom(...FILTER_FIELDS), conditionArb, { maxKeys: 2 }) as fc.Arbitrary<Filter>;
const SORT_FIELDS = ['rangeId', 'n', 'sub.a', 'expiryDate', 'addressSpace'];
const sortArb = fc.record({ field: fc.constantFrom(...SORT_FIELDS), direction: fc.constantFrom(1 as const, -1 as const) });

const updateArb = fc.record(
  {
    $set: fc.dictionary(fc.constantFrom('n', 'rangeId', 'tag', 'fresh', 'sub2.x'), scalar, { maxKeys: 2 }),
    $unset: fc.dictionary(fc.constantFrom('tag', 'expiryDate', 'sub.b'), fc.constant(true as const), { maxKeys: 1 }),
    $inc: fc.dictionary(fc.constant('cnt'), fc.integer({ min: -3, max: 3 }), { maxKeys: 1 }),
    $min: fc.dictionary(fc.constant('sub2.m'), scalar, { maxKeys: 1 }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Update>;

function withIds(docs: Record<string, unknown>[]): Doc[] {
  // JSON round trip: a field set to undefined is no field (as the stores keep it).
  return docs.map((doc, i) => ({ id: `d${String(i).padStart(3, '0')}`, key: `k${i}`, ...JSON.parse(JSON.stringify(doc)) }) as Doc);
}

/** mingo spells `$unset` with "" values; otherwise the port's update is MongoDB's. */
function forMingo(update: Update): Record<string, unknown> {
  const out: Record<string, unknown> = { ...update };
  if (update.$unset) out.$unset = Object.fromEntries(Object.keys(update.$unset).map((k) => [k, '']));
  return Object.fromEntries(Object.entries(out).filter(([, v]) => Object.keys(v as object).length > 0));
}

function ids(docs: Doc[]): string[] {
  return docs.map((d) => d.id).sort();
}

function valueAt(doc: Record<string, unknown>, path: string): unknown {
  let value: unknown = doc;
  for (const segment of path.split('.')) {
    value = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[segment] : undefined;
  }
  return value ?? null;
}

for (const factory of availableStores()) {
  describe(`store semantics against mingo: ${factory.name}`, function () {
    this.timeout(120_000);
    let store: Store;
    before(async function () {
      // A suite-level hook runs before the per-test skip (test/support/mongo-hooks.ts): skip here too.
      const reason = factory.name.includes(NEEDS_MONGOD) ? mongoSkipReason() : undefined;
      if (reason !== undefined) {
        for (const test of this.test?.parent?.tests ?? []) (test as Mocha.Test & { skipReason?: string }).skipReason = reason;
        this.skip();
      }
      store = await factory.open();
    });
    after(async () => {
      await store?.close();
      await factory.shutdown?.();
    });
    const rows = () => store.collection('addresses');

    async function load(docs: Doc[]): Promise<void> {
      await rows().deleteMany({});
      const result = await rows().insertMany(docs);
      expect(result.failures).to.deep.equal([]);
    }

    it('find and count select what MongoDB selects', async () => {
      await fc.assert(
        fc.asyncProperty(docsArb, fc.array(filterArb, { minLength: 1, maxLength: 4 }), async (raw, filters) => {
          const docs = withIds(raw);
          await load(docs);
          for (const filter of filters) {
            const expected = new Query(filter as Record<string, unknown>).find<Doc>(docs).all();
            const context = JSON.stringify(filter);
            expect(ids(await rows().find(filter)), context).to.deep.equal(ids(expected));
            expect(await rows().count(filter), context).to.equal(expected.length);
          }
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });

    it('sort orders mixed types as MongoDB does, with skip and limit', async () => {
      await fc.assert(
        fc.asyncProperty(docsArb, sortArb, fc.nat(3), fc.integer({ min: 1, max: 30 }), async (raw, { field, direction }, skip, limit) => {
          const docs = withIds(raw.map((d) => ({ ...d, tag: undefined })));
          await load(docs);
          const expected = new Query({}).find<Doc>(docs).sort({ [field]: direction }).skip(skip).limit(limit).all();
          const got = await rows().find({}, { sort: { [field]: direction }, skip, limit });
          // Ties may come in either order: compare the sequence of sort values.
          const context = JSON.stringify({ field, direction, skip, limit });
          expect(got.map((d) => valueAt(d, field)), context).to.deep.equal(expected.map((d) => valueAt(d, field)));
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });

    it('values reads an indexed field in the order MongoDB sorts it, filtered and limited, missing and null as null', async () => {
      await fc.assert(
        fc.asyncProperty(
          docsArb,
          filterArb,
          fc.constantFrom('rangeId', 'expiryDate', 'key'),
          fc.constantFrom(1 as const, -1 as const),
          fc.integer({ min: 1, max: 30 }),
          async (raw, filter, field, order, limit) => {
            const docs = withIds(raw);
            await load(docs);
            const expected = new Query(filter as Record<string, unknown>).find<Doc>(docs).sort({ [field]: order }).limit(limit).all();
            const context = JSON.stringify({ filter, field, order, limit });
            // Ties come in any order, but as values they read the same.
            expect(await rows().values(field, filter, { limit, order }), context).to.deep.equal(expected.map((d) => d[field] ?? null));
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
    });

    it('values refuses a field without an index and a limit outside 1 to 10,000', async () => {
      for (const [field, limit] of [['n', 5], ['id', 5], ['rangeId', 0], ['rangeId', 1.5], ['rangeId', 10_001], ['rangeId', 1e21]] as const) {
        const err = await rows()
          .values(field, {}, { limit })
          .then(() => undefined, (e: Error) => e);
        expect(err?.message, `${field} ${limit}`).to.match(/^values: /);
      }
    });

    it('updateMany with $set/$unset/$inc/$min leaves the documents MongoDB would', async () => {
      await fc.assert(
        fc.asyncProperty(docsArb, filterArb, updateArb, async (raw, filter, update) => {
          // Dotted $set/$min targets a subdocument that is missing or an object (a scalar there is an error on MongoDB).
          fc.pre(!(update.$set && update.$unset && Object.keys(update.$set).some((k) => k in update.$unset!)));
          const docs = withIds(raw);
          await load(docs);
          const expected = structuredClone(docs);
          const mingoUpdate = forMingo(update);
          const matched = Object.keys(mingoUpdate).length === 0 ? 0 : updateMany(expected, filter as Record<string, unknown>, mingoUpdate as never).matchedCount;
          if (Object.keys(mingoUpdate).length === 0) return;
          const count = await rows().updateMany(filter, update);
          const context = JSON.stringify({ filter, update });
          expect(count, context).to.equal(matched);
          const stored = await rows().find({}, { sort: { id: 1 } });
          expect(stored, context).to.deep.equal(expected.sort((a, b) => (a.id < b.id ? -1 : 1)));
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });

    it('updateOne by id with $inc counts as MongoDB does, and refuses a value that is not a number', async () => {
      // The embedded store increments an integer in one statement and leaves every other case to its general path.
      const counted = fc.oneof(
        fc.integer({ min: -5, max: 5 }),
        fc.constantFrom(2.5, -0.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, -Number.MAX_SAFE_INTEGER),
        fc.constantFrom('3', '', null, true, [1], { a: 1 }),
      );
      const byArb = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(1.5, Number.MAX_SAFE_INTEGER));
      await fc.assert(
        fc.asyncProperty(fc.array(fc.record({ cnt: maybe(counted), n: maybe(scalar) }, { requiredKeys: [] }), { minLength: 1, maxLength: 4 }), fc.nat(4), byArb, async (raw, pick, by) => {
          const docs = withIds(raw);
          await load(docs);
          const id = `d${String(pick).padStart(3, '0')}`; // sometimes no such document
          const context = JSON.stringify({ docs, id, by });
          const current = docs.find((doc) => doc.id === id)?.cnt;
          if (current !== undefined && typeof current !== 'number') {
            const err = await rows().updateOne({ id }, { $inc: { cnt: by } }).then(() => undefined, (e: IpamError) => e);
            expect(err?.code, context).to.equal('VALIDATION');
            expect(err?.message, context).to.match(/cnt/);
            expect(await rows().find({}, { sort: { id: 1 } }), context).to.deep.equal(docs);
            return;
          }
          const expected = structuredClone(docs);
          const matched = updateOne(expected, { id }, { $inc: { cnt: by } }).matchedCount;
          expect(await rows().updateOne({ id }, { $inc: { cnt: by } }), context).to.equal(matched === 1);
          expect(await rows().find({}, { sort: { id: 1 } }), context).to.deep.equal(expected);
        }),
        { seed: SEED, numRuns: RUNS * 2 },
      );
    });

    it('null and missing: a few fixed cases stated plainly', async () => {
      const docs = withIds([{ n: null }, {}, { n: 1 }, { n: [null, 2] }, { n: [] }]);
      await load(docs);
      const select = async (filter: Filter) => ids(await rows().find(filter));
      expect(await select({ n: null })).to.deep.equal(['d000', 'd001', 'd003']);
      expect(await select({ n: { $ne: null } })).to.deep.equal(['d002', 'd004']);
      expect(await select({ n: { $exists: false } })).to.deep.equal(['d001']);
      expect(await select({ n: { $in: [null, 1] } })).to.deep.equal(['d000', 'd001', 'd002', 'd003']);
      expect(await select({ n: { $gte: 2 } })).to.deep.equal(['d003']);
      expect(await select({ n: { $lt: 'z' } as Record<string, Scalar> })).to.deep.equal([]);
    });
  });
}
