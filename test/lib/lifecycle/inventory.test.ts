/**
 * Inventory views (`ipam-allocate` `list`): filters on record and custom fields, grouping by device
 * type, custom field or block kind, numeric order and cursor paging.
 */
import { expect } from 'chai';
import { parseAddress } from '../../../lib/address';
import { buildAddress } from '../../../lib/space';
import { defineCustomField, type AddressRecord } from '../../../lib/record';
import type { InventoryPage } from '../../../lib/lifecycle/inventory';
import { Ipam } from '../../../lib/ipam';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores } from '../../support/stores';
import { failure } from '../../support/failure';

/** Expected order: space name, then IPv4 before IPv6, then numeric. */
function inventoryOrder(a: AddressRecord, b: AddressRecord): number {
  if (a.addressSpace !== b.addressSpace) return a.addressSpace < b.addressSpace ? -1 : 1;
  if (a.family !== b.family) return a.family - b.family;
  const [x, y] = [parseAddress(a.address).value, parseAddress(b.address).value];
  return x < y ? -1 : x > y ? 1 : 0;
}

for (const factory of availableStores()) {
  describe(`inventory list: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened), async (opened) => {
      await defineCustomField(opened, { name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] });
      await defineCustomField(opened, { name: 'Owner', multiValue: false });
    });

    const list = (payload: unknown) => ipam.perform('address', 'list', payload);
    const address = (payload: Record<string, unknown>) => ipam.perform('address', 'add', payload) as Promise<AddressRecord>;

    it('pages through a few thousand IPv4 and IPv6 addresses in two spaces: each once, in numeric order', async function () {
      this.timeout(120_000);
      // Values chosen so that text order differs from numeric order (10.0.0.9 vs 10.0.0.10, :9 vs :a0).
      const inputs: Record<string, unknown>[] = [];
      for (let i = 0; i < 1200; i++) inputs.push({ address: `10.${(i * 7) % 3}.${Math.floor(i / 250)}.${(i % 250) + 1}` });
      for (let i = 0; i < 1000; i++) {
        const v = (i * 7919) % 100000;
        inputs.push({ address: `2001:db8::${(v >> 16).toString(16)}:${(v & 0xffff).toString(16)}` });
      }
      for (let i = 0; i < 400; i++) inputs.push({ address: `192.168.${i % 4}.${Math.floor(i / 4) + 1}`, addressSpace: 'Lab' });
      for (let i = 0; i < 400; i++) inputs.push({ address: `fd00::${i.toString(16)}:1`, addressSpace: 'Lab' });
      const unique = [...new Map(inputs.map((input) => [`${input.addressSpace ?? ''}|${input.address}`, input])).values()];
      const docs = [];
      for (const input of unique) docs.push(await buildAddress(ipam, input));
      const inserted = await ipam.store.collection('addresses').insertMany(docs);
      expect(inserted.failures).to.deep.equal([]);
      expect(unique.length).to.be.greaterThan(2500);

      const seen: AddressRecord[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = (await list({ limit: 137, cursor })) as InventoryPage;
        expect(page.items!.length).to.be.at.most(137);
        seen.push(...page.items!);
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).to.equal(Math.ceil(unique.length / 137));
      expect(new Set(seen.map((a) => a.id)).size).to.equal(unique.length);
      expect(seen.map((a) => `${a.addressSpace} ${a.address}`)).to.deep.equal(
        [...seen].sort(inventoryOrder).map((a) => `${a.addressSpace} ${a.address}`),
      );
      expect(seen[0]).to.include({ addressSpace: 'Default', address: '10.0.0.1' });
      expect(seen[seen.length - 1]).to.include({ addressSpace: 'Lab', family: 6 });
      // A filtered walk pages the same way.
      const lab: AddressRecord[] = [];
      cursor = null;
      do {
        const page = (await list({ filter: { addressSpace: 'Lab', family: '6' }, limit: 50, cursor })) as InventoryPage;
        lab.push(...page.items!);
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(lab).to.have.length(400);
      expect(lab.every((a) => a.addressSpace === 'Lab' && a.family === 6)).to.equal(true);
    });

    it('the simple form (a filter object) still returns an array, and filters on custom fields by bare name', async () => {
      await address({ address: '10.0.0.2', customFields: { 'AD Site': ['Paris', 'Lyon'], Owner: 'ops' } });
      await address({ address: '10.0.0.10', customFields: { 'AD Site': 'Lyon' } });
      await address({ address: '10.0.0.3', deviceType: 'printer' });
      const all = (await list({})) as AddressRecord[];
      expect(all.map((a) => a.address)).to.deep.equal(['10.0.0.2', '10.0.0.3', '10.0.0.10']);
      expect(((await list({ 'ad site': 'LYON' })) as AddressRecord[]).map((a) => a.address)).to.deep.equal(['10.0.0.2', '10.0.0.10']);
      expect(((await list({ 'customFields.Owner': 'ops' })) as AddressRecord[]).map((a) => a.address)).to.deep.equal(['10.0.0.2']);
      expect(((await list({ deviceType: 'Printer' })) as AddressRecord[]).map((a) => a.address)).to.deep.equal(['10.0.0.3']);
    });

    it('refuses operators, unknown fields, bad cursors and limits', async () => {
      expect((await failure(list({ address: { $gt: '' } }))).code).to.equal('VALIDATION');
      expect((await failure(list({ filter: { 'AD Site': { $ne: null } } }))).code).to.equal('VALIDATION');
      expect((await failure(list({ filter: { Building: 'B1' } }))).field).to.equal('filter.Building');
      expect((await failure(list({ filter: { 'customFields.Building': 'B1' } }))).field).to.equal('filter.customFields.Building');
      expect((await failure(list({ cursor: 'not-a-cursor' }))).field).to.equal('cursor');
      expect((await failure(list({ cursor: { $gt: '' } }))).field).to.equal('cursor');
      expect((await failure(list({ limit: 0 }))).field).to.equal('limit');
      expect((await failure(list({ filter: {}, deviceType: 'Host' }))).field).to.equal('deviceType');
    });

    it('groups a page by device type, with totals over the whole filtered inventory', async () => {
      for (let i = 1; i <= 6; i++) await address({ address: `10.0.0.${i}`, deviceType: i % 3 === 0 ? 'Printer' : 'Host' });
      await address({ address: '10.0.0.7', deviceType: 'Coffee machine' });
      const page = (await list({ groupBy: 'deviceType', limit: 4 })) as InventoryPage;
      expect(page.groupBy).to.equal('deviceType');
      expect(page.groups!.map((g) => [g.value, g.total, g.items.map((a) => a.address)])).to.deep.equal([
        ['Host', 4, ['10.0.0.1', '10.0.0.2', '10.0.0.4']],
        ['Printer', 2, ['10.0.0.3']],
      ]);
      const next = (await list({ groupBy: 'deviceType', limit: 4, cursor: page.nextCursor })) as InventoryPage;
      expect(next.groups!.map((g) => [g.value, g.total, g.items.map((a) => a.address)])).to.deep.equal([
        ['Coffee machine', 1, ['10.0.0.7']],
        ['Host', 4, ['10.0.0.5']],
        ['Printer', 2, ['10.0.0.6']],
      ]);
      expect(next.nextCursor).to.equal(null);
    });

    it('groups by a multi-value custom field (an address is in each of its values; unset is null)', async () => {
      await address({ address: '10.0.0.1', customFields: { 'AD Site': ['Paris', 'Lyon'] } });
      await address({ address: '10.0.0.2', customFields: { 'AD Site': 'Paris' } });
      await address({ address: '10.0.0.3' });
      const page = (await list({ groupBy: 'ad site' })) as InventoryPage;
      expect(page.groupBy).to.equal('AD Site');
      expect(page.groups!.map((g) => [g.value, g.total, g.items.map((a) => a.address)])).to.deep.equal([
        ['Lyon', 1, ['10.0.0.1']],
        ['Paris', 2, ['10.0.0.1', '10.0.0.2']],
        [null, 1, ['10.0.0.3']],
      ]);
    });

    it('groups and filters by the kind of block the address falls in (public, private, unmapped)', async () => {
      await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
      await ipam.perform('block', 'add', { network: '10.1.0.0/16' });
      await ipam.perform('block', 'add', { network: '65.52.0.0/14', rir: 'ARIN' });
      await ipam.perform('block', 'add', { network: '2001:db8::/32' });
      for (const a of ['10.0.0.1', '10.1.0.1', '65.52.0.1', '2001:db8::1', '172.16.0.1', '2001:db9::1']) await address({ address: a });
      const page = (await list({ groupBy: 'blockKind' })) as InventoryPage;
      expect(page.groups!.map((g) => [g.value, g.total, g.items.map((a) => a.address)])).to.deep.equal([
        ['Private', 2, ['10.0.0.1', '10.1.0.1']],
        ['Public', 2, ['65.52.0.1', '2001:db8::1']],
        ['Unmapped', 2, ['172.16.0.1', '2001:db9::1']],
      ]);
      const onlyPublic = (await list({ filter: { blockKind: 'public' } })) as InventoryPage;
      expect(onlyPublic.items!.map((a) => a.address)).to.deep.equal(['65.52.0.1', '2001:db8::1']);
      const unmapped = (await list({ blockKind: 'Unmapped' })) as AddressRecord[];
      expect(unmapped.map((a) => a.address)).to.deep.equal(['172.16.0.1', '2001:db9::1']);
    });
  });
}
