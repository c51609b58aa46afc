/** Embedded store internals that the contract and semantics suites cannot see. */
import { expect } from 'chai';
import fc from 'fast-check';
import { storedText } from '../../../lib/store/embedded';
import type { Doc } from '../../../lib/store/port';

describe('embedded store: the stored text of a document', () => {
  it('is the JSON of the document without its id, whatever the order and names of its fields', () => {
    const key = fc.oneof(fc.constantFrom('id', 'key', '0', '12', '__proto__', 'a"b', 'é'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(
        fc.string({ maxLength: 8 }),
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
