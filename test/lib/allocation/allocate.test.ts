/**
 * Find, allocate and release (issue 3) on every available store: concurrency, idempotency, skipping,
 * full ranges, explicit addresses, and that `find` writes nothing.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { addressKey, parseAddress } from '../../../lib/address';
import type { AllocatedRecord } from '../../../lib/allocation/allocate';
import { buildAddress, type AddressDoc } from '../../../lib/space';
import { IpamError } from '../../../lib/errors';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { localState, type Doc, type Store } from '../../../lib/store';
import { availableStores } from '../../support/stores';
import { failure } from '../../support/failure';

function sortedAddresses(records: { address: string }[]): string[] {
  return records
    .map((r) => r.address)
    .sort((a, b) => {
      const [x, y] = [parseAddress(a).value, parseAddress(b).value];
      return x < y ? -1 : x > y ? 1 : 0;
    });
}

/** Everything in the store, for "writes nothing" comparisons. */
async function snapshot(store: Store): Promise<string> {
  const all: Record<string, Doc[]> = {};
  for (const name of ['blocks', 'ranges', 'addresses', 'locks'] as const) {
    all[name] = await store.collection(name).find({}, { sort: { id: 1 } });
  }
  return JSON.stringify(all);
}

for (const factory of availableStores()) {
  describe(`allocation: ${factory.name}`, () => {
    let store: Store;
    let ipam: Ipam;
    beforeEach(async () => {
      store = await factory.open();
      ipam = Ipam.over(store);
    });
    afterEach(() => ipam.close());
    after(async () => factory.shutdown?.());

    const allocate = (payload: unknown) => ipam.perform('address', 'allocate', payload) as Promise<AllocatedRecord>;
    const allocateMany = (payload: unknown) => ipam.perform('address', 'allocate', payload) as Promise<AllocatedRecord[]>;
    const find = (payload: unknown) => ipam.perform('address', 'find', payload) as Promise<string[]>;
    const release = (payload: unknown) => ipam.perform('address', 'release', payload) as Promise<{ released: AddressRecord[] }>;
    const addRange = (payload: unknown) => ipam.perform('range', 'add', payload) as Promise<RangeRecord>;
    const stored = () => store.collection<AddressDoc>('addresses').find({}, { sort: { key: 1 } });

    /** Bulk-inserts address records of `range` at the given addresses, without going through allocation. */
    async function fill(range: RangeRecord, addresses: string[], extra: Record<string, unknown> = {}): Promise<void> {
      const docs: AddressDoc[] = [];
      for (const address of addresses) {
        docs.push(await buildAddress(ipam, { address, addressSpace: range.addressSpace, managedByService: range.managedByService, serviceInstance: range.serviceInstance, ...extra }));
      }
      const result = await store.collection<AddressDoc>('addresses').insertMany(docs);
      expect(result.failures).to.deep.equal([]);
    }

    describe('allocate', () => {
      it('gives the first free address, mapped to the range, and says which checks ran', async () => {
        const range = await addRange({ network: '10.1.0.0/24' });
        const first = await allocate({ range: range.id, deviceName: 'web1' });
        expect(first).to.include({ address: '10.1.0.1', rangeId: range.id, deviceName: 'web1', addressSpace: 'Default' });
        expect(first.checks).to.deep.equal(['store', 'reservations', 'exclusions']);
        expect(first).to.not.have.property('key');
        expect(first).to.not.have.property('requestKey');
        const second = await allocate({ range: '10.1.0.0/24' });
        expect(second.address).to.equal('10.1.0.2');
      });

      it('200 concurrent allocations on one range give 200 distinct addresses', async () => {
        const range = await addRange({ network: '10.2.0.0/24' });
        const results = await Promise.all(Array.from({ length: 200 }, (_, i) => allocate({ range: range.id, deviceName: `h${i}` })));
        const addresses = new Set(results.map((r) => r.address));
        expect(addresses.size).to.equal(200);
        const docs = await stored();
        expect(docs).to.have.length(200);
        expect(sortedAddresses(docs)).to.deep.equal(Array.from({ length: 200 }, (_, i) => `10.2.0.${i + 1}`));
      });

      it('200 concurrent allocations split across two Ipam instances over the same store are distinct', async () => {
        const other = Ipam.over(store);
        const range = await addRange({ network: '10.3.0.0/24' });
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => (i % 2 ? ipam : other).perform('address', 'allocate', { range: range.id })),
        );
        expect(new Set((results as AddressRecord[]).map((r) => r.address)).size).to.equal(200);
        expect(await stored()).to.have.length(200);
      });

      it('a collision on the unique key (another writer won) moves on to the next free address', async () => {
        const range = await addRange({ network: '10.4.0.0/24' });
        // Another process takes 10.4.0.1 between our read of the free window and our insert.
        const racing = racingStore(store, async () => {
          await store.collection<AddressDoc>('addresses').insertOne(
            await buildAddress(ipam, { address: '10.4.0.1', deviceName: 'other-process' }),
          );
        });
        const result = (await Ipam.over(racing.store).perform('address', 'allocate', { range: range.id })) as AddressRecord;
        expect(result.address).to.equal('10.4.0.2');
        expect(sortedAddresses(await stored())).to.deep.equal(['10.4.0.1', '10.4.0.2']);
        // The first batch (10.4.0.1) collided and wrote nothing; the second wrote 10.4.0.2.
        expect(racing.batches()).to.equal(2);
      });

      it('free addresses kept from an earlier read, taken by another writer since, cost one collision and then a fresh read', async () => {
        const range = await addRange({ network: '10.4.1.0/24' });
        // `counting` is this process (its own kept free addresses); `store` used directly is another process.
        const { counting, allocateMine } = processOver(store, range);
        expect(await allocateMine()).to.equal('10.4.1.1');
        for (const address of ['10.4.1.2', '10.4.1.3']) {
          await store.collection<AddressDoc>('addresses').insertOne(await buildAddress(ipam, { address, deviceName: 'other-process' }));
        }
        let before = counting.batches();
        expect(await allocateMine()).to.equal('10.4.1.4');
        // 10.4.1.2 collided and wrote nothing; 10.4.1.3 was not tried: the collision dropped what was kept.
        expect(counting.batches() - before).to.equal(2);
        before = counting.batches();
        expect(await allocateMine()).to.equal('10.4.1.5');
        expect(counting.batches() - before).to.equal(1);
        expect(sortedAddresses(await stored())).to.deep.equal(['10.4.1.1', '10.4.1.2', '10.4.1.3', '10.4.1.4', '10.4.1.5']);
      });

      it('after a count the range cannot fill (RANGE_FULL), the free addresses it had picked are still found', async () => {
        const range = await addRange({ network: '10.4.2.0/29' });
        await allocateMany({ range: range.id, count: 4 });
        expect((await failure(allocateMany({ range: range.id, count: 3 }))).code).to.equal('RANGE_FULL');
        expect((await allocate({ range: range.id })).address).to.equal('10.4.2.5');
        expect((await allocate({ range: range.id })).address).to.equal('10.4.2.6');
        expect((await failure(allocate({ range: range.id }))).code).to.equal('RANGE_FULL');
      });

      it('an address freed behind the hint by another tool (no hint write) is found by the look from the range start', async () => {
        const range = await addRange({ network: '10.4.4.0/29' });
        await allocateMany({ range: range.id, count: 3 });
        await store.collection<AddressDoc>('addresses').deleteOne({ address: '10.4.4.2' });
        expect((await allocateMany({ range: range.id, count: 3 })).map((r) => r.address)).to.deep.equal(['10.4.4.4', '10.4.4.5', '10.4.4.6']);
        expect((await allocate({ range: range.id })).address).to.equal('10.4.4.2');
      });

      it('an allocation that lost to a concurrent one with the same requestId leaves its free address to the next', async () => {
        const range = await addRange({ network: '10.4.3.0/24' });
        const [first, second] = await Promise.all([allocate({ range: range.id, requestId: 'twice' }), allocate({ range: range.id, requestId: 'twice' })]);
        expect(first.address).to.equal('10.4.3.1');
        expect(second.address).to.equal('10.4.3.1');
        expect((await allocate({ range: range.id })).address).to.equal('10.4.3.2');
        expect((await allocate({ range: range.id })).address).to.equal('10.4.3.3');
      });

      it('an address one of three concurrent allocations let go unwritten is the next one handed out', async () => {
        const range = await addRange({ network: '10.4.5.0/24' });
        expect((await allocate({ range: range.id })).address).to.equal('10.4.5.1');
        // The second 'r' loses to the first and lets its address go; 's' is written meanwhile.
        const results = await Promise.all([
          allocate({ range: range.id, requestId: 'r' }),
          allocate({ range: range.id, requestId: 'r' }),
          allocate({ range: range.id, requestId: 's' }),
        ]);
        const handed = new Set(results.map((r) => r.address));
        expect(handed.size).to.equal(2);
        const free = ['10.4.5.2', '10.4.5.3', '10.4.5.4'].filter((address) => !handed.has(address));
        expect((await allocate({ range: range.id })).address).to.equal(free[0]);
        expect((await failure(allocate({ range: range.id, address: free[0] }))).code).to.equal('DUPLICATE');
      });

      it('after bursts of concurrent allocations, some losing same-requestId races, the next one is the lowest free address', async () => {
        const range = await addRange({ network: '10.4.7.0/24' });
        for (let burst = 0; burst < 6; burst++) {
          const results = await Promise.all(
            Array.from({ length: 24 }, (_, i) => allocate({ range: range.id, ...(i % 3 === 0 ? { requestId: `b${burst}-${i % 9}` } : {}) })),
          );
          // Sixteen without a requestId, and eight sharing three: 19 distinct addresses, each written once.
          expect(new Set(results.map((r) => r.address)).size).to.equal(19);
          const written = sortedAddresses(await stored());
          expect(written).to.have.length(burst * 20 + 19);
          const taken = new Set(written);
          let lowest = 1;
          while (taken.has(`10.4.7.${lowest}`)) lowest++;
          expect((await allocate({ range: range.id })).address).to.equal(`10.4.7.${lowest}`);
        }
      });

      it("an address this process adds inside the kept free addresses does not pause keeping them", async () => {
        const range = await addRange({ network: '10.4.8.0/24' });
        const { counting, mine, allocateMine } = processOver(store, range);
        expect(await allocateMine()).to.equal('10.4.8.1');
        await mine.perform('address', 'add', { address: '10.4.8.2' });
        const before = counting.batches();
        expect(await allocateMine()).to.equal('10.4.8.3');
        // Whether the add's key left the list or the collision was taken for this process's own, nothing pauses.
        expect(localState(counting.store).keepPaused.has(range.id)).to.equal(false);
        expect(counting.batches() - before).to.be.at.most(2);
      });

      it('count > 1 gives that many distinct addresses in one call', async () => {
        const range = await addRange({ network: '10.5.0.0/24' });
        await allocate({ range: range.id });
        const many = await allocateMany({ range: range.id, count: 3, description: 'batch' });
        expect(many.map((r) => r.address)).to.deep.equal(['10.5.0.2', '10.5.0.3', '10.5.0.4']);
        expect(many.every((r) => r.description === 'batch')).to.equal(true);
      });

      it('IPv6: allocates in a /64 from network+1', async () => {
        const range = await addRange({ network: '2001:db8:1::/64' });
        const one = await allocate({ range: range.id });
        const more = await allocateMany({ range: range.id, count: 2 });
        expect([one.address, ...more.map((r) => r.address)]).to.deep.equal(['2001:db8:1::1', '2001:db8:1::2', '2001:db8:1::3']);
      });

      it('uses the range service and instance, and refuses different ones', async () => {
        const range = await addRange({ network: '10.6.0.0/24', managedByService: 'Non-MS DHCP', serviceInstance: 'dhcp1' });
        const record = await allocate({ range: range.id });
        expect(record).to.include({ managedByService: 'Non-MS DHCP', serviceInstance: 'dhcp1', rangeId: range.id });
        const err = await failure(allocate({ range: range.id, serviceInstance: 'dhcp2' }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.field).to.equal('serviceInstance');
        expect(await stored()).to.have.length(1);
      });

      it('refuses unknown fields and a bad count before writing anything', async () => {
        const range = await addRange({ network: '10.7.0.0/24' });
        expect((await failure(allocate({ range: range.id, colour: 'red' }))).field).to.equal('colour');
        expect((await failure(allocate({ range: range.id, count: 0 }))).field).to.equal('count');
        expect((await failure(allocate({ range: range.id, count: 2.5 }))).field).to.equal('count');
        expect((await failure(allocate({}))).field).to.equal('range');
        expect((await failure(allocate({ range: 'no-such-id' }))).code).to.equal('NOT_FOUND');
        expect(await stored()).to.have.length(0);
      });
    });

    describe('an explicit address', () => {
      it('allocates exactly that one, DUPLICATE when taken, OUT_OF_RANGE outside', async () => {
        const range = await addRange({ network: '10.8.0.0/24', startAddress: '10.8.0.10', endAddress: '10.8.0.20' });
        const record = await allocate({ range: range.id, address: '10.8.0.15' });
        expect(record).to.include({ address: '10.8.0.15', rangeId: range.id });
        expect(record.checks).to.deep.equal(['store', 'reservations']);
        const taken = await failure(allocate({ range: range.id, address: '10.8.0.15' }));
        expect(taken).to.include({ code: 'DUPLICATE', field: 'address' });
        expect(taken.message).to.contain('10.8.0.15');
        const outside = await failure(allocate({ range: range.id, address: '10.8.0.21' }));
        expect(outside).to.include({ code: 'OUT_OF_RANGE', field: 'address', value: '10.8.0.21' });
        const otherFamily = await failure(allocate({ range: range.id, address: '2001:db8::1' }));
        expect(otherFamily.code).to.equal('OUT_OF_RANGE');
        const invalidText = await failure(allocate({ range: range.id, address: '10.8.0.300' }));
        expect(invalidText.code).to.equal('INVALID_ADDRESS');
        expect(await stored()).to.have.length(1);
      });
    });

    describe('idempotency (requestId)', () => {
      it('a repeated requestId returns the first address and allocates nothing new', async () => {
        const range = await addRange({ network: '10.9.0.0/24' });
        const first = await allocate({ range: range.id, requestId: 'job-1', deviceName: 'a' });
        const again = await allocate({ range: range.id, requestId: 'job-1', deviceName: 'a' });
        expect(again.id).to.equal(first.id);
        expect(again.address).to.equal(first.address);
        expect(again.requestId).to.equal('job-1');
        const other = await allocate({ range: range.id, requestId: 'job-2' });
        expect(other.address).to.not.equal(first.address);
        expect(await stored()).to.have.length(2);
      });

      it('the same requestId sent 20 times at once gives one address', async () => {
        const range = await addRange({ network: '10.10.0.0/24' });
        const results = await Promise.all(Array.from({ length: 20 }, () => allocate({ range: range.id, requestId: 'same' })));
        expect(new Set(results.map((r) => r.id)).size).to.equal(1);
        expect(new Set(results.map((r) => r.address)).size).to.equal(1);
        expect(await stored()).to.have.length(1);
      });

      it('the same requestId at once through two Ipam instances gives one address', async () => {
        const other = Ipam.over(store);
        const range = await addRange({ network: '10.11.0.0/24' });
        const results = (await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? ipam : other).perform('address', 'allocate', { range: range.id, requestId: 'r' })),
        )) as AddressRecord[];
        expect(new Set(results.map((r) => r.address)).size).to.equal(1);
        expect(await stored()).to.have.length(1);
      });

      it('count > 1 with a requestId: a repeat (sequential or concurrent) returns the same set', async () => {
        const range = await addRange({ network: '10.12.0.0/24' });
        const first = await allocateMany({ range: range.id, count: 3, requestId: 'batch' });
        const again = await allocateMany({ range: range.id, count: 3, requestId: 'batch' });
        expect(again.map((r) => r.id)).to.deep.equal(first.map((r) => r.id));
        const concurrent = await Promise.all(Array.from({ length: 5 }, () => allocateMany({ range: range.id, count: 4, requestId: 'batch-2' })));
        const sets = concurrent.map((records) => records.map((r) => r.address).join(','));
        expect(new Set(sets).size).to.equal(1);
        expect(new Set(concurrent[0].map((r) => r.address)).size).to.equal(4);
        expect(await stored()).to.have.length(7);
      });

      it('an explicit address with a requestId is idempotent too', async () => {
        const range = await addRange({ network: '10.13.0.0/24' });
        const first = await allocate({ range: range.id, address: '10.13.0.50', requestId: 'fixed' });
        const again = await allocate({ range: range.id, address: '10.13.0.50', requestId: 'fixed' });
        expect(again.id).to.equal(first.id);
      });
    });

    describe('availability: store, reservations, exclusions', () => {
      it('skips addresses with DHCP reservations (stored as address records)', async () => {
        const range = await addRange({ network: '10.14.0.0/24' });
        await fill(range, ['10.14.0.1', '10.14.0.2'], {
          assignmentType: 'Reserved',
          ipAddressState: 'Reserved',
          macAddress: '00:11:22:33:44:55',
          dhcpReservation: { serverName: 'kea1', scopeName: '10.14.0.0/24', name: 'printer' },
        });
        const record = await allocate({ range: range.id });
        expect(record.address).to.equal('10.14.0.3');
      });

      it('skips exclusion intervals, also when they follow each other', async () => {
        const range = await addRange({
          network: '10.15.0.0/24',
          exclusions: [
            { startAddress: '10.15.0.1', endAddress: '10.15.0.10' },
            { startAddress: '10.15.0.12', endAddress: '10.15.0.12' },
            { startAddress: '10.15.0.11', endAddress: '10.15.0.11' },
          ],
        });
        const records = await allocateMany({ range: range.id, count: 2 });
        expect(records.map((r) => r.address)).to.deep.equal(['10.15.0.13', '10.15.0.14']);
        expect(await find({ range: range.id, count: 2 })).to.deep.equal(['10.15.0.15', '10.15.0.16']);
      });

      it('finds the gaps of a densely filled range exactly (compared with a brute-force list)', async () => {
        const range = await addRange({
          network: '10.16.0.0/22',
          exclusions: [
            { startAddress: '10.16.1.0', endAddress: '10.16.1.99' },
            { startAddress: '10.16.3.250', endAddress: '10.16.3.254' },
          ],
        });
        const network = parseAddress('10.16.0.0').value;
        const excluded = (v: bigint) => (v >= network + 256n && v <= network + 355n) || v >= network + 1018n;
        let seed = 7;
        const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        const taken: bigint[] = [];
        for (let v = network + 1n; v <= network + 1022n; v++) {
          // A fully used stretch (skipped by counting), a dense one, then a sparse one.
          if (!excluded(v) && (v < network + 200n || (v < network + 600n ? random() < 0.98 : random() < 0.5))) taken.push(v);
        }
        const text = (v: bigint) => `10.16.${Number((v - network) >> 8n)}.${Number((v - network) & 255n)}`;
        await fill(range, taken.map(text));
        const free: string[] = [];
        const takenSet = new Set(taken);
        for (let v = network + 1n; v <= network + 1022n; v++) if (!excluded(v) && !takenSet.has(v)) free.push(text(v));
        const found = await find({ range: range.id, count: 40 });
        expect(found).to.deep.equal(free.slice(0, 40));
        const allocated: string[] = [];
        for (let i = 0; i < free.length; i++) allocated.push((await allocate({ range: range.id })).address);
        expect(allocated).to.deep.equal(free);
        expect((await failure(allocate({ range: range.id }))).code).to.equal('RANGE_FULL');
      });
      it('finds the first free addresses of any pattern of used and free runs (property, against a brute-force list)', async () => {
        // Through the whole allocation path; used runs wider than the embedded store's window (32) are counted and
        // halved (search.test.ts covers both windows on their own).
        const run = fc.record({ used: fc.boolean(), length: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 700 })) });
        let ranges = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(run, { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 50 }), async (runs, count) => {
            // A /21 of its own for every run, shrinking included: 32 per /16 from 10.100.0.0 on.
            const k = ranges++;
            const base = `10.${100 + (k >> 5)}.${(k & 31) * 8}.0`;
            const range = await addRange({ network: `${base}/21` });
            const network = parseAddress(base).value;
            const text = (v: bigint) => `10.${100 + (k >> 5)}.${(k & 31) * 8 + Number((v - network) >> 8n)}.${Number((v - network) & 255n)}`;
            const used: bigint[] = [];
            const free: string[] = [];
            let v = network + 1n;
            for (const { used: isUsed, length } of runs) {
              for (let i = 0; i < length && v < network + 2047n; i++, v++) (isUsed ? used.push(v) : free.push(text(v)));
            }
            for (; v < network + 2047n; v++) free.push(text(v));
            // Copies of one built record (fill builds each one: too slow for thousands per run).
            const template = await buildAddress(ipam, { address: text(network + 1n) });
            const docs = used.map((value) => ({ ...template, id: `${k}-${value}`, address: text(value), key: addressKey(range.addressSpace, 4, value) }));
            expect((await store.collection<AddressDoc>('addresses').insertMany(docs)).failures).to.deep.equal([]);
            if (free.length < count) expect((await failure(find({ range: range.id, count }))).code).to.equal('RANGE_FULL');
            else expect(await find({ range: range.id, count })).to.deep.equal(free.slice(0, count));
            if (free.length > 0) expect((await allocate({ range: range.id })).address).to.equal(free[0]);
          }),
          { seed: 20261202, numRuns: 40 },
        );
      });
    });

    describe('full ranges', () => {
      it('RANGE_FULL when nothing is left; a release makes the address available again', async () => {
        const range = await addRange({ network: '10.17.0.0/29' });
        const all = await allocateMany({ range: range.id, count: 6 });
        expect(sortedAddresses(all)).to.deep.equal(['10.17.0.1', '10.17.0.2', '10.17.0.3', '10.17.0.4', '10.17.0.5', '10.17.0.6']);
        const err = await failure(allocate({ range: range.id }));
        expect(err).to.include({ code: 'RANGE_FULL', field: 'range', value: '10.17.0.0/29' });
        expect(err.message).to.contain('10.17.0.0/29');
        expect((await failure(find({ range: range.id }))).code).to.equal('RANGE_FULL');
        await release({ addresses: ['10.17.0.4'] });
        expect((await allocate({ range: range.id })).address).to.equal('10.17.0.4');
      });

      it('count > 1 that does not fit writes nothing', async () => {
        const range = await addRange({ network: '10.18.0.0/29' });
        await allocateMany({ range: range.id, count: 3 });
        const before = await snapshot(store);
        const err = await failure(allocateMany({ range: range.id, count: 4, requestId: 'too-many' }));
        expect(err.code).to.equal('RANGE_FULL');
        expect(err.message).to.contain('only 3 of 4');
        expect((await stored()).map((d) => d.address)).to.have.length(3);
        // The rollback bumps the range's internal hint version (it freed addresses); nothing else differs.
        const withoutVersion = (text: string) => text.replace(/"hintVersion":\d+/g, '');
        expect(withoutVersion(await snapshot(store))).to.equal(withoutVersion(before));
      });

      it('200 concurrent allocations on a range of 150 addresses: 150 distinct, 50 RANGE_FULL', async () => {
        const range = await addRange({ network: '10.19.0.0/24', startAddress: '10.19.0.1', endAddress: '10.19.0.150' });
        const outcomes = await Promise.allSettled(Array.from({ length: 200 }, () => allocate({ range: range.id })));
        const ok = outcomes.filter((o): o is PromiseFulfilledResult<AllocatedRecord> => o.status === 'fulfilled');
        const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(new Set(ok.map((o) => o.value.address)).size).to.equal(150);
        expect(failed.map((o) => (o.reason as IpamError).code)).to.deep.equal(Array(50).fill('RANGE_FULL'));
      });
    });

    describe('find', () => {
      it('returns candidates in order and writes nothing', async () => {
        const range = await addRange({ network: '10.20.0.0/24' });
        await allocate({ range: range.id });
        const before = await snapshot(store);
        expect(await find({ range: range.id })).to.deep.equal(['10.20.0.2']);
        expect(await find({ range: '10.20.0.0/24', count: 3 })).to.deep.equal(['10.20.0.2', '10.20.0.3', '10.20.0.4']);
        expect(await snapshot(store)).to.equal(before);
      });

      it('returns fewer than count when fewer are free', async () => {
        const range = await addRange({ network: '10.21.0.0/30' });
        expect(await find({ range: range.id, count: 5 })).to.deep.equal(['10.21.0.1', '10.21.0.2']);
      });
    });

    describe('release', () => {
      it('deletes address records of one or more ranges and reports them', async () => {
        const a = await addRange({ network: '10.22.0.0/24' });
        const b = await addRange({ network: '10.23.0.0/24' });
        const [a1, a2] = await allocateMany({ range: a.id, count: 2, dhcpReservation: { serverName: 'kea1', name: 'x' } });
        const b1 = await allocate({ range: b.id });
        const result = await release({ addresses: [a1.address, { id: b1.id }] });
        expect(sortedAddresses(result.released)).to.deep.equal([a1.address, b1.address]);
        expect(result.released[0].dhcpReservation).to.deep.equal({ serverName: 'kea1', name: 'x' });
        expect((await stored()).map((d) => d.address)).to.deep.equal([a2.address]);
      });

      it('{range} releases every address of that range only', async () => {
        const a = await addRange({ network: '10.24.0.0/24' });
        const b = await addRange({ network: '10.25.0.0/24' });
        await allocateMany({ range: a.id, count: 3 });
        const kept = await allocate({ range: b.id });
        const result = await release({ range: '10.24.0.0/24' });
        expect(result.released).to.have.length(3);
        expect((await stored()).map((d) => d.id)).to.deep.equal([kept.id]);
      });

      it('refuses an unmapped address, and one of another range, and then deletes nothing', async () => {
        const a = await addRange({ network: '10.26.0.0/24' });
        const mapped = await allocate({ range: a.id });
        await ipam.perform('address', 'add', { address: '10.26.0.77', managedByService: 'VMM' });
        const unmapped = await failure(release({ addresses: [mapped.address, '10.26.0.77'] }));
        expect(unmapped).to.include({ code: 'OUT_OF_RANGE', field: 'addresses.1', value: '10.26.0.77' });
        const b = await addRange({ network: '10.27.0.0/24' });
        const wrongRange = await failure(release({ range: b.id, addresses: [mapped.address] }));
        expect(wrongRange.code).to.equal('OUT_OF_RANGE');
        const missing = await failure(release({ addresses: ['10.26.0.99'] }));
        expect(missing.code).to.equal('NOT_FOUND');
        expect(await stored()).to.have.length(2);
      });

      it('a release during concurrent allocation is never skipped by the hint', async () => {
        const range = await addRange({ network: '10.28.0.0/24' });
        const first = await allocateMany({ range: range.id, count: 10 });
        await Promise.all([
          release({ addresses: [first[2].address] }),
          ...Array.from({ length: 5 }, () => allocate({ range: range.id })),
        ]);
        // Whatever the interleaving, the freed .3 is either re-allocated or still found.
        const docs = await stored();
        const addresses = docs.map((d) => d.address);
        if (!addresses.includes('10.28.0.3')) expect(await find({ range: range.id })).to.deep.equal(['10.28.0.3']);
        else expect(addresses).to.have.length(15);
      });
    });
  });
}

/**
 * A store whose first read of stored keys on addresses (`values`, the gap search's window) runs `race` after
 * reading, like another process inserting between our read and our insert; `batches` counts atomic writes.
 */
/** An Ipam over `store` with local state of its own, as another process has, counting its atomic batches. */
function processOver(store: Store, range: RangeRecord) {
  const counting = racingStore(store, async () => undefined);
  const mine = Ipam.over(counting.store);
  const allocateMine = async () => ((await mine.perform('address', 'allocate', { range: range.id })) as AddressRecord).address;
  return { counting, mine, allocateMine };
}

function racingStore(store: Store, race: () => Promise<void>): { store: Store; batches: () => number } {
  let raced = false;
  let batches = 0;
  const racing = {
    kind: store.kind,
    transactional: store.transactional,
    atomic: (writes) => (batches++, store.atomic(writes)),
    now: () => store.now(),
    close: () => store.close(),
    collection: (name) => {
      const collection = store.collection(name);
      if (name !== 'addresses') return collection;
      return new Proxy(collection, {
        get(target, property, receiver) {
          // The gap search's read of a window of stored keys: the race comes right after it.
          if (property !== 'values') return Reflect.get(target, property, receiver);
          const read = Reflect.get(target, property, receiver) as (...args: unknown[]) => Promise<unknown>;
          return async (...args: unknown[]) => {
            const result = await read.apply(target, args);
            if (!raced) {
              raced = true;
              await race();
            }
            return result;
          };
        },
      });
    },
  } as Store;
  return { store: racing, batches: () => batches };
}
