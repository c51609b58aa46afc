/**
 * The SQLite translation reads sorted pages straight off the indexes: no query the core runs in a loop
 * (export pages, "next keys from here", expiry scans) may sort all its matches first.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { indexDdl } from '../../../lib/store/embedded';
import type { Filter } from '../../../lib/store/port';
import { INDEXES } from '../../../lib/store/schema';
import { tableDdl, translate } from '../../../lib/store/sqlite-query';

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
