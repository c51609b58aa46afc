/**
 * expiryStatus is derived on every read from expiryDate, the threshold and now; what ipam-expiry
 * reported is a separate internal field. Filters and groups on expiryStatus follow the derived value.
 */
import { expect } from 'chai';
import { expiryStatusOf, type AddressRecord, type RangeRecord } from '../../../lib/record';
import type { InventoryPage } from '../../../lib/lifecycle/inventory';
import { Ipam } from '../../../lib/ipam';
import { embeddedMemory } from '../../support/stores';

const DAY = 86_400_000;
const inDays = (days: number): string => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
const instantIn = (ms: number): string => new Date(Date.now() + ms).toISOString();

describe('expiryStatus on reads', () => {
  let ipam: Ipam;
  beforeEach(async () => {
    ipam = Ipam.over(await embeddedMemory.open());
  });
  afterEach(() => ipam.close());

  const add = (payload: Record<string, unknown>) => ipam.perform('address', 'add', payload) as Promise<AddressRecord>;
  const list = (payload: unknown) => ipam.perform('address', 'list', payload) as Promise<AddressRecord[]>;
  const addresses = () => ipam.store.collection('addresses');

  it('allocate, add, get, update and list show the status at once, before any expiry check', async () => {
    const range = (await ipam.perform('range', 'add', { network: '10.5.0.0/24' })) as RangeRecord;
    const allocated = (await ipam.perform('address', 'allocate', { range: range.id, expiryDate: inDays(5) })) as AddressRecord;
    expect(allocated.expiryStatus).to.equal('Expiry Due');
    const added = await add({ address: '10.6.0.1', expiryDate: inDays(30) });
    expect(added.expiryStatus).to.equal('Not expired');
    const updated = (await ipam.perform('address', 'update', { id: added.id, expiryDate: inDays(-1) })) as AddressRecord;
    expect(updated.expiryStatus).to.equal('Expired');
    expect(((await ipam.perform('address', 'get', { id: added.id })) as AddressRecord).expiryStatus).to.equal('Expired');
    expect((await list({})).map((a) => [a.address, a.expiryStatus])).to.deep.equal([
      [allocated.address, 'Expiry Due'],
      ['10.6.0.1', 'Expired'],
    ]);
    const cleared = (await ipam.perform('address', 'update', { id: added.id, expiryDate: null })) as AddressRecord;
    expect(cleared).not.to.have.property('expiryStatus');
  });

  it('follows the configured threshold', async () => {
    const added = await add({ address: '10.6.0.1', expiryDate: inDays(5) });
    expect(added.expiryStatus).to.equal('Expiry Due');
    ipam.expiryThresholdDays = 3;
    expect(((await ipam.perform('address', 'get', { id: added.id })) as AddressRecord).expiryStatus).to.equal('Not expired');
  });

  it('a stale stored status (from before) never shows: reads derive it, and a check moves it to expiryReported', async () => {
    const added = await add({ address: '10.6.0.1', expiryDate: inDays(-2) });
    const plain = await add({ address: '10.6.0.2' });
    await addresses().updateOne({ id: added.id }, { $set: { expiryStatus: 'Not expired' } });
    await addresses().updateOne({ id: plain.id }, { $set: { expiryStatus: 'Expired' } });
    const [first, second] = await list({});
    expect(first.expiryStatus).to.equal('Expired');
    expect(second).not.to.have.property('expiryStatus');
    const report = (await ipam.perform('expiry', 'check', {})) as { events: { previousStatus: string; expiryStatus: string }[] };
    expect(report.events.map((e) => `${e.previousStatus} -> ${e.expiryStatus}`)).to.deep.equal(['Not expired -> Expired']);
    const stored = await addresses().findOne({ id: added.id });
    expect(stored).to.include({ expiryReported: 'Expired' });
    expect(stored).not.to.have.property('expiryStatus');
    expect(await list({})).to.satisfy((records: AddressRecord[]) => records.every((r) => !('expiryReported' in r)));
  });

  it('a check still logs each transition once; reads never show what it stored', async () => {
    await add({ address: '10.6.0.1', expiryDate: inDays(3) });
    const check = () => ipam.perform('expiry', 'check', {}) as Promise<{ events: { expiryStatus: string }[] }>;
    expect((await check()).events.map((e) => e.expiryStatus)).to.deep.equal(['Expiry Due']);
    expect((await check()).events).to.deep.equal([]);
    const [record] = await list({});
    expect(record).to.include({ expiryStatus: 'Expiry Due' }).and.not.to.have.property('expiryReported');
  });

  describe('filters and groups', () => {
    const values: string[] = [];
    beforeEach(async () => {
      values.length = 0;
      // Both forms around each boundary: instants earlier today are Expired while today's date is Due.
      for (const ms of [-3 * DAY, -60_000, 60_000, 5 * DAY, 10 * DAY - 60_000, 10 * DAY + 60_000, 40 * DAY]) values.push(instantIn(ms));
      for (const days of [-3, -1, 0, 1, 9, 10, 11, 40]) values.push(inDays(days));
      let n = 1;
      for (const expiryDate of values) await add({ address: `10.7.0.${n++}`, expiryDate });
      await add({ address: '10.7.1.1' });
    });

    const derived = async (): Promise<AddressRecord[]> => list({});

    for (const status of ['Expired', 'Expiry Due', 'Not expired']) {
      it(`list, paged list and export with expiryStatus "${status}" match the derived status exactly`, async () => {
        const all = await derived();
        const wanted = all.filter((a) => a.expiryStatus === status).map((a) => a.address);
        expect(wanted.length).to.be.greaterThan(1);
        expect(all.filter((a) => a.expiryDate).every((a) => a.expiryStatus === expiryStatusOf(a.expiryDate!, new Date()))).to.equal(true);
        expect((await list({ expiryStatus: status.toLowerCase() })).map((a) => a.address)).to.deep.equal(wanted);
        const paged: string[] = [];
        let cursor: string | null = null;
        do {
          const page = (await ipam.perform('address', 'list', { filter: { expiryStatus: status }, limit: 2, cursor })) as InventoryPage;
          paged.push(...page.items!.map((a) => a.address));
          cursor = page.nextCursor;
        } while (cursor);
        expect(paged).to.deep.equal(wanted);
        const csv = ((await ipam.perform('import', 'export', { entity: 'addresses', filter: { expiryStatus: status } })) as { payload: string }).payload;
        const [header, ...rows] = csv.trim().split('\n');
        const column = header.split(',').indexOf('Expiry status');
        expect(column).to.be.greaterThan(-1);
        expect(rows.map((row) => row.split(',')[0])).to.deep.equal(wanted);
        expect(rows.every((row) => row.split(',')[column] === status)).to.equal(true);
      });
    }

    it('expiryStatus with an expiryDate of another state matches nothing; of the same state, that address', async () => {
      const today = inDays(0);
      expect(await list({ expiryStatus: 'Expired', expiryDate: today })).to.deep.equal([]);
      expect((await list({ expiryStatus: 'Expiry Due', expiryDate: today })).map((a) => a.expiryDate)).to.deep.equal([today]);
    });

    it('an unknown status is refused by name', async () => {
      const err = await ipam.perform('address', 'list', { expiryStatus: 'Soon' }).catch((e: Error & { field?: string }) => e);
      expect(err).to.include({ code: 'VALIDATION', field: 'filter.expiryStatus' });
    });

    it('groupBy expiryStatus groups by the derived status, with whole-inventory totals', async () => {
      const all = await derived();
      const page = (await ipam.perform('address', 'list', { groupBy: 'expiryStatus', limit: 3 })) as InventoryPage;
      for (const group of page.groups!) {
        expect(group.items.every((a) => (a.expiryStatus ?? null) === group.value)).to.equal(true);
        expect(group.total).to.equal(all.filter((a) => (a.expiryStatus ?? null) === group.value).length);
      }
      const full = (await ipam.perform('address', 'list', { groupBy: 'expiryStatus', limit: 100 })) as InventoryPage;
      expect(full.groups!.map((g) => g.value)).to.deep.equal(['Expired', 'Expiry Due', 'Not expired', null]);
      expect(full.groups!.map((g) => g.total)).to.deep.equal(full.groups!.map((g) => g.items.length));
    });
  });
});
