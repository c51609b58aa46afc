/** Embedded store internals that the contract and semantics suites cannot see. */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import fc from 'fast-check';
import { openEmbeddedStore, storedText } from '../../../lib/store/embedded';
import type { IpamError } from '../../../lib/errors';
import type { Doc } from '../../../lib/store/port';
import { SCALARS } from '../../../lib/store/schema';

describe('embedded store: the stored text of a document', () => {
  it('is the JSON of the document without its id, whatever the order and names of its fields', () => {
    const key = fc.oneof(fc.constantFrom('id', 'key', '0', '12', '__proto__', 'a"b', 'é'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(
        // Ids JSON escapes (quotes, backslashes, control characters, lone surrogates) or that look like the text after an id.
        fc.oneof(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8, unit: 'binary' }), fc.constantFrom('', '"', 'a"', 'a\\', '\\"', '\u0000', '\ud800', '"}', '",', '"",', '}')),
        fc.dictionary(key, fc.oneof(fc.jsonValue(), fc.constant(undefined)), { maxKeys: 6 }),
        fc.boolean(),
        (id, fields, idFirst) => {
          const parsed = JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
          delete parsed.id;
          const doc = (idFirst ? { id, ...parsed } : { ...parsed, id }) as Doc;
          // Members set to undefined are left out of the JSON, on both sides.
          for (const [key, value] of Object.entries(fields)) if (value === undefined && key !== 'id' && key !== '__proto__') doc[key] = undefined;
          const { id: _id, ...rest } = doc;
          expect(storedText(doc)).to.equal(JSON.stringify(rest));
          expect(JSON.parse(storedText(doc))).to.deep.equal(JSON.parse(JSON.stringify(rest)));
        },
      ),
      { seed: 20261202, numRuns: 500 },
    );
  });
});

describe('embedded store: values', () => {
  it('reads a window of keys off the key index alone (a covering index), without the documents', async () => {
    const store = await openEmbeddedStore();
    const run: { sql: string; params: unknown }[] = [];
    const prepare = Database.prototype.prepare;
    try {
      const addresses = store.collection('addresses');
      for (let i = 0; i < 20; i++) await addresses.insertOne({ id: `a${i}`, key: `k${String(i).padStart(2, '0')}`, deviceName: 'x'.repeat(500) });
      Database.prototype.prepare = function (this: Database.Database, sql: string) {
        const statement = prepare.call(this, sql) as Database.Statement;
        const all = statement.all.bind(statement);
        statement.all = ((params: unknown) => (run.push({ sql, params }), all(params))) as typeof statement.all;
        return statement;
      } as typeof prepare;
      expect(await addresses.values('key', { key: { $gte: 'k05', $lte: 'k09' } }, { limit: 3, order: -1 })).to.deep.equal(['k09', 'k08', 'k07']);
      Database.prototype.prepare = prepare;
      expect(run).to.have.length(1);
      const db = (store as unknown as { db: Database.Database }).db;
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${run[0].sql}`).all(run[0].params as object) as { detail: string }[]).map((row) => row.detail);
      expect(plan.join('\n')).to.match(/USING COVERING INDEX addresses__key/);
    } finally {
      Database.prototype.prepare = prepare;
      await store.close();
    }
  });
});

describe('embedded store: scalar fields', () => {
  it('refuses an array or object in a field schema.ts declares scalar, on insert and on update, and writes nothing', async () => {
    const store = await openEmbeddedStore();
    try {
      const ranges = store.collection('ranges');
      expect(SCALARS.ranges).to.include('managedByService');
      const refused = (work: Promise<unknown>) => work.then(() => undefined, (err: IpamError) => err);
      const inserted = await refused(ranges.insertOne({ id: 'r1', key: 'k1', managedByService: ['IPAM', 'MS DHCP'] }));
      expect(inserted).to.include({ code: 'VALIDATION', field: 'managedByService' });
      expect(await ranges.count({})).to.equal(0);
      await ranges.insertOne({ id: 'r1', key: 'k1', managedByService: 'IPAM' });
      const updated = await refused(ranges.updateOne({ id: 'r1' }, { $set: { managedByService: { name: 'IPAM' } } }));
      expect(updated).to.include({ code: 'VALIDATION', field: 'managedByService' });
      expect(await ranges.findOne({ id: 'r1' })).to.deep.equal({ id: 'r1', key: 'k1', managedByService: 'IPAM' });
      // A field not declared scalar may still hold an array, with MongoDB's any-element matching.
      await ranges.insertOne({ id: 'r2', key: 'k2', tags: ['a', 'b'] });
      expect((await ranges.find({ tags: 'b' })).map((doc) => doc.id)).to.deep.equal(['r2']);
    } finally {
      await store.close();
    }
  });
});
