/**
 * Allocation hints after an import (lib/allocation/hint.ts refreshHints, run by the address import): each range
 * the import wrote into has its stored hint at its first free address (past its end when full), written in
 * shared batches, so the first allocation after the import starts there.
 */
import { expect } from 'chai';
import { refreshHints, type AllocatedRecord } from '../../../lib/allocation';
import { Ipam } from '../../../lib/ipam';
import { addressKey, parseAddress } from '../../../lib/address';
import type { RangeRecord } from '../../../lib/record';
import { availableStores } from '../../support/stores';

const HEADER = 'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type';
const row = (address: string) => `${address},IPAM,Localhost,Host,In-Use,Static`;
const keyOf = (address: string) => addressKey('Default', 4, parseAddress(address).value);

for (const factory of availableStores()) {
  describe(`allocation hints after an import: ${factory.name}`, () => {
    let ipam: Ipam;
    beforeEach(async () => {
      ipam = Ipam.over(await factory.open());
    });
    afterEach(() => ipam.close());
    after(async () => factory.shutdown?.());

    const hintOf = async (id: string) => ((await ipam.store.collection('ranges').findOne({ id })) as { freeHint?: string } | null)?.freeHint;

    it('moves each written range to its first free address, or past its end when the import filled it', async () => {
      const partly = (await ipam.perform('range', 'add', { network: '10.7.0.0/24' })) as RangeRecord;
      const full = (await ipam.perform('range', 'add', { network: '10.7.1.0/29' })) as RangeRecord;
      const untouched = (await ipam.perform('range', 'add', { network: '10.7.2.0/24' })) as RangeRecord;
      const untouchedHint = await hintOf(untouched.id);
      const rows = [
        ...[1, 2, 3, 4, 6].map((n) => row(`10.7.0.${n}`)),
        ...[1, 2, 3, 4, 5, 6].map((n) => row(`10.7.1.${n}`)),
      ];
      await ipam.perform('import', 'import', { entity: 'addresses', csv: [HEADER, ...rows].join('\n') });
      expect(await hintOf(partly.id)).to.equal(keyOf('10.7.0.5'));
      expect(await hintOf(full.id)).to.equal(keyOf('10.7.1.7'));
      expect(await hintOf(untouched.id)).to.equal(untouchedHint);
      const next = (await ipam.perform('address', 'allocate', { range: partly.id })) as AllocatedRecord;
      expect(next.address).to.equal('10.7.0.5');
    });

    it('ignores ranges that no longer exist and never moves a hint back', async () => {
      const range = (await ipam.perform('range', 'add', { network: '10.8.0.0/24' })) as RangeRecord;
      for (let i = 0; i < 3; i++) await ipam.perform('address', 'allocate', { range: range.id });
      await refreshHints(ipam, [range.id]);
      const hint = await hintOf(range.id);
      expect(hint).to.equal(keyOf('10.8.0.4'));
      await ipam.store.collection('addresses').deleteMany({ address: '10.8.0.2' });
      await refreshHints(ipam, ['no-such-range', range.id]);
      expect(await hintOf(range.id)).to.equal(hint);
    });
  });
}
