import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord } from '../../../lib/record';
import type { SyncResult } from '../../../lib/sync/operations';
import { tempDir } from '../../support/stores';

const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);
/** The fixtures were written on 2024-03-05; judge their leases at noon that day. */
const NOON = '2024-03-05T12:00:00Z';

async function addresses(ipam: Ipam): Promise<Record<string, AddressRecord>> {
  const list = (await ipam.perform('address', 'list', {})) as AddressRecord[];
  return Object.fromEntries(list.map((a) => [a.address, a]));
}

async function run(ipam: Ipam, operation: string, request: Record<string, unknown>): Promise<SyncResult> {
  return (await ipam.perform('sync', operation, request)) as SyncResult;
}

describe('ipam-sync import-leases from lease files', () => {
  let ipam: Ipam;

  beforeEach(async () => {
    ipam = await Ipam.open({ kind: 'embedded' });
  });
  afterEach(async () => {
    await ipam.close();
  });

  it('imports a realistic dhcpd.leases: active leases only, malformed blocks reported by line', async () => {
    const result = await run(ipam, 'import-leases', { source: 'isc', file: fixture('dhcpd.leases'), now: NOON });
    const stored = await addresses(ipam);
    // 192.0.2.50 was released by its last block, .52 is free: neither is a leased address.
    expect(stored).to.not.have.any.keys('192.0.2.50', '192.0.2.52');
    expect(stored['192.0.2.51']).to.include({
      macAddress: '52:54:00:ab:cd:02',
      deviceName: 'printer-2',
      assignmentType: 'Dynamic',
      ipAddressState: 'In-Use',
      managedByService: 'Non-MS DHCP',
      serviceInstance: 'ISC dhcpd',
    });
    expect(result).to.include({ operation: 'import-leases', source: 'isc', server: 'ISC dhcpd' });
    expect(result.created).to.equal(Object.keys(stored).length);
    expect(result.failed).to.equal(result.errors.length).and.to.be.greaterThan(0);
    for (const error of result.errors) expect(error.line).to.be.a('number');
    expect(result.errors.map((e) => e.message).join('\n')).to.match(/192\.0\.2\.999/);
  });

  it('imports IPv6 ia-na leases with DUID and IAID', async () => {
    await run(ipam, 'import-leases', { source: 'isc', file: fixture('dhcpd.leases'), now: '2024-03-05T10:05:00Z' });
    const v6 = Object.values(await addresses(ipam)).filter((a) => a.family === 6);
    // The expired iaaddr 2001:db8:1::101 is not imported.
    expect(v6.map((a) => a.address)).to.deep.equal(['2001:db8:1::100']);
    for (const address of v6) {
      expect(address.duid).to.match(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
      expect(address.iaid).to.be.a('number');
    }
  });

  it('dnsmasq: imports the rest when lines are malformed, with their line numbers', async () => {
    const result = await run(ipam, 'import-leases', {
      source: 'dnsmasq',
      file: fixture('dnsmasq.leases'),
      serviceInstance: 'router-1',
      now: NOON,
    });
    const stored = await addresses(ipam);
    expect(result.errors.map((e) => e.line)).to.deep.equal([4, 5, 10]);
    expect(result.failed).to.equal(3);
    // A hardware address that is not a 6-byte MAC (token ring) still imports, without a MAC.
    expect(stored['192.168.10.24']).to.include({ deviceName: 'tokenring' });
    expect(stored['192.168.10.24'].macAddress).to.equal(undefined);
    // 192.168.10.20 expires 2024-03-05T20:00Z (after noon); .21 never; .22 expired in 1970.
    expect(stored['192.168.10.20']).to.include({ deviceName: 'laptop-anna', serviceInstance: 'router-1' });
    expect(stored['192.168.10.21']).to.include({ macAddress: '52:54:00:ab:cd:02' });
    expect(stored['192.168.10.21'].deviceName).to.equal(undefined);
    expect(stored).to.not.have.key('192.168.10.22');
    expect(stored['2001:db8:10::21']).to.include({ iaid: 17, duid: '00:03:00:01:52:54:00:ab:cd:07' });
  });

  it('re-running changes nothing: no writes, updatedAt untouched', async () => {
    const request = { source: 'dnsmasq', file: fixture('dnsmasq.leases'), now: NOON };
    await run(ipam, 'import-leases', request);
    const before = await addresses(ipam);
    const again = await run(ipam, 'import-leases', request);
    expect(again).to.include({ created: 0, updated: 0, deleted: 0 });
    expect(again.unchanged).to.equal(Object.keys(before).length);
    expect(await addresses(ipam)).to.deep.equal(before);
  });

  it('a changed lease updates its address; a gone lease makes its address Inactive; a returning one In-Use', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'leases');
    fs.writeFileSync(file, '0 52:54:00:00:00:01 10.9.0.1 alpha *\n0 52:54:00:00:00:02 10.9.0.2 beta *\n');
    await run(ipam, 'import-leases', { source: 'dnsmasq', file });
    fs.writeFileSync(file, '0 52:54:00:00:00:09 10.9.0.1 alpha-renamed *\n');
    const second = await run(ipam, 'import-leases', { source: 'dnsmasq', file });
    expect(second).to.include({ created: 0, updated: 1, deleted: 1 });
    let stored = await addresses(ipam);
    expect(stored['10.9.0.1']).to.include({ macAddress: '52:54:00:00:00:09', deviceName: 'alpha-renamed', ipAddressState: 'In-Use' });
    expect(stored['10.9.0.2']).to.include({ ipAddressState: 'Inactive', deviceName: 'beta', assignmentType: 'Dynamic' });
    const third = await run(ipam, 'import-leases', { source: 'dnsmasq', file });
    expect(third).to.include({ updated: 0, deleted: 0, unchanged: 1 });
    fs.writeFileSync(file, '0 52:54:00:00:00:09 10.9.0.1 alpha-renamed *\n0 52:54:00:00:00:02 10.9.0.2 beta *\n');
    await run(ipam, 'import-leases', { source: 'dnsmasq', file });
    stored = await addresses(ipam);
    expect(stored['10.9.0.2'].ipAddressState).to.equal('In-Use');
  });

  it('leaves addresses of other owners alone: other instances, static records', async () => {
    await ipam.perform('address', 'add', { address: '10.9.0.1', deviceName: 'static-server' });
    await run(ipam, 'import-leases', {
      source: 'dnsmasq',
      text: '0 52:54:00:00:00:05 10.9.0.5 other *\n',
      serviceInstance: 'other-router',
    });
    const result = await run(ipam, 'import-leases', { source: 'dnsmasq', text: '0 52:54:00:00:00:01 10.9.0.1 leased *\n' });
    expect(result).to.include({ created: 0, skipped: 1, deleted: 0 });
    const stored = await addresses(ipam);
    expect(stored['10.9.0.1']).to.include({ deviceName: 'static-server', assignmentType: 'Static', managedByService: 'IPAM' });
    expect(stored['10.9.0.5']).to.include({ ipAddressState: 'In-Use', serviceInstance: 'other-router' });
  });

  it('maps imported addresses to a range of the same service and instance', async () => {
    await ipam.perform('range', 'add', { network: '10.9.0.0/24', managedByService: 'Non-MS DHCP', serviceInstance: 'dnsmasq' });
    await run(ipam, 'import-leases', { source: 'dnsmasq', text: '0 52:54:00:00:00:01 10.9.0.1 leased *\n' });
    const [range] = (await ipam.perform('range', 'list', {})) as Array<{ id: string }>;
    expect((await addresses(ipam))['10.9.0.1'].rangeId).to.equal(range.id);
  });

  it('a missing file fails with SYNC_FAILED and changes nothing', async () => {
    await run(ipam, 'import-leases', { source: 'dnsmasq', text: '0 52:54:00:00:00:01 10.9.0.1 a *\n' });
    const before = await addresses(ipam);
    const err = await ipam.perform('sync', 'import-leases', { source: 'dnsmasq', file: '/nonexistent/leases' }).catch((e: unknown) => e);
    expect(err).to.include({ code: 'SYNC_FAILED' });
    expect((err as Error).message).to.match(/nonexistent.*ENOENT/);
    expect(await addresses(ipam)).to.deep.equal(before);
  });

  it('refuses an unknown source by name', async () => {
    const err = await ipam.perform('sync', 'import-leases', { source: 'winsock' }).catch((e: unknown) => e);
    expect(err).to.include({ code: 'VALIDATION', field: 'source' });
  });
});
