/**
 * The SQLite translation reads sorted pages straight off the indexes: no query the core runs in a loop
 * (export pages, "next keys from here", expiry scans) may sort all its matches first.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import fc from 'fast-check';
import { indexDdl } from '../../../lib/store/embedded';
import type { Filter } from '../../../lib/store/port';
import { INDEXES } from '../../../lib/store/schema';
import { parametersOf, shapeOf, tableDdl, translate } from '../../../lib/store/sqlite-query';

describe('SQLite query plans', () => {
  const db = new Database(':memory:');
  db.exec(tableDdl('addresses'));
  for (const index of INDEXES.addresses) db.exec(indexDdl('addresses', index));
  const indexed = new Set(INDEXES.addresses.map((index) => index.field));
  const plan = (filter: Filter, sort?: Record<string, 1 | -1>) => {
    const { where, order, params } = translate(filter, sort, indexed);
    const rows = db.prepare(`EXPLAIN QUERY PLAN SELECT id, doc FROM "addresses" WHERE ${where}${order} LIMIT 1000`).all(params);
    return (rows as { detail: string }[]).map((row) => row.detail).join('; ');
  };

  const cases: [string, Filter, Record<string, 1 | -1> | undefined, string][] = [
    ['an export page', { key: { $gt: 'D|4|0a000000' } }, { key: 1 }, 'addresses__key'],
    ['a window read backwards', { key: { $gte: 'D|4|0a000000', $lte: 'D|4|0a0000ff' } }, { key: -1 }, 'addresses__key'],
    ['a whole-collection page', {}, { key: 1 }, 'addresses__key'],
    ['an expiry scan', { expiryDate: { $lte: '2030-01-01' } }, { expiryDate: 1 }, 'addresses__expiryDate'],
    ['a range member lookup', { rangeId: 'r1' }, undefined, 'addresses__rangeId'],
    ['an expired-hold lookup', { holdUntil: { $lte: '2030-01-01T00:00:00.000Z' } }, { holdUntil: 1 }, 'addresses__holdUntil'],
    ["a range's expired holds", { rangeId: 'r1', holdUntil: { $lte: '2030-01-01T00:00:00.000Z' } }, { holdUntil: 1 }, 'addresses__holdUntil'],
    // A requestId replay reads the requests collection and then its addresses by id (lib/space/requests.ts
    // addressesByRequest): addresses no longer have a requestKey index since idempotency moved there.
    ['a requestId replay', { id: { $in: ['a', 'b'] } }, undefined, 'sqlite_autoindex_addresses_1'],
  ];
  for (const [name, filter, sort, index] of cases) {
    it(`${name} uses ${index} and no sort of its own`, () => {
      const text = plan(filter, sort);
      expect(text).to.contain(index);
      expect(text).not.to.contain('TEMP B-TREE');
    });
  }
});

/**
 * The embedded store keeps the SQL of each filter shape and takes a later filter's values with parametersOf:
 * filters of one shape must translate to one SQL text, and parametersOf must give every parameter it binds.
 */
describe('SQL per filter shape', () => {
  const indexed = new Set(INDEXES.addresses.map((index) => index.field));
  const scalar = fc.oneof(fc.constant(null), fc.string({ maxLength: 3 }), fc.integer({ min: -3, max: 3 }), fc.double({ noNaN: true }), fc.boolean());
  const fields = fc.constantFrom('id', 'key', 'rangeId', 'n', 'sub.a', 'tag', 'we"ird', 'a{"$eq"s}', '$bad', 'x..y');
  const operand = fc.oneof(
    scalar,
    fc.record({ $ne: scalar }),
    fc.record({ $in: fc.array(scalar, { maxLength: 4 }) }),
    fc.record({ $exists: fc.boolean() }),
    fc.record({ $gte: scalar, $lt: scalar }, { requiredKeys: [] }),
    fc.record({ $gt: scalar }),
  );
  const filterArb = fc.dictionary(fields, operand, { maxKeys: 3 }) as fc.Arbitrary<Filter>;
  const sortArb = fc.option(fc.dictionary(fields, fc.constantFrom(1 as const, -1 as const), { maxKeys: 2 }), { nil: undefined });
  const attempt = <T>(work: () => T): T | Error => {
    try {
      return work();
    } catch (err) {
      return err as Error;
    }
  };

  /** The same filter with other values of the same kinds (what a later call of the same query passes). */
  function revalued(filter: Filter, next: () => number): Filter {
    const other = (value: unknown): unknown => {
      if (typeof value === 'string') return `${value}~${next()}`;
      if (typeof value === 'number') return value + next() + 0.5;
      if (Array.isArray(value)) return value.map(other);
      if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, other(v)]));
      return value;
    };
    return other(filter) as Filter;
  }

  it('gives every parameter the translation binds, with the value it binds', () => {
    fc.assert(
      fc.property(filterArb, sortArb, (filter, sort) => {
        const translated = attempt(() => translate(filter, sort, indexed));
        if (translated instanceof Error) return;
        const params = parametersOf(filter, sort, indexed);
        for (const [name, value] of Object.entries(translated.params)) expect(params, name).to.have.property(name).that.deep.equals(value);
      }),
      { seed: 20261202, numRuns: 500 },
    );
  });

  it('translates two filters of one shape to the same SQL, and the SQL runs with the second filter\'s parameters', () => {
    const db = new Database(':memory:');
    db.exec(tableDdl('addresses'));
    fc.assert(
      fc.property(filterArb, sortArb, fc.integer({ min: 1, max: 1000 }), (filter, sort, seed) => {
        let n = seed;
        const again = revalued(filter, () => n++);
        expect(shapeOf(again, sort)).to.equal(shapeOf(filter, sort));
        const first = attempt(() => translate(filter, sort, indexed));
        const second = attempt(() => translate(again, sort, indexed));
        if (first instanceof Error || second instanceof Error) {
          expect(second instanceof Error, 'both or neither refused').to.equal(first instanceof Error);
          return;
        }
        expect([second.where, second.order]).to.deep.equal([first.where, first.order]);
        db.prepare(`SELECT id FROM "addresses" WHERE ${first.where}${first.order}`).all(parametersOf(again, sort, indexed));
      }),
      { seed: 20261202, numRuns: 500 },
    );
  });

  it('tells apart filters whose SQL differs: operand kinds, a boolean\'s value, $in lengths, field names', () => {
    const shapes = [
      { n: 1 },
      { n: '1' },
      { n: null },
      { n: true },
      { n: false },
      { n: { $in: ['a'] } },
      { n: { $in: ['a', 'b'] } },
      { n: { $in: [1, 'b'] } },
      { m: 1 },
      { n: 1, m: 1 },
      { m: 1, n: 1 },
      { n: { $exists: true } },
      { n: { $exists: false } },
    ].map((filter) => shapeOf(filter as Filter));
    expect(new Set(shapes).size).to.equal(shapes.length);
    expect(shapeOf({ n: 1 }, { n: 1 })).not.to.equal(shapeOf({ n: 1 }, { n: -1 }));
  });

  it('tests a field known to hold scalars without the any-element-of-an-array case', () => {
    const filter: Filter = { managedByService: 'IPAM', serviceInstance: { $ne: null }, endKey: { $gte: 'D|4|0a000000' } };
    expect(translate(filter, { endKey: 1 }, new Set(['managedByService', 'serviceInstance', 'endKey'])).where).not.to.contain('json_each');
    expect(translate(filter, { endKey: 1 }, new Set()).where).to.contain('json_each');
  });

  it('keeps hostile operands apart: a hole in $in, a sort direction given as text, a function', () => {
    const indexedSet = new Set(INDEXES.addresses.map((index) => index.field));
    // eslint-disable-next-line no-sparse-arrays
    const sparse = { n: { $in: [, 'x'] } } as unknown as Filter;
    expect(shapeOf(sparse)).not.to.equal(shapeOf({ n: { $in: ['x'] } }));
    const db = new Database(':memory:');
    db.exec(tableDdl('addresses'));
    for (const filter of [sparse, { n: { $in: ['x'] } } as Filter]) {
      const { where } = translate(filter, undefined, indexedSet);
      db.prepare(`SELECT id FROM "addresses" WHERE ${where}`).all(parametersOf(filter, undefined, indexedSet));
    }
    expect(shapeOf({}, { n: '-1' } as unknown as Record<string, 1>)).to.equal(shapeOf({}, { n: 1 }));
    expect(shapeOf({ n: { $gt: () => 1 } } as unknown as Filter)).not.to.equal(shapeOf({ n: { $gt: {} } } as unknown as Filter));
  });
});
