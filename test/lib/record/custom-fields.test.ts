/**
 * Custom fields: definitions persisted in the store, validation on add/update, in-use protection,
 * and the one start-up call of ipam-config (applyDefinitions).
 */
import { expect } from 'chai';
import {
  defineCustomField,
  listCustomFields,
  removeCustomField,
} from '../../../lib/record/custom-fields';
import { Ipam } from '../../../lib/ipam';
import { applyDefinitions, defineRangeGroup, listRangeGroups } from '../../../lib/lifecycle';
import type { AddressRecord, RangeRecord } from '../../../lib/record/records';
import { openStore } from '../../../lib/store';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores, tempDir } from '../../support/stores';
import { failure } from '../../support/failure';

const AD_SITE = { name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon', 'Berlin'] };
const OWNER = { name: 'Owner', multiValue: false };

for (const factory of availableStores()) {
  describe(`custom fields: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const range = (payload: unknown) => ipam.perform('range', 'add', payload) as Promise<RangeRecord>;
    const address = (payload: unknown) => ipam.perform('address', 'add', payload) as Promise<AddressRecord>;

    describe('definitions', () => {
      it('defines, lists and redefines fields by case-insensitive name', async () => {
        await defineCustomField(ipam, AD_SITE);
        await defineCustomField(ipam, OWNER);
        await defineCustomField(ipam, { name: 'owner', multiValue: false });
        const fields = await listCustomFields(ipam);
        expect(fields).to.deep.equal([AD_SITE, { name: 'owner', multiValue: false }]);
      });

      it('refuses names that cannot be document keys or that shadow a record field', async () => {
        for (const name of ['AD.Site', '$where', '', 'Device Type', 'managedByService', 'blockKind']) {
          const err = await failure(defineCustomField(ipam, { name, multiValue: false }));
          expect(err.code, name).to.equal('VALIDATION');
          expect(err.field).to.equal('customField.name');
        }
        expect(await listCustomFields(ipam)).to.deep.equal([]);
      });

      it('a multi-value field needs allowed values; a single-value one takes none', async () => {
        expect((await failure(defineCustomField(ipam, { name: 'Floor', multiValue: true, allowedValues: [] }))).field)
          .to.equal('customField.allowedValues');
        expect((await failure(defineCustomField(ipam, { name: 'Floor', multiValue: false, allowedValues: ['1'] }))).field)
          .to.equal('customField.allowedValues');
      });

      it('is persisted in the store: reopening the store (a restart) finds the definitions', async () => {
        const directory = tempDir();
        const first = Ipam.over(await openStore({ kind: 'embedded', directory }));
        await defineCustomField(first, AD_SITE);
        await first.close();
        const second = Ipam.over(await openStore({ kind: 'embedded', directory }));
        try {
          expect(await listCustomFields(second)).to.deep.equal([AD_SITE]);
        } finally {
          await second.close();
        }
      });
    });

    describe('values on records', () => {
      beforeEach(async () => {
        await defineCustomField(ipam, AD_SITE);
        await defineCustomField(ipam, OWNER);
      });

      it('a multi-value field takes only its defined values, canonically spelled', async () => {
        const added = await range({ network: '10.1.0.0/24', customFields: { 'ad site': ['paris', 'LYON'] } });
        expect(added.customFields).to.deep.equal({ 'AD Site': ['Paris', 'Lyon'] });
        const err = await failure(range({ network: '10.2.0.0/24', customFields: { 'AD Site': ['Paris', 'Madrid'] } }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.field).to.equal('customFields.AD Site');
        expect(err.message).to.contain('"Madrid"').and.to.contain('"Paris", "Lyon", "Berlin"');
        expect(await ipam.perform('range', 'list', {})).to.have.length(1);
      });

      it('a multi-value field given as one text (a CSV cell) is split on ";"', async () => {
        const added = await address({ address: '10.9.0.1', customFields: { 'AD Site': 'Berlin; Paris' } });
        expect(added.customFields).to.deep.equal({ 'AD Site': ['Berlin', 'Paris'] });
      });

      it('a single-value field takes free text, not a list', async () => {
        const added = await address({ address: '10.9.0.2', customFields: { Owner: ' Lab team 4 ' } });
        expect(added.customFields).to.deep.equal({ Owner: 'Lab team 4' });
        const err = await failure(address({ address: '10.9.0.3', customFields: { Owner: ['a', 'b'] } }));
        expect(err.field).to.equal('customFields.Owner');
      });

      it('an undefined field is refused on add and on update', async () => {
        const err = await failure(address({ address: '10.9.0.4', customFields: { Building: 'B1' } }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.field).to.equal('customFields.Building');
        await address({ address: '10.9.0.4' });
        const onUpdate = await failure(ipam.perform('address', 'update', { address: '10.9.0.4', customFields: { Building: 'B1' } }));
        expect(onUpdate.field).to.equal('customFields.Building');
        const onUpdateValue = await failure(ipam.perform('address', 'update', { address: '10.9.0.4', customFields: { 'AD Site': 'Rome' } }));
        expect(onUpdateValue.field).to.equal('customFields.AD Site');
      });
    });

    describe('in-use protection', () => {
      beforeEach(async () => {
        await defineCustomField(ipam, AD_SITE);
        await defineCustomField(ipam, OWNER);
      });

      it('a field used by 3 ranges cannot be removed; the error names where it is used', async () => {
        for (const n of [1, 2, 3]) await range({ network: `10.${n}.0.0/24`, customFields: { 'AD Site': 'Paris' } });
        const err = await failure(removeCustomField(ipam, 'ad site'));
        expect(err.code).to.equal('IN_USE');
        expect(err.message).to.contain('customFields "AD Site" is used by 3 ranges');
        expect(await listCustomFields(ipam)).to.have.length(2);
        for (const n of [1, 2, 3]) await ipam.perform('range', 'delete', { network: `10.${n}.0.0/24` });
        expect((await removeCustomField(ipam, 'AD Site')).removed.name).to.equal('AD Site');
        expect((await listCustomFields(ipam)).map((f) => f.name)).to.deep.equal(['Owner']);
      });

      it('counts every entity and becomes removable once cleared from the address', async () => {
        await range({ network: '10.1.0.0/24', customFields: { Owner: 'net' } });
        await address({ address: '10.7.0.1', customFields: { Owner: 'me' } });
        const err = await failure(removeCustomField(ipam, 'Owner'));
        expect(err.message).to.contain('is used by 1 range and 1 address');
        await ipam.perform('address', 'update', { address: '10.7.0.1', customFields: {} });
        await ipam.perform('range', 'delete', { network: '10.1.0.0/24' });
        await removeCustomField(ipam, 'Owner');
      });

      it('an allowed value in use cannot be dropped, nor the field switch to single-value', async () => {
        await address({ address: '10.7.0.1', customFields: { 'AD Site': ['Lyon'] } });
        const dropped = await failure(defineCustomField(ipam, { ...AD_SITE, allowedValues: ['Paris', 'Berlin'] }));
        expect(dropped.code).to.equal('IN_USE');
        expect(dropped.message).to.contain('value "Lyon" is used by 1 address');
        const switched = await failure(defineCustomField(ipam, { name: 'AD Site', multiValue: false }));
        expect(switched.code).to.equal('IN_USE');
        await defineCustomField(ipam, { ...AD_SITE, allowedValues: ['Lyon', 'Madrid'] });
        expect((await listCustomFields(ipam))[0].allowedValues).to.deep.equal(['Lyon', 'Madrid']);
      });

      it('a field that groups a range group cannot be removed', async () => {
        await defineRangeGroup(ipam, { name: 'Sites', criteria: ['AD Site'] });
        const err = await failure(removeCustomField(ipam, 'AD Site'));
        expect(err.code).to.equal('IN_USE');
        expect(err.message).to.contain('range group "Sites"');
      });
    });

    describe('applyDefinitions (ipam-config start-up)', () => {
      it('makes the store agree with the lists: adds, updates, removes unused', async () => {
        await defineCustomField(ipam, { name: 'Old', multiValue: false });
        const applied = await applyDefinitions(ipam, {
          customFields: [AD_SITE, OWNER],
          rangeGroups: [{ name: 'Sites', criteria: ['AD Site', 'Managed by Service'] }],
        });
        expect(applied.changes.customFields).to.deep.equal({ added: ['AD Site', 'Owner'], updated: [], removed: ['Old'] });
        expect(applied.rangeGroups.map((g) => g.name)).to.deep.equal(['Managed by Service', 'Sites']);
        expect(applied.rangeGroups[1].criteria).to.deep.equal(['AD Site', 'managedByService']);
        const again = await applyDefinitions(ipam, { customFields: [AD_SITE, OWNER], rangeGroups: [] });
        expect(again.changes.customFields).to.deep.equal({ added: [], updated: [], removed: [] });
        expect(again.changes.rangeGroups).to.deep.equal({ added: [], updated: [], removed: ['Sites'] });
      });

      it('refuses to remove a field in use and writes nothing', async () => {
        await applyDefinitions(ipam, { customFields: [AD_SITE, OWNER], rangeGroups: [{ name: 'Owners', criteria: ['Owner'] }] });
        await range({ network: '10.1.0.0/24', customFields: { 'AD Site': 'Paris' } });
        await range({ network: '10.2.0.0/24', customFields: { 'AD Site': 'Lyon' } });
        const err = await failure(applyDefinitions(ipam, { customFields: [OWNER], rangeGroups: [] }));
        expect(err.code).to.equal('IN_USE');
        expect(err.message).to.contain('customFields "AD Site" is used by 2 ranges');
        expect((await listCustomFields(ipam)).map((f) => f.name)).to.deep.equal(['AD Site', 'Owner']);
        expect((await listRangeGroups(ipam)).map((g) => g.name)).to.deep.equal(['Managed by Service', 'Owners']);
      });

      it('refuses to drop a field a kept range group uses', async () => {
        await applyDefinitions(ipam, { customFields: [AD_SITE], rangeGroups: [{ name: 'Sites', criteria: ['AD Site'] }] });
        const err = await failure(applyDefinitions(ipam, { customFields: [] }));
        expect(err.code).to.equal('IN_USE');
        expect(err.message).to.contain('range group "Sites"');
        const invalidGroup = await failure(applyDefinitions(ipam, { customFields: [], rangeGroups: [{ name: 'Sites', criteria: ['AD Site'] }] }));
        expect(invalidGroup.code).to.equal('VALIDATION');
        expect(invalidGroup.field).to.equal('rangeGroups.0.criteria.0');
        await applyDefinitions(ipam, { customFields: [], rangeGroups: [] });
        expect(await listCustomFields(ipam)).to.deep.equal([]);
      });

      it('validates the lists: duplicate names, bad names, duplicate groups, the built-in group', async () => {
        expect((await failure(applyDefinitions(ipam, { customFields: [OWNER, { name: 'OWNER', multiValue: false }] }))).field)
          .to.equal('customFields.1.name');
        expect((await failure(applyDefinitions(ipam, { customFields: [{ name: 'a.b', multiValue: false }] }))).field)
          .to.equal('customFields.0.name');
        expect((await failure(applyDefinitions(ipam, { rangeGroups: [{ name: 'G', criteria: ['family'] }, { name: 'g', criteria: ['family'] }] }))).field)
          .to.equal('rangeGroups.1.name');
        expect((await failure(applyDefinitions(ipam, { rangeGroups: [{ name: 'Managed by Service', criteria: ['family'] }] }))).field)
          .to.equal('rangeGroups.0.name');
        const unchanged = await applyDefinitions(ipam, {
          rangeGroups: [{ name: 'Managed by Service', criteria: ['Managed by Service', 'Service Instance'] }],
        });
        expect(unchanged.rangeGroups).to.have.length(1);
      });
    });
  });
}
