/**
 * The rules the store enforces (spec: "Rules the store enforces"), on every available store.
 */
import { expect } from 'chai';
import { Ipam, type NodeKind } from '../../../lib/ipam';
import type { AddressRecord, BlockRecord, RangeRecord } from '../../../lib/record';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores } from '../../support/stores';
import { failure } from '../../support/failure';

for (const factory of availableStores()) {
  describe(`address space rules: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const run = <T>(kind: NodeKind, op: string, payload: unknown) => ipam.perform(kind, op, payload) as Promise<T>;
    const block = (payload: unknown) => run<BlockRecord>('block', 'add', payload);
    const range = (payload: unknown) => run<RangeRecord>('range', 'add', payload);
    const address = (payload: unknown) => run<AddressRecord>('address', 'add', payload);

    describe('blocks', () => {
      it('a public IPv4 block needs a RIR: 65.52.0.0/14 refused without, accepted with ARIN', async () => {
        const err = await failure(block({ network: '65.52.0.0/14' }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.field).to.equal('rir');
        expect(err.message).to.contain('65.52.0.0/14');
        const added = await block({ network: '65.52.0.0/14', startAddress: '65.52.0.0', endAddress: '65.55.255.255', rir: 'arin' });
        expect(added).to.include({ network: '65.52.0.0/14', rir: 'ARIN', isPrivate: false, startAddress: '65.52.0.0', endAddress: '65.55.255.255' });
      });

      it('a private block refuses a RIR: 10.0.0.0/8 with ARIN', async () => {
        const err = await failure(block({ network: '10.0.0.0/8', rir: 'ARIN' }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.field).to.equal('rir');
        expect(await run('block', 'list', {})).to.deep.equal([]);
      });

      it('IPv6 RIR is optional on public space and refused on fc00::/7', async () => {
        expect(await block({ network: '2001:db8::/32' })).to.include({ isPrivate: false, startAddress: '2001:db8::' });
        expect(await block({ network: '2001:db9::/32', rir: 'ripe' })).to.include({ rir: 'RIPE' });
        expect((await failure(block({ network: 'fd00::/8', rir: 'RIPE' }))).field).to.equal('rir');
      });

      it('spans the whole network by default; explicit bounds must lie inside it', async () => {
        expect(await block({ network: '10.0.0.0/8' })).to.include({ startAddress: '10.0.0.0', endAddress: '10.255.255.255' });
        const err = await failure(block({ network: '172.16.0.0/16', startAddress: '172.16.0.0', endAddress: '172.17.0.0' }));
        expect(err.code).to.equal('OUT_OF_RANGE');
        expect(err.field).to.equal('endAddress');
      });

      it('nests, and refuses duplicates and partial overlaps', async () => {
        const outer = await block({ network: '10.0.0.0/8' });
        const inner = await block({ network: '10.1.0.0/16' });
        expect(inner.parentId).to.equal(outer.id);
        expect((await failure(block({ network: '10.1.0.0/16' }))).code).to.equal('DUPLICATE');
        const upperHalf = await block({ network: '10.1.0.0/16', startAddress: '10.1.128.0', endAddress: '10.1.255.255' });
        expect(upperHalf.parentId).to.equal(inner.id);
        const partial = await failure(block({ network: '10.1.0.0/16', startAddress: '10.1.64.0', endAddress: '10.1.191.255' }));
        expect(partial.code).to.equal('OVERLAP');
        expect(partial.message).to.contain('partially overlaps');
      });

      it('a block inserted between adopts the child blocks inside it', async () => {
        const outer = await block({ network: '10.0.0.0/8' });
        const leaf = await block({ network: '10.1.2.0/24' });
        expect(leaf.parentId).to.equal(outer.id);
        const middle = await block({ network: '10.1.0.0/16' });
        expect(middle.parentId).to.equal(outer.id);
        expect((await run<BlockRecord>('block', 'get', { id: leaf.id })).parentId).to.equal(middle.id);
      });

      it('gets, updates and deletes by network and addressSpace; NOT_FOUND otherwise', async () => {
        await block({ network: '10.0.0.0/8', addressSpace: 'Tenant A' });
        const got = await run<BlockRecord>('block', 'get', { network: '10.0.0.0/8', addressSpace: 'Tenant A' });
        const updated = await run<BlockRecord>('block', 'update', { id: got.id, description: 'tenant space' });
        expect(updated.description).to.equal('tenant space');
        expect((await failure(run('block', 'get', { network: '10.0.0.0/8' }))).code).to.equal('NOT_FOUND');
        const changed = await failure(run('block', 'update', { id: got.id, network: '11.0.0.0/8' }));
        expect(changed.field).to.equal('network');
        expect(await run('block', 'delete', { network: '10.0.0.0/8', addressSpace: 'Tenant A' })).to.have.nested.property('deleted.id', got.id);
      });
    });

    describe('ranges', () => {
      it('10.1.0.0/24 gets 10.1.0.1-10.1.0.254 with the IPAM defaults', async () => {
        expect(await range({ network: '10.1.0.0/24' })).to.include({
          startAddress: '10.1.0.1',
          endAddress: '10.1.0.254',
          managedByService: 'IPAM',
          serviceInstance: 'Localhost',
          assignmentType: 'Static',
          blockId: null,
        });
      });

      it('IPv6 /64 bounds run from network+1 to the last address', async () => {
        const r = await range({ network: '2001:DB8:0:1::/64' });
        expect(r).to.include({ network: '2001:db8:0:1::/64', startAddress: '2001:db8:0:1::1', endAddress: '2001:db8:0:1:ffff:ffff:ffff:ffff' });
      });

      it('canonical output for mixed-case and compressed IPv6, and for enumerations', async () => {
        const r = await range({
          network: '2001:0DB8:00AB::/64',
          startAddress: '2001:DB8:AB:0:0:0:0:10',
          endAddress: '2001:db8:ab::00ff',
          managedByService: 'non ms dhcp',
          assignmentType: 'DYNAMIC',
        });
        expect(r).to.include({
          network: '2001:db8:ab::/64',
          startAddress: '2001:db8:ab::10',
          endAddress: '2001:db8:ab::ff',
          managedByService: 'Non-MS DHCP',
          assignmentType: 'Dynamic',
        });
      });

      it('refuses an overlapping range in the same block with OVERLAP', async () => {
        await block({ network: '10.0.0.0/8' });
        await range({ network: '10.1.0.0/24' });
        const err = await failure(range({ network: '10.1.0.128/25' }));
        expect(err.code).to.equal('OVERLAP');
        expect(err.message).to.contain('10.1.0.0/24');
      });

      it('unmapped ranges must not overlap either; ranges in different blocks may', async () => {
        await range({ network: '192.0.2.0/24', managedByService: 'VMM' });
        expect((await failure(range({ network: '192.0.2.0/25' }))).code).to.equal('OVERLAP');
      });

      it('maps to the most specific of two nested blocks and moves when that block is deleted', async () => {
        const outer = await block({ network: '10.0.0.0/8' });
        const inner = await block({ network: '10.1.0.0/16' });
        const r = await range({ network: '10.1.2.0/24' });
        expect(r.blockId).to.equal(inner.id);
        await run('block', 'delete', { id: inner.id });
        expect((await run<RangeRecord>('range', 'get', { id: r.id })).blockId).to.equal(outer.id);
        await run('block', 'delete', { id: outer.id });
        expect((await run<RangeRecord>('range', 'get', { id: r.id })).blockId).to.equal(null);
      });

      it('a block added later takes the ranges inside it', async () => {
        const r = await range({ network: '10.1.2.0/24' });
        const b = await block({ network: '10.1.0.0/16' });
        expect((await run<RangeRecord>('range', 'get', { id: r.id })).blockId).to.equal(b.id);
      });

      it('refuses to delete a block when its ranges would overlap ranges of the parent', async () => {
        await block({ network: '10.0.0.0/8' });
        const inner = await block({ network: '10.1.0.0/16' });
        await range({ network: '10.1.0.0/24' });
        const parentRange = await range({ network: '10.0.0.0/15', startAddress: '10.0.255.0', endAddress: '10.1.0.5' });
        expect(parentRange.blockId).to.not.equal(inner.id); // it crosses the inner block's edge
        const err = await failure(run('block', 'delete', { id: inner.id }));
        expect(err.code).to.equal('OVERLAP');
        expect((await run<BlockRecord[]>('block', 'list', {})).length).to.equal(2);
      });

      it('MS DHCP and Kea DHCP are reserved for discovered ranges', async () => {
        for (const service of ['MS DHCP', 'ms-dhcp', 'Kea DHCP']) {
          const err = await failure(range({ network: '10.9.0.0/24', managedByService: service }));
          expect(err.code, service).to.equal('RESERVED_VALUE');
          expect(err.field).to.equal('managedByService');
        }
        expect(await run('range', 'list', {})).to.deep.equal([]);
      });

      it('addressSpace isolates overlapping private space', async () => {
        await range({ network: '10.1.0.0/24', addressSpace: 'Tenant A' });
        await range({ network: '10.1.0.0/24', addressSpace: 'Tenant B' });
        expect(await run<RangeRecord[]>('range', 'list', { addressSpace: 'Tenant B' })).to.have.length(1);
        expect((await failure(range({ network: '10.1.0.0/24', addressSpace: 'bad|name' }))).field).to.equal('addressSpace');
      });

      it('updates bounds and re-maps addresses; refuses an update into overlap', async () => {
        const r = await range({ network: '10.1.0.0/24', startAddress: '10.1.0.1', endAddress: '10.1.0.99' });
        await range({ network: '10.1.0.0/24', startAddress: '10.1.0.200', endAddress: '10.1.0.250' });
        const a = await address({ address: '10.1.0.150' });
        expect(a.rangeId).to.equal(null);
        const grown = await run<RangeRecord>('range', 'update', { id: r.id, endAddress: '10.1.0.199' });
        expect(grown.endAddress).to.equal('10.1.0.199');
        expect((await run<AddressRecord>('address', 'get', { address: '10.1.0.150' })).rangeId).to.equal(r.id);
        expect((await failure(run('range', 'update', { id: r.id, endAddress: '10.1.0.210' }))).code).to.equal('OVERLAP');
      });
    });

    describe('addresses', () => {
      it('map to the range with the same service and instance, and to the most specific block', async () => {
        const b = await block({ network: '10.0.0.0/8' });
        const ipamRange = await range({ network: '10.1.0.0/24' });
        const other = await range({ network: '10.2.0.0/24', managedByService: 'VMM', serviceInstance: 'vmm1' });
        expect(await address({ address: '10.1.0.5' })).to.include({ rangeId: ipamRange.id, blockId: b.id });
        expect(await address({ address: '10.2.0.5' })).to.include({ rangeId: null, blockId: b.id });
        expect(await address({ address: '10.2.0.6', managedByService: 'vmm', serviceInstance: 'vmm1' })).to.include({ rangeId: other.id });
        expect(await address({ address: '10.1.0.7', managedByService: 'MS DHCP', serviceInstance: 'dhcp1' })).to.include({ rangeId: null });
      });

      it('are unique within an address space and canonical', async () => {
        const a = await address({ address: '2001:DB8::0:1', macAddress: '00AA.BBCC.DDEE', deviceType: 'load balancer', ipAddressState: 'in use' });
        expect(a).to.include({ address: '2001:db8::1', macAddress: '00:aa:bb:cc:dd:ee', deviceType: 'Load Balancer', ipAddressState: 'In-Use' });
        const dup = await failure(address({ address: '2001:db8::1' }));
        expect(dup.code).to.equal('DUPLICATE');
        expect(dup.message).to.contain('2001:db8::1');
        expect(await address({ address: '2001:db8::1', addressSpace: 'Lab' })).to.include({ addressSpace: 'Lab' });
      });

      it('refuses bad field values by name and writes nothing', async () => {
        const cases: [unknown, string][] = [
          [{ address: '10.0.0.1', macAddress: 'zz' }, 'macAddress'],
          [{ address: '10.0.0.1', ipAddressState: 'gone' }, 'ipAddressState'],
          [{ address: '10.0.0.1', expiryDate: '2026-02-30' }, 'expiryDate'],
          [{ address: '10.0.0.1', colour: 'red' }, 'colour'],
          [{ address: '10.0.0.1', customFields: { Site: 'x' } }, 'customFields.Site'],
          [{ address: '010.0.0.1' }, 'address'],
        ];
        for (const [payload, field] of cases) expect((await failure(address(payload))).field, field).to.equal(field);
        expect(await run('address', 'list', {})).to.deep.equal([]);
      });

      it('concurrent updates of different fields both land; requestIds survive updates and are named when taken', async () => {
        await range({ network: '10.1.0.0/24' });
        const a = await address({ address: '10.1.0.50', deviceName: 'old' });
        await Promise.all([
          run('address', 'update', { id: a.id, deviceName: 'new' }),
          run('address', 'update', { id: a.id, description: 'racked' }),
        ]);
        expect(await run('address', 'get', { id: a.id })).to.include({ deviceName: 'new', description: 'racked' });
        const set = await run<AddressRecord[]>('address', 'allocate', { range: '10.1.0.0/24', count: 3, requestId: 'req-1' });
        const updated = await run('address', 'update', { id: set[1].id, description: 'second of three' });
        expect(updated).to.include({ requestId: 'req-1', description: 'second of three' });
        const again = await run<AddressRecord[]>('address', 'allocate', { range: '10.1.0.0/24', count: 3, requestId: 'req-1' });
        expect(again.map((r) => r.id)).to.deep.equal(set.map((r) => r.id));
        const taken = await failure(address({ address: '10.1.0.99', requestId: 'req-1' }));
        expect(taken).to.include({ code: 'DUPLICATE', field: 'requestId' });
      });

      it('follow their range: a smaller range takes them, deleting it hands them back', async () => {
        const wide = await range({ network: '10.1.0.0/16' });
        await block({ network: '10.1.0.0/16' });
        const a = await address({ address: '10.1.2.3' });
        expect(a.rangeId).to.equal(wide.id);
        const b2 = await block({ network: '10.1.2.0/24' });
        const narrow = await range({ network: '10.1.2.0/24' });
        expect(narrow.blockId).to.equal(b2.id);
        const moved = await run<AddressRecord>('address', 'get', { id: a.id });
        expect(moved).to.include({ rangeId: narrow.id, blockId: b2.id });
        await run('range', 'delete', { id: narrow.id });
        expect((await run<AddressRecord>('address', 'get', { id: a.id })).rangeId).to.equal(wide.id);
        await run('range', 'delete', { id: wide.id });
        expect((await run<AddressRecord>('address', 'get', { id: a.id })).rangeId).to.equal(null);
      });
    });

    describe('utilization', () => {
      it('counts assigned addresses and range coverage without enumerating', async () => {
        await block({ network: '10.0.0.0/8' });
        const r = await range({ network: '10.1.0.0/24' });
        await range({ network: '10.2.0.0/24' });
        for (const host of [1, 2, 3, 4]) await address({ address: `10.1.0.${host}` });
        await address({ address: '10.200.0.1' });
        expect(await run('range', 'utilization', { id: r.id })).to.deep.equal({
          size: 254, rangeSize: 254, assigned: 4, free: 250, utilizedPercent: 1.57,
        });
        expect(await run('block', 'utilization', { network: '10.0.0.0/8' })).to.deep.equal({
          size: 16777216, rangeSize: 508, assigned: 5, free: 16777211, utilizedPercent: 0,
        });
      });

      it('IPv6 sizes beyond 2^53 are decimal strings', async () => {
        await block({ network: '2001:db8::/32' });
        await range({ network: '2001:db8:0:1::/64' });
        const u = await run<Record<string, unknown>>('block', 'utilization', { network: '2001:db8::/32' });
        expect(u).to.deep.equal({
          size: '79228162514264337593543950336',
          rangeSize: '18446744073709551615',
          assigned: 0,
          free: '79228162514264337593543950336',
          utilizedPercent: 0,
        });
      });
    });

    it('list filters take typed values as text (HTTP query strings) and refuse bad ones by name', async () => {
      await block({ network: '10.0.0.0/8' });
      await block({ network: '65.52.0.0/14', rir: 'ARIN' });
      const found = await run<BlockRecord[]>('block', 'list', { isPrivate: 'true', prefixLength: '8' });
      expect(found.map((b) => b.network)).to.deep.equal(['10.0.0.0/8']);
      expect(await run<BlockRecord[]>('block', 'list', { isPrivate: false, family: '4' })).to.have.length(1);
      expect((await failure(run('block', 'list', { prefixLength: 'eight' }))).field).to.equal('filter.prefixLength');
      expect((await failure(run('block', 'list', { isPrivate: 'yes' }))).field).to.equal('filter.isPrivate');
    });

    it('updates clear optional fields given as null or empty, and keep required ones', async () => {
      const b = await block({ network: '65.52.0.0/14', rir: 'ARIN', description: 'public' });
      expect(await run('block', 'update', { id: b.id, description: '' })).to.not.have.property('description');
      expect(await run('block', 'get', { id: b.id })).to.not.have.property('description');
      expect((await failure(run('block', 'update', { id: b.id, rir: null }))).field).to.equal('rir');
      const r = await range({ network: '10.1.0.0/24', description: 'lan', exclusions: [{ startAddress: '10.1.0.1', endAddress: '10.1.0.9' }] });
      await run('range', 'update', { id: r.id, description: null, exclusions: [] });
      const stored = await run<RangeRecord>('range', 'get', { id: r.id });
      expect(stored).to.not.have.property('description');
      expect(stored).to.not.have.property('exclusions');
      const a = await address({ address: '10.1.0.20', expiryDate: '2030-01-01', deviceName: 'pc' });
      await run('address', 'update', { id: a.id, expiryDate: null, deviceName: '' });
      const cleared = await run<AddressRecord>('address', 'get', { id: a.id });
      expect(cleared).to.not.have.property('expiryDate');
      expect(cleared).to.not.have.property('deviceName');
    });

    it('two updates of one range within one millisecond both apply (updatedAt still moves on)', async () => {
      const r = await range({ network: '10.1.0.0/24' });
      const realNow = Date.now;
      const frozen = realNow() + 1000;
      Date.now = () => frozen;
      let first: RangeRecord;
      try {
        first = await run<RangeRecord>('range', 'update', { id: r.id, endAddress: '10.1.0.100' });
        await run('range', 'update', { id: r.id, description: 'x' });
      } finally {
        Date.now = realNow;
      }
      const stored = await run<RangeRecord>('range', 'get', { id: r.id });
      expect(stored).to.include({ endAddress: '10.1.0.100', description: 'x' });
      expect(stored.updatedAt > first.updatedAt, `${stored.updatedAt} after ${first.updatedAt}`).to.equal(true);
    });

    it('concurrent updates of one range both apply; a range cannot change address space', async () => {
      const r = await range({ network: '10.1.0.0/24' });
      await Promise.all([
        run('range', 'update', { id: r.id, endAddress: '10.1.0.100' }),
        run('range', 'update', { id: r.id, description: 'x' }),
      ]);
      expect(await run('range', 'get', { id: r.id })).to.include({ endAddress: '10.1.0.100', description: 'x' });
      expect((await failure(run('range', 'update', { id: r.id, addressSpace: 'Other' }))).field).to.equal('addressSpace');
    });

    it('list filters refuse query operators and unknown fields', async () => {
      expect((await failure(run('block', 'list', { network: { $ne: null } }))).field).to.equal('filter.network');
      expect((await failure(run('range', 'list', { $where: 'x' }))).field).to.equal('filter.$where');
      expect((await failure(run('block', 'nonsense', {}))).field).to.equal('operation');
    });
  });
}
