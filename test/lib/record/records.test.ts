/** toRecord: the one place a stored document becomes what a user sees. */
import { expect } from 'chai';
import fc from 'fast-check';
import { INTERNAL_FIELDS, toRecord } from '../../../lib/record';
import type { Doc } from '../../../lib/store';

describe('toRecord', () => {
  it('drops the internal fields and a stored expiryStatus, keeps every other field as it is, and leaves the document alone', () => {
    const field = fc.oneof(fc.constantFrom(...INTERNAL_FIELDS, 'expiryStatus', 'address', 'deviceName', '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.dictionary(field, fc.jsonValue(), { maxKeys: 12 }), (fields) => {
        // JSON.parse makes `__proto__` an own field, as a document read from the store would have it.
        const doc = JSON.parse(JSON.stringify({ id: 'a1', ...fields })) as Doc;
        const before = JSON.stringify(doc);
        const record = toRecord(doc, { now: new Date('2026-12-02T00:00:00Z') }) as Record<string, unknown>;
        const kept = Object.keys(doc).filter((key) => !INTERNAL_FIELDS.includes(key) && key !== 'expiryStatus');
        expect(Object.keys(record)).to.deep.equal(kept);
        for (const key of kept) expect(Object.getOwnPropertyDescriptor(record, key)?.value).to.deep.equal(doc[key]);
        expect(Object.getPrototypeOf(record)).to.equal(Object.prototype);
        expect(JSON.stringify(doc)).to.equal(before);
      }),
      { seed: 20261202, numRuns: 300 },
    );
  });

  it('derives expiryStatus from expiryDate, the threshold and the time of the read', () => {
    const doc = { id: 'a1', address: '10.0.0.1', key: 'Default|4|0a000001', expiryDate: '2026-12-05T00:00:00.000Z', expiryStatus: 'stale' } as Doc;
    expect(toRecord(doc, { now: new Date('2026-11-01T00:00:00Z'), expiryThresholdDays: 10 })).to.deep.equal({
      id: 'a1',
      address: '10.0.0.1',
      expiryDate: '2026-12-05T00:00:00.000Z',
      expiryStatus: 'Not expired',
    });
    expect(toRecord(doc, { now: new Date('2026-12-01T00:00:00Z'), expiryThresholdDays: 10 })).to.include({ expiryStatus: 'Expiry Due' });
    expect(toRecord(doc, { now: new Date('2026-12-06T00:00:00Z') })).to.include({ expiryStatus: 'Expired' });
  });
});
