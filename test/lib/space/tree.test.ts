/**
 * The sidebar's tree (lib/tree): spaces per family, blocks nested as stored, ranges under their most specific
 * block, utilization numbers, cursor paging, and search by address, CIDR and text.
 */
import { expect } from 'chai';
import { Ipam } from '../../../lib/ipam';
import { listTree, rangeDetails, treeQueryFrom, type TreeItem } from '../../../lib/space/tree';
import { failure } from '../../support/failure';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores } from '../../support/stores';

for (const factory of availableStores()) {
  describe(`sidebar tree: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const add = (kind: 'block' | 'range', payload: Record<string, unknown>) => ipam.perform(kind, 'add', payload) as Promise<{ id: string }>;
    const allocate = (range: string, count: number) => ipam.perform('address', 'allocate', { range, count });
    const labels = (items: TreeItem[]) => items.map((item) => `${item.kind}:${item.label}`);

    async function seed(): Promise<void> {
      await add('block', { network: '10.0.0.0/8', description: 'private' });
      await add('block', { network: '10.1.0.0/16', description: 'site Paris' });
      await add('range', { network: '10.1.0.0/24', description: 'Paris servers' });
      await add('range', { network: '10.2.0.0/24' });
      await add('range', { network: '192.0.2.0/24', description: 'lab' });
      await add('block', { network: '2001:db8::/32', description: 'documentation' });
      await add('range', { network: '2001:db8::/64' });
      await add('range', { network: '10.9.0.0/24', addressSpace: 'Lab' });
      await allocate('10.1.0.0/24', 3);
      await allocate('192.0.2.0/24', 1);
      await allocate('2001:db8::/64', 2);
      await ipam.perform('address', 'add', { address: '172.31.0.1' }); // in no range: not counted
    }

    it('lists each address space once per family, with the addresses of its ranges', async () => {
      await seed();
      const { items, nextCursor } = await listTree(ipam, {});
      expect(nextCursor).to.equal(null);
      expect(items.map((i) => i.id)).to.deep.equal(['Default|4', 'Default|6', 'Lab|4']);
      const v4 = items[0].utilization;
      // 10.1.0.0/24, 10.2.0.0/24 and 192.0.2.0/24: 254 usable each; 4 allocated.
      expect(v4).to.include({ size: 762, assigned: 4, free: 758 });
      expect(v4.utilizedPercent).to.equal(0.52);
      // A /64 is 2^64 - 2 usable addresses... exact, as a decimal string.
      expect(items[1].utilization).to.include({ assigned: 2 });
      expect(items[1].utilization.size).to.equal((2n ** 64n - 1n).toString());
    });

    it('nests blocks as stored and shows ranges under their most specific block', async () => {
      await seed();
      const top = await listTree(ipam, { parent: { kind: 'space', addressSpace: 'Default', family: 4 } });
      expect(labels(top.items)).to.deep.equal(['block:10.0.0.0/8', 'range:192.0.2.0/24']);
      const block8 = top.items[0];
      expect(block8.hasChildren).to.equal(true);
      expect(block8.utilization).to.include({ size: 16777216, rangeSize: 508, assigned: 3 });
      const inside8 = await listTree(ipam, { parent: { kind: 'block', id: block8.id } });
      expect(labels(inside8.items)).to.deep.equal(['block:10.1.0.0/16', 'range:10.2.0.0/24']);
      const inside16 = await listTree(ipam, { parent: { kind: 'block', id: inside8.items[0].id } });
      expect(labels(inside16.items)).to.deep.equal(['range:10.1.0.0/24']);
      expect(inside16.items[0]).to.include({ hasChildren: false, description: 'Paris servers' });
      expect(inside16.items[0].utilization).to.include({ size: 254, assigned: 3, free: 251, utilizedPercent: 1.18 });
    });

    it('pages children with a cursor: each once, blocks then ranges, in numeric order', async function () {
      this.timeout(60_000);
      await add('block', { network: '10.0.0.0/8' });
      const block = (await listTree(ipam, { parent: { kind: 'space', addressSpace: 'Default', family: 4 } })).items[0];
      for (const n of [3, 1, 20, 2]) await add('block', { network: `10.${n}.0.0/16` });
      for (const n of [9, 100, 10, 11, 250]) await add('range', { network: `10.200.${n}.0/24` });
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await listTree(ipam, { parent: { kind: 'block', id: block.id }, limit: 2, cursor });
        expect(page.items.length).to.be.at.most(2);
        seen.push(...labels(page.items));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor);
      expect(pages).to.equal(5);
      expect(seen).to.deep.equal([
        'block:10.1.0.0/16', 'block:10.2.0.0/16', 'block:10.3.0.0/16', 'block:10.20.0.0/16',
        'range:10.200.9.0/24', 'range:10.200.10.0/24', 'range:10.200.11.0/24', 'range:10.200.100.0/24', 'range:10.200.250.0/24',
      ]);
    });

    it('searches by address and CIDR (what contains it) and by text in network or description', async () => {
      await seed();
      const byAddress = await listTree(ipam, { search: '10.1.0.77' });
      expect(labels(byAddress.items)).to.have.members(['block:10.0.0.0/8', 'block:10.1.0.0/16', 'range:10.1.0.0/24']);
      const byCidr = await listTree(ipam, { search: '10.2.0.0/24' });
      expect(labels(byCidr.items)).to.have.members(['block:10.0.0.0/8', 'range:10.2.0.0/24']);
      const wide = await listTree(ipam, { search: '10.0.0.0/8', limit: 2 });
      expect(wide).to.include({ truncated: true });
      expect(wide.items).to.have.length(2);
      const v6 = await listTree(ipam, { search: '2001:db8::1' });
      expect(labels(v6.items)).to.have.members(['block:2001:db8::/32', 'range:2001:db8::/64']);
      const text = await listTree(ipam, { search: 'PARIS' });
      expect(labels(text.items)).to.have.members(['block:10.1.0.0/16', 'range:10.1.0.0/24']);
      const partial = await listTree(ipam, { search: '10.9.' });
      expect(partial.items.map((i) => `${i.addressSpace}:${i.label}`)).to.deep.equal(['Lab:10.9.0.0/24']);
    });

    it('pages a text search', async () => {
      for (let n = 0; n < 7; n += 1) await add('range', { network: `172.16.${n}.0/24`, description: `rack ${n}` });
      const first = await listTree(ipam, { search: 'rack', limit: 4 });
      expect(first.items).to.have.length(4);
      const second = await listTree(ipam, { search: 'rack', limit: 4, cursor: first.nextCursor });
      expect(second.nextCursor).to.equal(null);
      expect([...labels(first.items), ...labels(second.items)]).to.deep.equal([0, 1, 2, 3, 4, 5, 6].map((n) => `range:172.16.${n}.0/24`));
    });

    it("gives a range's record and numbers for the detail view", async () => {
      await seed();
      const range = (await listTree(ipam, { search: '192.0.2.0/24' })).items.find((i) => i.kind === 'range')!;
      const details = await rangeDetails(ipam, range.id);
      expect(details.range).to.include({ network: '192.0.2.0/24', description: 'lab', startAddress: '192.0.2.1' });
      expect(details.utilization).to.include({ size: 254, assigned: 1, free: 253 });
    });

    it('refuses bad queries naming the field', async () => {
      expect(await failure(listTree(ipam, { limit: 0 }))).to.include({ code: 'VALIDATION', field: 'limit' });
      expect(await failure(listTree(ipam, { parent: { kind: 'block', id: 'x' }, cursor: 'nonsense' }))).to.include({ code: 'VALIDATION', field: 'cursor' });
      expect(await failure(rangeDetails(ipam, 'missing'))).to.include({ code: 'NOT_FOUND' });
      expect(() => treeQueryFrom({ parent: 'space', family: '5' })).to.throw(/family/);
      expect(() => treeQueryFrom({ parent: 'space', family: '4', addressSpace: 'a|b' })).to.throw(/addressSpace/);
      expect(() => treeQueryFrom({ parent: 'block' })).to.throw(/id/);
      expect(() => treeQueryFrom({ parent: { $ne: null } })).to.throw(/parent/);
      expect(treeQueryFrom({ parent: 'space', family: '6', addressSpace: 'Lab' }).parent).to.deep.equal({ kind: 'space', addressSpace: 'Lab', family: 6 });
    });
  });
}
