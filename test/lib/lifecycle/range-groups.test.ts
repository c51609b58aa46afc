/**
 * Range groups: definitions (the built-in `Managed by Service` group always exists) and
 * group-utilization numbers checked against hand-computed ones.
 */
import { expect } from 'chai';
import { defineCustomField } from '../../../lib/record';
import { Ipam } from '../../../lib/ipam';
import {
  defineRangeGroup,
  listRangeGroups,
  rangeGroupRows,
  removeRangeGroup,
  type GroupRow,
} from '../../../lib/lifecycle/range-groups';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores } from '../../support/stores';
import { failure } from '../../support/failure';

/** The comparable part of a row. */
function brief(row: GroupRow): unknown[] {
  return [row.path.join(' / '), row.ranges, row.size, row.assigned, row.free, row.utilizedPercent];
}

for (const factory of availableStores()) {
  describe(`range groups: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened), (opened) => defineCustomField(opened, { name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] }));

    describe('definitions', () => {
      it('Managed by Service always exists and can be neither removed nor redefined', async () => {
        expect(await listRangeGroups(ipam)).to.deep.equal([
          { name: 'Managed by Service', criteria: ['managedByService', 'serviceInstance'], builtIn: true },
        ]);
        expect((await failure(removeRangeGroup(ipam, 'managed by service'))).code).to.equal('VALIDATION');
        expect((await failure(defineRangeGroup(ipam, { name: 'Managed by Service', criteria: ['family'] }))).code)
          .to.equal('VALIDATION');
        expect(await listRangeGroups(ipam)).to.have.length(1);
      });

      it('criteria are range fields (any spelling) or defined custom fields, at least one, no repeats', async () => {
        const group = await defineRangeGroup(ipam, { name: 'Sites', criteria: ['ad site', 'Assignment Type'] });
        expect(group).to.deep.equal({ name: 'Sites', criteria: ['AD Site', 'assignmentType'] });
        expect((await failure(defineRangeGroup(ipam, { name: 'X', criteria: [] }))).field).to.equal('rangeGroup.criteria');
        expect((await failure(defineRangeGroup(ipam, { name: 'X', criteria: ['Building'] }))).field).to.equal('rangeGroup.criteria.0');
        expect((await failure(defineRangeGroup(ipam, { name: 'X', criteria: ['family', 'Family'] }))).field).to.equal('rangeGroup.criteria.1');
      });

      it('names are unique (case-insensitive): defining an existing name replaces its criteria', async () => {
        await defineRangeGroup(ipam, { name: 'Sites', criteria: ['AD Site'] });
        await defineRangeGroup(ipam, { name: 'sites', criteria: ['family'] });
        const groups = await listRangeGroups(ipam);
        expect(groups.map((g) => [g.name, g.criteria])).to.deep.equal([
          ['Managed by Service', ['managedByService', 'serviceInstance']],
          ['sites', ['family']],
        ]);
        await removeRangeGroup(ipam, 'SITES');
        expect(await listRangeGroups(ipam)).to.have.length(1);
        expect((await failure(removeRangeGroup(ipam, 'Sites'))).code).to.equal('NOT_FOUND');
      });
    });

    describe('group-utilization', () => {
      // R1 10.1.0.0/24 IPAM/Localhost Paris        usable .1-.254  = 254, 5 addresses
      // R2 10.2.0.0/23 IPAM/Localhost Lyon         usable          = 510, 3 addresses
      // R3 10.3.0.0/24 Other/srv1     Paris+Lyon                   = 254, 2 addresses
      // R4 2001:db8::/64 IPAM/Localhost (no site)  ::1 - last      = 2^64 - 1, 4 addresses
      const R4_SIZE = (2n ** 64n - 1n);
      beforeEach(async () => {
        const range = (payload: unknown) => ipam.perform('range', 'add', payload);
        const address = (payload: unknown) => ipam.perform('address', 'add', payload);
        await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
        await range({ network: '10.1.0.0/24', customFields: { 'AD Site': 'Paris' } });
        await range({ network: '10.2.0.0/23', customFields: { 'AD Site': ['Lyon'] } });
        await range({ network: '10.3.0.0/24', managedByService: 'Other', serviceInstance: 'srv1', customFields: { 'AD Site': ['Paris', 'Lyon'] } });
        await range({ network: '2001:db8::/64' });
        for (let i = 1; i <= 5; i++) await address({ address: `10.1.0.${i}` });
        for (let i = 1; i <= 3; i++) await address({ address: `10.2.1.${i}` });
        for (let i = 1; i <= 2; i++) await address({ address: `10.3.0.${i}`, managedByService: 'Other', serviceInstance: 'srv1' });
        for (let i = 1; i <= 4; i++) await address({ address: `2001:db8::${i}` });
        // Addresses outside every range, or of another service, count for no range.
        await address({ address: '10.1.0.9', managedByService: 'VMM' });
        await address({ address: '10.200.0.1' });
      });

      it('Managed by Service (the default group): per service, then per instance', async () => {
        const rows = (await ipam.perform('range', 'group-utilization', {})) as GroupRow[];
        const ipamSize = (254n + 510n + R4_SIZE).toString(); // 18446744073709551615 + 764
        expect(ipamSize).to.equal('18446744073709552379');
        expect(rows.map(brief)).to.deep.equal([
          // 12 / 18446744073709552378 is far below 0.01 %
          ['IPAM', 3, ipamSize, 12, (254n + 510n + R4_SIZE - 12n).toString(), 0],
          ['IPAM / Localhost', 3, ipamSize, 12, (254n + 510n + R4_SIZE - 12n).toString(), 0],
          // 2 / 254 = 0.787 % -> 0.78 (two decimals, truncated)
          ['Other', 1, 254, 2, 252, 0.78],
          ['Other / srv1', 1, 254, 2, 252, 0.78],
        ]);
        expect(rows.map((r) => [r.level, r.criterion])).to.deep.equal([
          [1, 'managedByService'], [2, 'serviceInstance'], [1, 'managedByService'], [2, 'serviceInstance'],
        ]);
      });

      it('a custom multi-value criterion counts a range under each of its values, once per parent', async () => {
        await defineRangeGroup(ipam, { name: 'Sites', criteria: ['AD Site', 'Managed by Service'] });
        const rows = (await ipam.perform('range', 'group-utilization', { group: 'sites' })) as GroupRow[];
        expect(rows.map(brief)).to.deep.equal([
          // Lyon: R2 + R3 = 510 + 254 = 764, 3 + 2 = 5 assigned, 5/764 = 0.654 % -> 0.65
          ['Lyon', 2, 764, 5, 759, 0.65],
          ['Lyon / IPAM', 1, 510, 3, 507, 0.58], // 3/510 = 0.588 %
          ['Lyon / Other', 1, 254, 2, 252, 0.78],
          // Paris: R1 + R3 = 508, 5 + 2 = 7 assigned, 7/508 = 1.377 % -> 1.37
          ['Paris', 2, 508, 7, 501, 1.37],
          ['Paris / IPAM', 1, 254, 5, 249, 1.96], // 5/254 = 1.968 %
          ['Paris / Other', 1, 254, 2, 252, 0.78],
          // Ranges without the field: R4 only, its size as a decimal string
          ['', 1, R4_SIZE.toString(), 4, (R4_SIZE - 4n).toString(), 0],
          [' / IPAM', 1, R4_SIZE.toString(), 4, (R4_SIZE - 4n).toString(), 0],
        ]);
        expect(rows[6].value).to.equal(null);
      });

      it('takes a range filter; family values group numerically', async () => {
        await defineRangeGroup(ipam, { name: 'Families', criteria: ['family', 'prefixLength'] });
        const v4 = (await ipam.perform('range', 'group-utilization', { group: 'Families', family: 4 })) as GroupRow[];
        expect(v4.map(brief)).to.deep.equal([
          ['4', 3, 1018, 10, 1008, 0.98], // 10 / 1018 = 0.982 %
          ['4 / 23', 1, 510, 3, 507, 0.58],
          ['4 / 24', 2, 508, 7, 501, 1.37],
        ]);
        const all = (await ipam.perform('range', 'group-utilization', { group: 'Families', filter: {} })) as GroupRow[];
        expect(all.map((r) => r.path.join('/'))).to.deep.equal(['4', '4/23', '4/24', '6', '6/64']);
        expect((await failure(ipam.perform('range', 'group-utilization', { group: 'Nope' }))).code).to.equal('NOT_FOUND');
        expect((await failure(ipam.perform('range', 'group-utilization', { group: 'Families', family: { $ne: 4 } }))).code)
          .to.equal('VALIDATION');
      });

      it('rangeGroupRows gives flat rows of every group for CSV export', async () => {
        await defineRangeGroup(ipam, { name: 'Sites', criteria: ['AD Site'] });
        const rows = await rangeGroupRows(ipam);
        expect(rows.map((r) => r.group)).to.deep.equal([
          'Managed by Service', 'Managed by Service', 'Managed by Service', 'Managed by Service', 'Sites', 'Sites', 'Sites',
        ]);
        expect(rows[5]).to.deep.equal({
          group: 'Sites', level: 1, criterion: 'AD Site', value: 'Paris', path: 'Paris', ranges: 2, size: 508, assigned: 7, free: 501, utilizedPercent: 1.37,
        });
        expect(rows[6]).to.include({ value: '', path: '', size: R4_SIZE.toString() });
      });
    });
  });
}
