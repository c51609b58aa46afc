/**
 * allocate-subnet on ipam-range: the first free aligned subnet inside a block, created as a range in
 * the same call, never the same one twice under concurrency.
 */
import { expect } from 'chai';
import { parseNetwork } from '../../../lib/address';
import { Ipam } from '../../../lib/ipam';
import type { BlockRecord, RangeRecord } from '../../../lib/record';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores } from '../../support/stores';
import { failure } from '../../support/failure';

for (const factory of availableStores()) {
  describe(`allocate-subnet: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const block = (payload: unknown) => ipam.perform('block', 'add', payload) as Promise<BlockRecord>;
    const range = (payload: unknown) => ipam.perform('range', 'add', payload) as Promise<RangeRecord>;
    const subnet = (payload: unknown) => ipam.perform('range', 'allocate-subnet', payload) as Promise<RangeRecord>;

    it('creates a range on the first free aligned subnet, skipping ranges and child blocks', async () => {
      const parent = await block({ network: '10.40.0.0/16' });
      await range({ network: '10.40.0.0/24' });
      await block({ network: '10.40.1.0/25' });
      await range({ network: '10.40.2.0/23', startAddress: '10.40.2.10', endAddress: '10.40.2.20' });
      const created = await subnet({ block: parent.id, prefixLength: 24, description: 'app', managedByService: 'Non-MS DHCP' });
      expect(created).to.include({
        network: '10.40.4.0/24',
        startAddress: '10.40.4.1',
        endAddress: '10.40.4.254',
        blockId: parent.id,
        description: 'app',
        managedByService: 'Non-MS DHCP',
      });
      const smaller = await subnet({ block: '10.40.0.0/16', prefixLength: 25 });
      expect(smaller.network).to.equal('10.40.1.128/25');
      expect((await ipam.perform('range', 'get', { id: created.id })) as RangeRecord).to.include({ network: '10.40.4.0/24' });
    });

    it('IPv6: /64s inside a /48', async () => {
      const parent = await block({ network: '2001:db8:40::/48' });
      const first = await subnet({ blockId: parent.id, prefixLength: 64 });
      const second = await subnet({ blockId: parent.id, prefixLength: 64 });
      expect([first.network, second.network]).to.deep.equal(['2001:db8:40::/64', '2001:db8:40:1::/64']);
    });

    it('20 concurrent calls get 20 different subnets', async () => {
      const parent = await block({ network: '10.41.0.0/16' });
      const created = await Promise.all(Array.from({ length: 20 }, () => subnet({ block: parent.id, prefixLength: 24 })));
      const networks = created.map((r) => r.network);
      expect(new Set(networks).size).to.equal(20);
      expect(networks.map((n) => parseNetwork(n).first).sort((a, b) => (a < b ? -1 : 1))[19]).to.equal(parseNetwork('10.41.19.0/24').first);
    });

    it('RANGE_FULL when no subnet of that size is left; VALIDATION for a bad prefix length or chosen fields', async () => {
      const parent = await block({ network: '10.42.0.0/23' });
      await subnet({ block: parent.id, prefixLength: 24 });
      await subnet({ block: parent.id, prefixLength: 24 });
      const full = await failure(subnet({ block: parent.id, prefixLength: 24 }));
      expect(full).to.include({ code: 'RANGE_FULL', field: 'prefixLength' });
      expect(full.message).to.contain('10.42.0.0/23');
      expect((await failure(subnet({ block: parent.id, prefixLength: 22 }))).field).to.equal('prefixLength');
      expect((await failure(subnet({ block: parent.id, prefixLength: 33 }))).field).to.equal('prefixLength');
      expect((await failure(subnet({ block: parent.id }))).field).to.equal('prefixLength');
      expect((await failure(subnet({ block: parent.id, prefixLength: 24, network: '10.42.0.0/24' }))).field).to.equal('network');
      expect((await failure(subnet({ prefixLength: 24 }))).field).to.equal('block');
      expect((await failure(subnet({ block: 'missing', prefixLength: 24 }))).code).to.equal('NOT_FOUND');
    });

    it('a bad range field writes nothing', async () => {
      const parent = await block({ network: '10.43.0.0/16' });
      const err = await failure(subnet({ block: parent.id, prefixLength: 24, managedByService: 'MS DHCP' }));
      expect(err.code).to.equal('RESERVED_VALUE');
      expect(await ipam.perform('range', 'list', {})).to.deep.equal([]);
    });
  });
}
