/**
 * CSV import, import-and-update and export (lib/csv), starting from the guide's own examples pasted as
 * they stand (typographic quotes, spaces after commas, trailing spaces of the markdown source).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { CsvOutcome, CsvRequest, ImportResult } from '../../../lib/csv';
import { normaliseQuotes } from '../../../lib/csv/source';
import { defineCustomField, type AddressRecord, type BlockRecord, type RangeRecord } from '../../../lib/record';
import { Ipam } from '../../../lib/ipam';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores, tempDir } from '../../support/stores';
import { failure } from '../../support/failure';

/** The guide's examples, copied from managing-ip-address-space.md (each line keeps its two trailing spaces). */
const GUIDE_ADDRESSES = [
  'IP address,managed by service,service instance,device type,ip address state,assignment type  ',
  '192.168.0.25,ms dhcp,dhcp1.contoso.com,host,in-use,static  ',
  '192.168.0.26,ms dhcp,dhcp1.contoso.com,host,in-use,static  ',
].join('\n');
const GUIDE_BLOCK = ['Network, start IP address, end IP address, RIR  ', '65.52.0.0/14, 65.52.0.0, 65.52.255.255, ARIN  '].join('\n');
const GUIDE_RANGE_HEADER =
  '“Network”, “Start IP address”, “End IP address”, “Managed by service”, “Service instance”, “Assignment Type”  ';
const GUIDE_RANGE = [GUIDE_RANGE_HEADER, '“192.168.100.0/24”, “192.168.100.1”, “192.168.100.254”, “IPAM”, “router”, “dynamic”  '].join('\n');
const GUIDE_RANGE_MS_DHCP = [GUIDE_RANGE_HEADER, '“192.168.100.0/24”, “192.168.100.1”, “192.168.100.254”, “MS DHCP”, “router”, “dynamic”  '].join('\n');

const ADDRESS_HEADER = 'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type';

for (const factory of availableStores()) {
  describe(`csv import and export: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const csv = (operation: string, request: CsvRequest) => ipam.perform('import', operation, request) as Promise<CsvOutcome>;
    const result = async (operation: string, request: CsvRequest) => (await csv(operation, request)).payload as ImportResult;
    const list = <T>(kind: 'block' | 'range' | 'address', filter: unknown = {}) => ipam.perform(kind, 'list', filter) as Promise<T[]>;
    const addresses = () => list<AddressRecord>('address');
    const ranges = () => list<RangeRecord>('range');

    describe("the guide's examples", () => {
      it('imports the two IP addresses (MS DHCP is allowed on addresses)', async () => {
        const outcome = await csv('import', { entity: 'addresses', csv: GUIDE_ADDRESSES });
        expect(outcome.errorReport).to.equal(undefined);
        expect(outcome.payload).to.deep.include({ entity: 'addresses', rows: 2, created: 2, failed: 0, errors: [] });
        const stored = await addresses();
        expect(stored.map((a) => a.address)).to.deep.equal(['192.168.0.25', '192.168.0.26']);
        expect(stored[0]).to.deep.include({
          managedByService: 'MS DHCP',
          serviceInstance: 'dhcp1.contoso.com',
          deviceType: 'Host',
          ipAddressState: 'In-Use',
          assignmentType: 'Static',
        });
      });

      it('imports the 65.52.0.0/14 block with ARIN, spaces after the commas', async () => {
        const outcome = await result('import', { entity: 'blocks', csv: GUIDE_BLOCK });
        expect(outcome).to.deep.include({ rows: 1, created: 1, failed: 0 });
        const [block] = await list<BlockRecord>('block');
        expect(block).to.deep.include({
          network: '65.52.0.0/14',
          startAddress: '65.52.0.0',
          endAddress: '65.52.255.255',
          rir: 'ARIN',
          isPrivate: false,
        });
      });

      it('imports the quoted range line (typographic quotes) with IPAM / router / dynamic', async () => {
        const outcome = await result('import', { entity: 'ranges', csv: GUIDE_RANGE });
        expect(outcome).to.deep.include({ rows: 1, created: 1, failed: 0 });
        const [range] = await ranges();
        expect(range).to.deep.include({
          network: '192.168.100.0/24',
          startAddress: '192.168.100.1',
          endAddress: '192.168.100.254',
          managedByService: 'IPAM',
          serviceInstance: 'router',
          assignmentType: 'Dynamic',
        });
      });

      it('refuses the same range line with MS DHCP (RESERVED_VALUE) and reports the line', async () => {
        const outcome = await csv('import', { entity: 'ranges', csv: GUIDE_RANGE_MS_DHCP });
        const payload = outcome.payload as ImportResult;
        expect(payload).to.deep.include({ rows: 1, created: 0, failed: 1 });
        expect(payload.errors).to.have.length(1);
        expect(payload.errors[0]).to.deep.include({ line: 2, field: 'managedByService', code: 'RESERVED_VALUE' });
        expect(payload.errors[0].message).to.contain('MS DHCP');
        expect(await ranges()).to.have.length(0);
        const report = outcome.errorReport!.trim().split('\n');
        expect(report[0]).to.equal('Network,Start IP address,End IP address,Managed by service,Service instance,Assignment Type,error');
        expect(report[1]).to.match(/^192\.168\.100\.0\/24,192\.168\.100\.1,192\.168\.100\.254,MS DHCP,router,dynamic,"?line 2: managedByService "*MS DHCP/);
      });
    });

    describe('reading CSV', () => {
      it('matches headers in any case and order, ignoring spaces, quotes and dashes', async () => {
        const text = [
          'assignment-type,"DEVICE TYPE",ipAddress,ip address state,ManagedByService,service_instance,mac-address,"Device name"',
          'static,router,10.0.0.1,inactive,ipam,Localhost,00-11-22-33-44-55,"core, left"',
        ].join('\r\n');
        expect(await result('import', { entity: 'addresses', csv: Buffer.from(text) })).to.deep.include({ created: 1, failed: 0 });
        const [address] = await addresses();
        expect(address).to.deep.include({
          address: '10.0.0.1',
          deviceType: 'Router',
          ipAddressState: 'Inactive',
          macAddress: '00:11:22:33:44:55',
          deviceName: 'core, left',
        });
      });

      it('keeps typographic quotes inside text and reads the guide names of nested fields', () => {
        expect(normaliseQuotes('“a”, “b”\n“c “quoted” d”,e')).to.equal('"a", "b"\n"c “quoted” d",e');
      });

      it('maps reservation and DNS columns to the nested fields', async () => {
        const text = [
          `${ADDRESS_HEADER},Reservation server name,Forward lookup zone,Expiry date`,
          '10.0.0.9,IPAM,Localhost,Host,In-Use,Static,dhcp1,contoso.com,2030-01-31',
        ].join('\n');
        expect(await result('import', { entity: 'addresses', csv: text })).to.deep.include({ created: 1 });
        const [address] = await addresses();
        expect(address.dhcpReservation).to.deep.equal({ serverName: 'dhcp1' });
        expect(address.dns).to.deep.equal({ forwardZone: 'contoso.com' });
        expect(address.expiryDate).to.equal('2030-01-31');
      });

      it('reads from a file named in filename, counting lines of multi-line values', async () => {
        const file = path.join(tempDir(), 'in.csv');
        fs.writeFileSync(file, `${ADDRESS_HEADER},Description\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static,"two\nlines"\n\n10.0.0.x,IPAM,Localhost,Host,In-Use,Static,bad\n`);
        const outcome = await result('import', { entity: 'addresses', filename: file });
        expect(outcome).to.deep.include({ rows: 2, created: 1, failed: 1 });
        expect(outcome.errors[0]).to.deep.include({ line: 5, field: 'address' });
      });

      it('maps imported addresses to their most specific block and range, across batches', async () => {
        const outer = (await ipam.perform('block', 'add', { network: '10.0.0.0/8' })) as BlockRecord;
        const inner = (await ipam.perform('block', 'add', { network: '10.1.0.0/16' })) as BlockRecord;
        const b1 = (await ipam.perform('block', 'add', { network: '10.1.1.0/24' })) as BlockRecord;
        const b2 = (await ipam.perform('block', 'add', { network: '10.1.2.0/24' })) as BlockRecord;
        const wide = (await ipam.perform('range', 'add', { network: '10.1.0.0/22' })) as RangeRecord;
        const narrow = (await ipam.perform('range', 'add', { network: '10.1.1.0/24', startAddress: '10.1.1.1', endAddress: '10.1.1.254' })) as RangeRecord;
        const other = (await ipam.perform('range', 'add', { network: '10.1.2.0/24', serviceInstance: 'sw9' })) as RangeRecord;
        const rows = ['10.1.0.5,Localhost', '10.1.1.5,Localhost', '10.1.2.5,sw9', '10.1.2.6,Localhost', '10.2.0.1,Localhost', '192.168.9.9,Localhost'];
        const text = [ADDRESS_HEADER, ...rows.map((r) => { const [a, i] = r.split(','); return `${a},IPAM,${i},Host,In-Use,Static`; })].join('\n');
        expect(await result('import', { entity: 'addresses', csv: text, batchSize: 2 })).to.deep.include({ created: 6 });
        const mapped = Object.fromEntries((await addresses()).map((a) => [a.address, [a.blockId, a.rangeId]]));
        expect(mapped).to.deep.equal({
          '10.1.0.5': [inner.id, wide.id],
          '10.1.1.5': [b1.id, narrow.id],
          '10.1.2.5': [b2.id, other.id],
          '10.1.2.6': [b2.id, wide.id],
          '10.2.0.1': [outer.id, null],
          '192.168.9.9': [null, null],
        });
      });

      it('refuses a missing file with VALIDATION naming it', async () => {
        const err = await failure(csv('import', { entity: 'addresses', filename: '/nonexistent/file.csv' }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.message).to.contain('/nonexistent/file.csv');
      });
    });

    describe('errors', () => {
      it('refuses a file without a mandatory column, naming it, and writes nothing', async () => {
        const text = 'IP address,managed by service,service instance,ip address state,assignment type\n10.0.0.1,IPAM,Localhost,In-Use,Static';
        const err = await failure(csv('import', { entity: 'addresses', csv: text }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.field).to.equal('header');
        expect(err.message).to.contain('"Device type"');
        expect(await addresses()).to.have.length(0);
      });

      it('fails a row whose mandatory cell is empty, and imports the others', async () => {
        const text = `${ADDRESS_HEADER}\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static\n10.0.0.2,IPAM,,Host,In-Use,Static`;
        const outcome = await result('import', { entity: 'addresses', csv: text });
        expect(outcome).to.deep.include({ rows: 2, created: 1, failed: 1 });
        expect(outcome.errors[0]).to.deep.include({ line: 3, field: 'serviceInstance' });
      });

      it('requires RIR for a public IPv4 block per row, and refuses it on a private one', async () => {
        const text = 'Network,Start IP address,End IP address,RIR\n65.52.0.0/14,65.52.0.0,65.55.255.255,\n10.0.0.0/8,10.0.0.0,10.255.255.255,RIPE\n172.16.0.0/12,172.16.0.0,172.31.255.255,';
        const outcome = await result('import', { entity: 'blocks', csv: text });
        expect(outcome).to.deep.include({ created: 1, failed: 2 });
        expect(outcome.errors.map((e) => [e.line, e.field])).to.deep.equal([[2, 'rir'], [3, 'rir']]);
      });

      it('refuses a column that is neither a field nor a defined custom field', async () => {
        const err = await failure(csv('import', { entity: 'addresses', csv: `${ADDRESS_HEADER},Owner\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static,me` }));
        expect(err.code).to.equal('VALIDATION');
        expect(err.message).to.contain('"Owner"');
        expect(err.message).to.contain('custom field');
      });

      it('imports defined custom fields (multi-value separated by ;) and reports a value not allowed', async () => {
        await defineCustomField(ipam, { name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] });
        await defineCustomField(ipam, { name: 'Owner', multiValue: false });
        const text = `${ADDRESS_HEADER},ad site,OWNER\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static,paris; Lyon,Ops\n10.0.0.2,IPAM,Localhost,Host,In-Use,Static,Berlin,Ops`;
        const outcome = await csv('import', { entity: 'addresses', csv: text });
        const payload = outcome.payload as ImportResult;
        expect(payload).to.deep.include({ created: 1, failed: 1 });
        expect(payload.errors[0]).to.deep.include({ line: 3, field: 'customFields.AD Site' });
        expect((await addresses())[0].customFields).to.deep.equal({ 'AD Site': ['Paris', 'Lyon'], Owner: 'Ops' });
        expect(outcome.errorReport).to.contain('Berlin');
      });

      it('reports duplicates within the file and against the store', async () => {
        await ipam.perform('address', 'add', { address: '10.0.0.3' });
        const text = `${ADDRESS_HEADER}\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static\n10.0.0.3,IPAM,Localhost,Host,In-Use,Static`;
        const outcome = await result('import', { entity: 'addresses', csv: text });
        expect(outcome).to.deep.include({ created: 1, failed: 2 });
        expect(outcome.errors.map((e) => [e.line, e.code])).to.deep.equal([[3, 'DUPLICATE'], [4, 'DUPLICATE']]);
      });

      it('writes the error report to a timestamped file in the configured folder', async () => {
        const folder = tempDir();
        const outcome = await csv('import', { entity: 'ranges', csv: GUIDE_RANGE_MS_DHCP, reportFolder: folder });
        const file = (outcome.payload as ImportResult).errorReportFile!;
        expect(path.dirname(file)).to.equal(folder);
        expect(path.basename(file)).to.match(/^ipam-import-errors-ranges-\d{4}-\d{2}-\d{2}T.*\.csv$/);
        expect(fs.readFileSync(file, 'utf8')).to.equal(outcome.errorReport);
      });

      it('re-imports a corrected error report (its error column is ignored)', async () => {
        const outcome = await csv('import', { entity: 'ranges', csv: GUIDE_RANGE_MS_DHCP });
        const fixed = outcome.errorReport!.replace('MS DHCP', 'IPAM');
        expect(await result('import', { entity: 'ranges', csv: fixed })).to.deep.include({ created: 1, failed: 0 });
      });
    });

    describe('all-or-nothing and dry run', () => {
      const mixed = `${ADDRESS_HEADER}\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static\n10.0.0.2,IPAM,Localhost,Host,Broken,Static\n10.0.0.3,IPAM,Localhost,Host,In-Use,Static`;

      it('writes nothing when a row is invalid, and reports it', async () => {
        const outcome = await result('import', { entity: 'addresses', csv: mixed, allOrNothing: true });
        expect(outcome).to.deep.include({ rows: 3, created: 0, failed: 1 });
        expect(outcome.errors[0]).to.deep.include({ line: 3, field: 'ipAddressState' });
        expect(await addresses()).to.have.length(0);
      });

      it('writes nothing when an address appears twice in the file or already exists', async () => {
        await ipam.perform('address', 'add', { address: '10.9.9.9' });
        const twice = `${ADDRESS_HEADER}\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static`;
        expect(await result('import', { entity: 'addresses', csv: twice, allOrNothing: true })).to.deep.include({ created: 0, failed: 1 });
        const exists = `${ADDRESS_HEADER}\n10.0.0.1,IPAM,Localhost,Host,In-Use,Static\n10.9.9.9,IPAM,Localhost,Host,In-Use,Static`;
        expect(await result('import', { entity: 'addresses', csv: exists, allOrNothing: true })).to.deep.include({ created: 0, failed: 1 });
        expect((await addresses()).map((a) => a.address)).to.deep.equal(['10.9.9.9']);
      });

      it('removes the ranges it wrote when a later row overlaps an earlier one', async () => {
        const text = 'Network,Start IP address,End IP address,Managed by service,Service instance,Assignment type\n10.1.0.0/24,10.1.0.1,10.1.0.254,IPAM,a,Static\n10.1.0.0/24,10.1.0.10,10.1.0.20,IPAM,b,Static';
        const outcome = await result('import', { entity: 'ranges', csv: text, allOrNothing: true });
        expect(outcome).to.deep.include({ created: 0, failed: 1 });
        expect(outcome.errors[0]).to.deep.include({ line: 3, code: 'OVERLAP' });
        expect(await ranges()).to.have.length(0);
      });

      it('writes everything when all rows are valid', async () => {
        const text = mixed.replace('Broken', 'Reserved');
        expect(await result('import', { entity: 'addresses', csv: text, allOrNothing: true })).to.deep.include({ created: 3, failed: 0 });
        expect(await addresses()).to.have.length(3);
      });

      it('dry run checks every row and writes nothing', async () => {
        const outcome = await result('import', { entity: 'addresses', csv: mixed, dryRun: true });
        expect(outcome).to.deep.include({ dryRun: true, rows: 3, created: 2, failed: 1 });
        expect(await addresses()).to.have.length(0);
      });
    });

    describe('import-and-update (ranges)', () => {
      const header = 'Network,Start IP address,End IP address,Managed by service,Service instance,Assignment type,Description';
      const pair = { managedByService: 'Non-MS DHCP', serviceInstance: 'Switch' };
      const line = (third: number, extra = 'Dynamic,') => `10.2.${third}.0/24,10.2.${third}.1,10.2.${third}.254,Non-MS DHCP,Switch,${extra}`;

      beforeEach(async () => {
        for (let third = 1; third <= 7; third++) {
          await ipam.perform('range', 'add', { network: `10.2.${third}.0/24`, ...pair, assignmentType: 'Dynamic' });
        }
        await ipam.perform('range', 'add', { network: '10.3.1.0/24', managedByService: 'Non-MS DHCP', serviceInstance: 'Router' });
        await ipam.perform('address', 'add', { address: '10.2.6.5', ...pair });
      });

      // The guide's example: 5 ranges in the file, 7 in the store for the pair, so at least 2 are deleted.
      const file = [header, line(1), line(2), line(3, 'Static,'), line(4, 'Dynamic,changed'), line(9)].join('\n');

      it('an exclusion outside its range fails that row by line, in the dry run as in the real run', async () => {
        const bad = ['Network,Start IP address,End IP address,Managed by service,Service instance,Assignment type,Exclusions',
          '10.2.1.0/24,10.2.1.1,10.2.1.254,Non-MS DHCP,Switch,Dynamic,10.9.0.1-10.9.0.5'].join('\n');
        for (const dryRun of [true, false]) {
          const outcome = await result('import-and-update', { csv: bad, ...pair, dryRun });
          expect(outcome, `dryRun ${dryRun}`).to.deep.include({ failed: 1, created: 0, deleted: 0 });
          expect(outcome.errors[0]).to.include({ line: 2 });
          expect(outcome.errors[0].field).to.match(/^exclusions/);
        }
        expect(await ranges()).to.have.length(8);
      });

      it('dry run returns the plan and writes nothing', async () => {
        const outcome = await result('import-and-update', { csv: file, ...pair, dryRun: true });
        expect(outcome).to.deep.include({ dryRun: true, rows: 5, created: 1, updated: 2, deleted: 3, unchanged: 2, failed: 0 });
        const plan = (outcome as ImportResult & { plan: { delete: RangeRecord[]; create: RangeRecord[] } }).plan;
        expect(plan.delete.map((r) => r.network)).to.deep.equal(['10.2.5.0/24', '10.2.6.0/24', '10.2.7.0/24']);
        expect(plan.create.map((r) => r.network)).to.deep.equal(['10.2.9.0/24']);
        expect(await ranges()).to.have.length(8);
      });

      it('makes the pair exactly the file and leaves other pairs alone', async () => {
        const outcome = await result('import-and-update', { entity: 'ranges', csv: file, managedByService: 'non-ms dhcp', serviceInstance: 'Switch' });
        expect(outcome).to.deep.include({ created: 1, updated: 2, deleted: 3, unchanged: 2, failed: 0 });
        const pairRanges = await list<RangeRecord>('range', pair);
        expect(pairRanges.map((r) => [r.network, r.assignmentType, r.description ?? ''])).to.deep.equal([
          ['10.2.1.0/24', 'Dynamic', ''],
          ['10.2.2.0/24', 'Dynamic', ''],
          ['10.2.3.0/24', 'Static', ''],
          ['10.2.4.0/24', 'Dynamic', 'changed'],
          ['10.2.9.0/24', 'Dynamic', ''],
        ]);
        expect(await list<RangeRecord>('range', { serviceInstance: 'Router' })).to.have.length(1);
        const [orphan] = await addresses();
        expect(orphan.rangeId).to.equal(null);
        expect(await ipam.store.collection('journal').count({})).to.equal(0);
      });

      it('clears a description the file leaves empty', async () => {
        await result('import-and-update', { csv: file, ...pair });
        const cleared = file.replace('Dynamic,changed', 'Dynamic,');
        expect(await result('import-and-update', { csv: cleared, ...pair })).to.deep.include({ updated: 1, unchanged: 4 });
        const range = (await list<RangeRecord>('range', { network: '10.2.4.0/24' }))[0];
        expect(range.description).to.equal(undefined);
      });

      it('applies nothing when a row is invalid, or belongs to another pair', async () => {
        const before = await ranges();
        const invalidRow = `${file}\n10.2.10.0/24,10.2.10.1,10.2.10.254,Non-MS DHCP,Switch,Sometimes,`;
        const bad = await result('import-and-update', { csv: invalidRow, ...pair });
        expect(bad).to.deep.include({ created: 0, deleted: 0, updated: 0, failed: 1 });
        expect(bad.errors[0]).to.deep.include({ line: 7, field: 'assignmentType' });
        const otherPair = `${file}\n10.2.11.0/24,10.2.11.1,10.2.11.254,IPAM,Switch,Static,`;
        const other = await result('import-and-update', { csv: otherPair, ...pair });
        expect(other.errors[0]).to.deep.include({ line: 7, field: 'managedByService' });
        expect(await ranges()).to.deep.equal(before);
      });

      it('refuses a file range that overlaps a range of another pair in the same block', async () => {
        const overlapping = `${file}\n10.3.1.0/25,10.3.1.1,10.3.1.100,Non-MS DHCP,Switch,Static,`;
        const outcome = await result('import-and-update', { csv: overlapping, ...pair });
        expect(outcome.errors[0]).to.deep.include({ line: 7, code: 'OVERLAP' });
        expect(await ranges()).to.have.length(8);
      });

      it('undoes what it applied when a concurrent writer makes a later change fail', async () => {
        const before = await ranges();
        let intruder: Promise<unknown> | undefined;
        const onProgress = (_done: number, phase: string) => {
          // While the deletes run, another writer takes the space the file's new range needs.
          if (phase === 'applying' && !intruder) {
            intruder = ipam.perform('range', 'add', { network: '10.2.9.0/25', managedByService: 'IPAM', serviceInstance: 'x' });
          }
        };
        const err = await failure(csv('import-and-update', { csv: file, ...pair, onProgress }));
        expect(err.code).to.equal('OVERLAP');
        expect(err.message).to.contain('was undone');
        await intruder;
        const after = (await ranges()).filter((r) => r.serviceInstance !== 'x');
        expect(after.map((r) => [r.network, r.assignmentType, r.description])).to.deep.equal(
          before.map((r) => [r.network, r.assignmentType, r.description]),
        );
        expect(await ipam.store.collection('journal').count({})).to.equal(0);
      });

      it('refuses MS DHCP as the pair (RESERVED_VALUE), and other entities', async () => {
        expect((await failure(csv('import-and-update', { csv: file, managedByService: 'MS DHCP', serviceInstance: 'x' }))).code).to.equal('RESERVED_VALUE');
        expect((await failure(csv('import-and-update', { entity: 'addresses', csv: file, ...pair }))).code).to.equal('VALIDATION');
      });
    });

    describe('export', () => {
      beforeEach(async () => {
        await defineCustomField(ipam, { name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] });
        await defineCustomField(ipam, { name: 'Owner', multiValue: false });
        const site = { 'AD Site': ['Paris', 'Lyon'], Owner: 'Net, "core" team' };
        await ipam.perform('block', 'add', { network: '10.0.0.0/8', customFields: site });
        await ipam.perform('block', 'add', { network: '65.52.0.0/14', startAddress: '65.52.0.0', endAddress: '65.52.255.255', rir: 'ARIN' });
        await ipam.perform('block', 'add', { network: '2001:db8::/32', description: 'docs “v6”' });
        await ipam.perform('range', 'add', {
          network: '10.1.0.0/24', managedByService: 'Non-MS DHCP', serviceInstance: 'sw1', assignmentType: 'Dynamic',
          exclusions: [{ startAddress: '10.1.0.10', endAddress: '10.1.0.20' }, { startAddress: '10.1.0.30', endAddress: '10.1.0.30' }],
          customFields: { Owner: 'ops' },
        });
        await ipam.perform('range', 'add', { network: '2001:db8:1::/64', addressSpace: 'Tenant A' });
        await ipam.perform('address', 'add', {
          address: '10.1.0.5', managedByService: 'Non-MS DHCP', serviceInstance: 'sw1', macAddress: 'aa-bb-cc-dd-ee-ff',
          deviceName: 'printer-1', expiryDate: '2031-05-01', customFields: site,
          dhcpReservation: { serverName: 'dhcp1', name: 'printer' }, dns: { forwardZone: 'contoso.com', reverseZone: '0.1.10.in-addr.arpa' },
        });
        await ipam.perform('address', 'add', { address: '2001:db8:1::10', addressSpace: 'Tenant A', duid: '00:01:00:01', iaid: 7, requestId: 'req-1' });
        await ipam.perform('address', 'add', { address: '192.168.1.1', deviceType: 'Router', ipAddressState: 'Reserved' });
      });

      it('exports range groups: the built-in Managed by Service group, one row per value', async () => {
        const text = (await csv('export', { entity: 'rangeGroups' })).payload as string;
        const lines = text.trim().split('\n');
        expect(lines[0]).to.equal('group,level,criterion,value,path,ranges,size,assigned,free,utilizedPercent');
        expect(lines).to.include('Managed by Service,1,managedByService,Non-MS DHCP,Non-MS DHCP,1,254,1,253,0.39');
        expect(lines).to.include('Managed by Service,2,serviceInstance,sw1,Non-MS DHCP / sw1,1,254,1,253,0.39');
        expect((await failure(csv('export', { entity: 'rangeGroups', filter: { group: 'Nope' } }))).code).to.equal('NOT_FOUND');
      });

      it('writes the guide header names and one column per custom field', async () => {
        const text = (await csv('export', { entity: 'blocks' })).payload as string;
        const [head, ...rows] = text.trim().split('\n');
        expect(head).to.equal('Network,Start IP address,End IP address,RIR,Description,Address space,AD Site,Owner');
        expect(rows).to.have.length(3);
        expect(rows[0]).to.equal('10.0.0.0/8,10.0.0.0,10.255.255.255,,,Default,Paris;Lyon,"Net, ""core"" team"');
      });

      it('exports a filtered set, and refuses query operators in the filter', async () => {
        const text = (await csv('export', { entity: 'addresses', filter: { addressSpace: 'Tenant A' } })).payload as string;
        expect(text.trim().split('\n')).to.have.length(2);
        expect(text).to.contain('2001:db8:1::10');
        const err = await failure(csv('export', { entity: 'addresses', filter: { address: { $gt: '' } } }));
        expect(err.code).to.equal('VALIDATION');
      });

      it('pages through more records than one page, in key order', async () => {
        const rows = Array.from({ length: 25 }, (_, i) => `10.7.0.${i + 1},IPAM,Localhost,Host,In-Use,Static`);
        await result('import', { entity: 'addresses', csv: [ADDRESS_HEADER, ...rows].join('\n') });
        const text = (await csv('export', { entity: 'addresses', filter: { serviceInstance: 'Localhost' }, batchSize: 10 })).payload as string;
        const exported = text.trim().split('\n').slice(1).map((row) => row.split(',')[0]);
        expect(exported.filter((a) => a.startsWith('10.7.'))).to.deep.equal(rows.map((row) => row.split(',')[0]));
      });

      it('export then import into an empty store reproduces the same records', async () => {
        const folder = tempDir();
        const files: Record<string, string> = {};
        for (const entity of ['blocks', 'ranges', 'addresses']) {
          files[entity] = path.join(folder, `${entity}.csv`);
          const written = (await csv('export', { entity, filename: files[entity] })).payload;
          expect(written).to.deep.include({ entity, filename: files[entity] });
        }
        const original = await snapshot(ipam);
        const target = Ipam.over(await factory.open());
        try {
          await defineCustomField(target, { name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] });
          await defineCustomField(target, { name: 'Owner', multiValue: false });
          for (const entity of ['blocks', 'ranges', 'addresses']) {
            const outcome = (await target.perform('import', 'import', { entity, filename: files[entity] }) as CsvOutcome).payload as ImportResult;
            expect(outcome.failed, JSON.stringify(outcome.errors)).to.equal(0);
          }
          expect(await snapshot(target)).to.deep.equal(original);
        } finally {
          await target.close();
        }
      });
    });
  });
}

/** Every record without store-given ids and timestamps; mapping shown by the mapped-to record's bounds. */
async function snapshot(ipam: Ipam): Promise<unknown> {
  const blocks = (await ipam.perform('block', 'list', {})) as BlockRecord[];
  const ranges = (await ipam.perform('range', 'list', {})) as RangeRecord[];
  const addresses = (await ipam.perform('address', 'list', {})) as AddressRecord[];
  const where = new Map<string | null, string | null>([[null, null]]);
  for (const r of [...blocks, ...ranges]) where.set(r.id, `${r.addressSpace}:${r.startAddress}-${r.endAddress}`);
  const strip = (record: Record<string, unknown>): Record<string, unknown> => {
    const { id, createdAt, updatedAt, blockId, rangeId, parentId, ...rest } = record;
    return {
      ...rest,
      ...(blockId !== undefined ? { blockId: where.get(blockId as string | null) } : {}),
      ...(rangeId !== undefined ? { rangeId: where.get(rangeId as string | null) } : {}),
      ...(parentId !== undefined ? { parentId: where.get(parentId as string | null) } : {}),
    };
  };
  return {
    blocks: blocks.map(strip),
    ranges: ranges.map(strip),
    addresses: (addresses as unknown as Record<string, unknown>[]).map(strip).sort((a, b) => String(a.address).localeCompare(String(b.address))),
  };
}
