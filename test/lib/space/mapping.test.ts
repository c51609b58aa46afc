/**
 * Range plans (lib/space/mapping.ts): an allocation maps its address from the plan of the range it allocates
 * from, read once per structure version of the address space. These tests hold the plan to what the
 * queries (and a brute-force oracle) give, across structural changes made by another store instance on the
 * same file, and past the plan's size limit.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Ipam } from '../../../lib/ipam';
import { PLAN_LIMIT } from '../../../lib/space/mapping';
import { localState, openEmbeddedStore, type Collection, type CollectionName, type Filter, type FindOptions, type Store } from '../../../lib/store';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { tempDir } from '../../support/stores';

type Doc = { id: string; startKey: string; endKey: string; managedByService?: string; serviceInstance?: string };

/** The most specific container holding `key`: the smallest, the first in start order on a tie (as the queries pick). */
function oracle(docs: Doc[], key: string): string | null {
  const holding = docs
    .filter((doc) => doc.startKey <= key && key <= doc.endKey)
    .sort((a, b) => (a.startKey < b.startKey ? -1 : a.startKey > b.startKey ? 1 : 0));
  let best: Doc | undefined;
  let bestSize = 0n;
  for (const doc of holding) {
    const size = BigInt(`0x${doc.endKey.split('|')[2]}`) - BigInt(`0x${doc.startKey.split('|')[2]}`);
    if (!best || size < bestSize) [best, bestSize] = [doc, size];
  }
  return best?.id ?? null;
}

async function expectMappedAsOracle(ipam: Ipam): Promise<number> {
  const blocks = (await ipam.store.collection('blocks').find({})) as unknown as Doc[];
  const ranges = (await ipam.store.collection('ranges').find({})) as unknown as Doc[];
  const addresses = (await ipam.store.collection('addresses').find({})) as unknown as (Doc & { key: string; address: string; rangeId: string | null; blockId: string | null })[];
  for (const address of addresses) {
    const same = ranges.filter((r) => r.managedByService === address.managedByService && r.serviceInstance === address.serviceInstance);
    expect({ address: address.address, rangeId: address.rangeId, blockId: address.blockId }).to.deep.equal({
      address: address.address,
      rangeId: oracle(same, address.key),
      blockId: oracle(blocks, address.key),
    });
  }
  return addresses.length;
}

const BLOCK_SLOTS = ['10.0.0.0/16', '10.0.0.0/24', '10.0.0.0/26', '10.0.0.64/27', '10.0.1.0/25', '10.0.0.16/28'];
const RANGE_SLOTS = ['10.0.0.0/23', '10.0.0.0/24', '10.0.0.0/26', '10.0.0.32/27', '10.0.1.0/24', '10.0.0.64/26'];
const SERVICES = [{}, { managedByService: 'VMM', serviceInstance: 'vmm1' }];

describe('range plans: allocation maps addresses as the queries do', () => {
  it('on random layouts of nested blocks and overlapping ranges, changed between allocations (fast-check, fixed seed)', async function () {
    this.timeout(120_000);
    const step = fc.oneof(
      fc.record({ kind: fc.constant('block' as const), slot: fc.nat(BLOCK_SLOTS.length - 1) }),
      fc.record({ kind: fc.constant('range' as const), slot: fc.nat(RANGE_SLOTS.length - 1), service: fc.nat(SERVICES.length - 1) }),
      fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('allocate' as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 5 }) }),
    );
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), async (steps) => {
        const ipam = Ipam.over(await openEmbeddedStore({}));
        try {
          for (const s of steps) {
            const ranges = (await ipam.perform('range', 'list', {})) as RangeRecord[];
            if (s.kind === 'block') await ipam.perform('block', 'add', { network: BLOCK_SLOTS[s.slot] }).catch(() => undefined);
            else if (s.kind === 'range') await ipam.perform('range', 'add', { network: RANGE_SLOTS[s.slot], ...SERVICES[s.service] }).catch(() => undefined);
            else if (s.kind === 'delete' && ranges.length > 0) await ipam.perform('range', 'delete', { id: ranges[s.pick % ranges.length].id });
            else if (s.kind === 'allocate' && ranges.length > 0) {
              await ipam.perform('address', 'allocate', { range: ranges[s.pick % ranges.length].id, count: s.count }).catch(() => undefined);
            }
          }
          checked += await expectMappedAsOracle(ipam);
        } finally {
          await ipam.close();
        }
      }),
      { seed: 20261202, numRuns: 60 },
    );
    expect(checked, 'addresses checked over all runs').to.be.greaterThan(100);
  });

  it('a block or range another store instance adds on the same file is seen by the next allocation', async () => {
    const directory = tempDir();
    const first = Ipam.over(await openEmbeddedStore({ directory }));
    const second = Ipam.over(await openEmbeddedStore({ directory }));
    try {
      const outer = (await first.perform('block', 'add', { network: '10.0.0.0/16' })) as { id: string };
      const range = (await first.perform('range', 'add', { network: '10.0.0.0/24' })) as RangeRecord;
      const allocate = () => first.perform('address', 'allocate', { range: range.id }) as Promise<AddressRecord>;
      expect(await allocate()).to.include({ address: '10.0.0.1', rangeId: range.id, blockId: outer.id });
      const inner = (await second.perform('block', 'add', { network: '10.0.0.0/28' })) as { id: string };
      expect(await allocate(), 'the plan read before the block was added is not used').to.include({ address: '10.0.0.2', rangeId: range.id, blockId: inner.id });
      const nested = (await second.perform('range', 'add', { network: '10.0.0.0/28' })) as RangeRecord;
      expect(await allocate()).to.include({ address: '10.0.0.3', rangeId: nested.id, blockId: inner.id });
      await second.perform('range', 'delete', { id: nested.id });
      expect(await allocate()).to.include({ address: '10.0.0.4', rangeId: range.id, blockId: inner.id });
      expect(await expectMappedAsOracle(first)).to.equal(4);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it(`a range overlapped by more than ${PLAN_LIMIT} blocks is mapped by the queries, and correctly`, async function () {
    this.timeout(60_000);
    const ipam = Ipam.over(await openEmbeddedStore({}));
    try {
      await ipam.perform('block', 'add', { network: '10.0.0.0/16' });
      const range = (await ipam.perform('range', 'add', { network: '10.0.0.0/22' })) as RangeRecord;
      for (let i = 0; i <= PLAN_LIMIT; i++) await ipam.perform('block', 'add', { network: `10.0.${i >> 6}.${(i & 63) * 4}/30` });
      const plans = localState(ipam.store).rangePlans;
      // Past the last small block (10.0.1.0/30), which a read cut off at the limit would miss.
      const allocated = (await ipam.perform('address', 'allocate', { range: range.id, count: 264 })) as AddressRecord[];
      expect(new Set(allocated.map((a) => a.blockId)).size, 'addresses in every small block and the outer one').to.equal(PLAN_LIMIT + 2);
      expect(await expectMappedAsOracle(ipam)).to.equal(264);
      expect(plans.get(range.id)?.plan, 'no plan kept for the range').to.equal(undefined);
      expect(plans.has(range.id), 'its absence is kept, so the reads are not repeated per address').to.equal(true);
    } finally {
      await ipam.close();
    }
  });

  it(`a range overlapped by more than ${PLAN_LIMIT} ranges, most of them no larger than it, is mapped by the queries`, async function () {
    this.timeout(60_000);
    const ipam = Ipam.over(await openEmbeddedStore({}));
    try {
      for (const network of ['10.0.0.0/16', '10.0.0.0/21', '10.0.0.0/22', '10.0.0.0/24']) await ipam.perform('block', 'add', { network });
      await ipam.perform('range', 'add', { network: '10.0.0.0/21' });
      const range = (await ipam.perform('range', 'add', { network: '10.0.0.0/22' })) as RangeRecord;
      // One larger range and PLAN_LIMIT smaller ones overlap it: the plan's read is cut off at its limit.
      for (let i = 0; i < PLAN_LIMIT; i++) await ipam.perform('range', 'add', { network: `10.0.0.${i * 4}/30` });
      await ipam.perform('address', 'allocate', { range: range.id, count: 256 });
      expect(await expectMappedAsOracle(ipam)).to.equal(256);
    } finally {
      await ipam.close();
    }
  });

  it('an allocation of several addresses reads the structure version once, not once per address', async () => {
    const store = await openEmbeddedStore({});
    let versionReads = 0;
    const counting: Store = Object.assign(Object.create(store) as Store, {
      collection: (name: CollectionName) => {
        const collection = store.collection(name);
        if (name !== 'settings') return collection;
        return Object.assign(Object.create(collection) as Collection, {
          findOne: (filter: Filter, options?: FindOptions) => {
            if (String(filter.name).startsWith('structure|')) versionReads++;
            return collection.findOne(filter, options);
          },
        });
      },
    });
    const ipam = Ipam.over(counting);
    try {
      await ipam.perform('block', 'add', { network: '10.0.0.0/16' });
      const range = (await ipam.perform('range', 'add', { network: '10.0.0.0/24' })) as RangeRecord;
      versionReads = 0;
      const allocated = (await ipam.perform('address', 'allocate', { range: range.id, count: 8 })) as AddressRecord[];
      expect(allocated).to.have.length(8);
      expect(versionReads).to.equal(1);
      expect(await expectMappedAsOracle(ipam)).to.equal(8);
    } finally {
      await ipam.close();
    }
  });
});
