import { expect } from 'chai';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import type { SyncResult } from '../../../lib/sync/operations';
import { freePort, keaPost, requireBinaries, startKea, type KeaServer } from '../../support/servers';
import { failure } from '../../support/failure';

type Json = Record<string, unknown>;

const SUBNET4 = [
  {
    id: 1,
    subnet: '192.0.2.0/24',
    pools: [{ pool: '192.0.2.100 - 192.0.2.199' }],
    reservations: [
      { 'hw-address': 'aa:bb:cc:dd:ee:01', 'ip-address': '192.0.2.10', hostname: 'printer' },
      { 'hw-address': 'aa:bb:cc:dd:ee:02', 'ip-address': '192.0.2.100', hostname: 'camera' },
    ],
  },
  {
    id: 2,
    subnet: '198.51.100.0/25',
    pools: [{ pool: '198.51.100.10 - 198.51.100.19' }, { pool: '198.51.100.64/27' }],
  },
];

async function keaConfig(kea: KeaServer, family: 4 | 6 = 4): Promise<Json> {
  const [answer] = await keaPost(kea.url, kea.user, kea.password, { command: 'config-get', service: [`dhcp${family}`] });
  expect(answer.result).to.equal(0);
  return answer.arguments as Json;
}

async function serverReservations(kea: KeaServer, family: 4 | 6 = 4): Promise<Json[]> {
  const root = (await keaConfig(kea, family))[`Dhcp${family}`] as Json;
  return (root[`subnet${family}`] as Array<{ reservations?: Json[] }>).flatMap((s) => s.reservations ?? []);
}

async function setSubnets(kea: KeaServer, subnets: unknown[]): Promise<void> {
  const config = await keaConfig(kea);
  const root: Json = { ...(config.Dhcp4 as Json), subnet4: subnets };
  delete root.hash;
  const [answer] = await keaPost(kea.url, kea.user, kea.password, { command: 'config-set', service: ['dhcp4'], arguments: { Dhcp4: root } });
  expect(answer.result, answer.text).to.equal(0);
}

async function keaCommand(kea: KeaServer, command: string, args: Json, service = 'dhcp4'): Promise<void> {
  const [answer] = await keaPost(kea.url, kea.user, kea.password, { command, service: [service], arguments: args });
  expect(answer.result, answer.text).to.equal(0);
}

async function addresses(ipam: Ipam): Promise<Record<string, AddressRecord>> {
  const list = (await ipam.perform('address', 'list', {})) as AddressRecord[];
  return Object.fromEntries(list.map((a) => [a.address, a]));
}

describe('ipam-sync with a real Kea server', function () {
  this.timeout(60_000);
  let kea: KeaServer;
  let ipam: Ipam;
  let settings: Json;
  let instance: string;

  const sync = async (operation: string, request: Json = {}): Promise<SyncResult> =>
    (await ipam.perform('sync', operation, { kea: settings, ...request })) as SyncResult;

  before(async function () {
    requireBinaries(this, ['kea-dhcp4', 'kea-dhcp6', 'kea-ctrl-agent'], ['libdhcp_lease_cmds.so']);
    kea = await startKea({ subnet4: SUBNET4, dhcp6: true });
    instance = new URL(kea.url).host;
  });
  after(async () => {
    await kea?.stop();
  });
  beforeEach(async () => {
    ipam = await Ipam.open({ kind: 'embedded' });
    settings = { url: kea.url, user: kea.user, password: kea.password, timeoutMs: 5000 };
    await setSubnets(kea, SUBNET4);
  });
  afterEach(async () => {
    await ipam.close();
  });

  describe('import-leases', () => {
    const seeded = ['192.0.2.150', '192.0.2.151', '198.51.100.12'];

    beforeEach(async () => {
      for (const [i, address] of seeded.entries()) {
        await keaCommand(kea, 'lease4-add', {
          'ip-address': address,
          'hw-address': `52:54:00:00:00:0${i}`,
          hostname: `client-${i}.example.test.`,
          'valid-lft': 3600,
        });
      }
    });
    afterEach(async () => {
      for (const address of seeded) {
        await keaPost(kea.url, kea.user, kea.password, { command: 'lease4-del', service: ['dhcp4'], arguments: { 'ip-address': address } });
      }
    });

    it('imports every lease as a Dynamic Kea DHCP address of the server; re-running changes nothing', async () => {
      const first = await sync('import-leases', { source: 'kea' });
      expect(first).to.include({ source: 'kea', server: instance, created: 3, failed: 0 });
      const stored = await addresses(ipam);
      expect(stored['192.0.2.150']).to.include({
        macAddress: '52:54:00:00:00:00',
        deviceName: 'client-0.example.test',
        managedByService: 'Kea DHCP',
        serviceInstance: instance,
        assignmentType: 'Dynamic',
        ipAddressState: 'In-Use',
      });
      const again = await sync('import-leases', { source: 'kea' });
      expect(again).to.include({ created: 0, updated: 0, unchanged: 3, deleted: 0 });
      expect(await addresses(ipam)).to.deep.equal(stored);
    });

    it('a lease deleted on the server makes its address Inactive', async () => {
      await sync('import-leases', { source: 'kea' });
      await keaCommand(kea, 'lease4-del', { 'ip-address': '192.0.2.151' });
      const result = await sync('import-leases', { source: 'kea' });
      expect(result).to.include({ deleted: 1, unchanged: 2 });
      const stored = await addresses(ipam);
      expect(stored['192.0.2.151']).to.include({ ipAddressState: 'Inactive', macAddress: '52:54:00:00:00:01' });
      expect(stored['192.0.2.150'].ipAddressState).to.equal('In-Use');
    });

    it('names the instance after the configured server name', async () => {
      settings.serverName = 'kea-primary';
      await sync('import-leases', { source: 'kea' });
      expect((await addresses(ipam))['192.0.2.150'].serviceInstance).to.equal('kea-primary');
    });

    it('a wrong password fails with SYNC_FAILED quoting the server and imports nothing', async () => {
      settings.password = 'wrong';
      const err = await failure(sync('import-leases', { source: 'kea' }));
      expect(err.code).to.equal('SYNC_FAILED');
      expect(err.message).to.match(/refused the credentials: HTTP 401/);
      expect(await addresses(ipam)).to.deep.equal({});
    });
  });

  describe('discover-scopes', () => {
    it('makes each subnet a Kea DHCP range with exclusions outside the pools, and reservations Reserved records', async () => {
      const result = await sync('discover-scopes');
      expect(result).to.include({ created: 4, failed: 0 });
      const ranges = (await ipam.perform('range', 'list', {})) as RangeRecord[];
      expect(ranges.map((r) => r.network)).to.deep.equal(['192.0.2.0/24', '198.51.100.0/25']);
      expect(ranges[0]).to.include({
        startAddress: '192.0.2.1',
        endAddress: '192.0.2.254',
        managedByService: 'Kea DHCP',
        serviceInstance: instance,
        assignmentType: 'Dynamic',
      });
      expect(ranges[0].exclusions).to.deep.equal([
        { startAddress: '192.0.2.1', endAddress: '192.0.2.99' },
        { startAddress: '192.0.2.200', endAddress: '192.0.2.254' },
      ]);
      expect(ranges[1].exclusions).to.deep.equal([
        { startAddress: '198.51.100.1', endAddress: '198.51.100.9' },
        { startAddress: '198.51.100.20', endAddress: '198.51.100.63' },
        { startAddress: '198.51.100.96', endAddress: '198.51.100.126' },
      ]);
      const stored = await addresses(ipam);
      expect(stored['192.0.2.100']).to.deep.include({
        assignmentType: 'Reserved',
        ipAddressState: 'Reserved',
        macAddress: 'aa:bb:cc:dd:ee:02',
        deviceName: 'camera',
        rangeId: ranges[0].id,
        dhcpReservation: { serverName: instance, scopeName: '192.0.2.0/24', name: 'camera', type: 'DHCP', syncStatus: 'Discovered' },
      });
    });

    it('allocation from a discovered range skips its reservations and exclusions', async () => {
      await sync('discover-scopes');
      const [range] = (await ipam.perform('range', 'list', { network: '192.0.2.0/24' })) as RangeRecord[];
      const allocated = (await ipam.perform('address', 'allocate', { rangeId: range.id })) as AddressRecord;
      // .1-.99 are excluded (outside the pool) and .100 is reserved for the camera.
      expect(allocated.address).to.equal('192.0.2.101');
    });

    it('a user cannot create a range with the Kea service by hand', async () => {
      const err = await failure(ipam.perform('range', 'add', { network: '10.0.0.0/24', managedByService: 'kea dhcp' }));
      expect(err.code).to.equal('RESERVED_VALUE');
    });

    it('re-running updates in place; a subnet or reservation gone from Kea is removed', async () => {
      await sync('discover-scopes');
      const before = (await ipam.perform('range', 'list', {})) as RangeRecord[];
      const again = await sync('discover-scopes');
      expect(again).to.include({ created: 0, updated: 0, unchanged: 4, deleted: 0 });
      expect(await ipam.perform('range', 'list', {})).to.deep.equal(before);

      const [first] = SUBNET4;
      await setSubnets(kea, [
        { ...first, pools: [{ pool: '192.0.2.100 - 192.0.2.219' }], reservations: [SUBNET4[0].reservations?.[0]] },
      ]);
      const changed = await sync('discover-scopes');
      expect(changed).to.include({ updated: 1, deleted: 2, unchanged: 1 });
      const ranges = (await ipam.perform('range', 'list', {})) as RangeRecord[];
      expect(ranges).to.have.length(1);
      expect(ranges[0].id).to.equal(before[0].id);
      expect(ranges[0].exclusions).to.deep.equal([
        { startAddress: '192.0.2.1', endAddress: '192.0.2.99' },
        { startAddress: '192.0.2.220', endAddress: '192.0.2.254' },
      ]);
      const stored = await addresses(ipam);
      expect(stored).to.have.key('192.0.2.10');
    });

    it('reports a subnet that overlaps a hand-made range and imports the rest', async () => {
      await ipam.perform('range', 'add', { network: '198.51.100.0/25' });
      const result = await sync('discover-scopes');
      expect(result.failed).to.equal(1);
      expect(result.errors[0]).to.include({ subnet: '198.51.100.0/25', code: 'OVERLAP' });
      expect(result.created).to.equal(3);
    });
  });

  describe('DHCP reservations', () => {
    async function addAddress(fields: Json): Promise<AddressRecord> {
      return (await ipam.perform('address', 'add', fields)) as AddressRecord;
    }

    it('creates a reservation read back from Kea, replaces it for a new MAC, deletes it', async () => {
      const address = await addAddress({ address: '192.0.2.160', macAddress: '52-54-00-12-34-56', deviceName: 'web1' });
      const created = await sync('create-dhcp-reservation', { addresses: ['192.0.2.160'] });
      expect(created).to.include({ operation: 'create-dhcp-reservation', created: 1, failed: 0 });
      let onServer = (await serverReservations(kea)).filter((r) => r['ip-address'] === '192.0.2.160');
      expect(onServer).to.have.length(1);
      expect(onServer[0]).to.include({ 'hw-address': '52:54:00:12:34:56', hostname: 'web1' });
      let stored = (await addresses(ipam))['192.0.2.160'];
      expect(stored.dhcpReservation).to.include({ syncStatus: 'Create Success', serverName: instance, scopeName: '192.0.2.0/24' });

      await ipam.perform('address', 'update', { id: address.id, macAddress: '52:54:00:65:43:21' });
      const replaced = await sync('create-dhcp-reservation', { ids: [address.id] });
      expect(replaced.created).to.equal(1);
      onServer = (await serverReservations(kea)).filter((r) => r['ip-address'] === '192.0.2.160');
      expect(onServer.map((r) => r['hw-address'])).to.deep.equal(['52:54:00:65:43:21']);
      stored = (await addresses(ipam))['192.0.2.160'];
      expect(stored.dhcpReservation?.syncMessage).to.match(/replaced the reservation for 52:54:00:12:34:56/);

      const deleted = await sync('delete-dhcp-reservation', { addresses: [{ address: '192.0.2.160' }] });
      expect(deleted).to.include({ deleted: 1, failed: 0 });
      expect((await serverReservations(kea)).map((r) => r['ip-address'])).to.not.include('192.0.2.160');
      expect((await addresses(ipam))['192.0.2.160'].dhcpReservation).to.include({ syncStatus: 'Delete Success' });
      // The server's configuration file was rewritten too (config-write).
      expect(await import('node:fs').then((fs) => fs.readFileSync(kea.configFiles.dhcp4, 'utf8'))).to.not.include('52:54:00:65:43:21');
    });

    it('accepts the record ipam-allocate sends on as the payload', async () => {
      const record = await addAddress({ address: '192.0.2.161', macAddress: '52:54:00:00:01:61' });
      const result = await sync('create-dhcp-reservation', record as unknown as Json);
      expect(result.created).to.equal(1);
    });

    it('refuses an IPv4 address without a MAC (VALIDATION naming macAddress) and stores why', async () => {
      await addAddress({ address: '192.0.2.162', deviceName: 'no-mac' });
      const err = await failure(sync('create-dhcp-reservation', { addresses: ['192.0.2.162'] }));
      expect(err).to.include({ code: 'VALIDATION', field: 'macAddress' });
      const stored = (await addresses(ipam))['192.0.2.162'];
      expect(stored.dhcpReservation).to.include({ syncStatus: 'Create Failed' });
      expect(stored.dhcpReservation?.syncMessage).to.match(/macAddress/);
    });

    it('reports per address when some fail, with Kea’s own reason, and leaves the server as it was', async () => {
      await addAddress({ address: '192.0.2.163', macAddress: '52:54:00:00:01:63' });
      // The printer's MAC is reserved for 192.0.2.10 already: Kea refuses a second reservation for it in the subnet.
      await addAddress({ address: '192.0.2.164', macAddress: 'aa:bb:cc:dd:ee:01' });
      const before = await serverReservations(kea);
      const result = await sync('create-dhcp-reservation', { addresses: ['192.0.2.163', '192.0.2.164', '192.0.2.250'] });
      expect(result).to.include({ processed: 3, created: 1, failed: 2 });
      expect(result.errors.map((e) => [e.address, e.code])).to.deep.equal([
        ['192.0.2.164', 'SYNC_FAILED'],
        ['192.0.2.250', 'NOT_FOUND'],
      ]);
      expect(result.errors[0].message).to.match(/config-test|config-set|duplicate|already/i);
      const after = await serverReservations(kea);
      const sorted = (list: Json[]) => list.map((r) => String(r['ip-address'])).sort();
      expect(sorted(after)).to.deep.equal([...sorted(before), '192.0.2.163'].sort());
      const stored = (await addresses(ipam))['192.0.2.164'];
      expect(stored.dhcpReservation).to.include({ syncStatus: 'Create Failed', syncMessage: result.errors[0].message });
      expect(stored.macAddress).to.equal('aa:bb:cc:dd:ee:01');
    });

    it('a wrong password: SYNC_FAILED with the server’s reason; only the sync status changes', async () => {
      const address = await addAddress({ address: '192.0.2.165', macAddress: '52:54:00:00:01:65', deviceName: 'keep-me' });
      settings.password = 'wrong';
      const err = await failure(sync('create-dhcp-reservation', { ids: [address.id] }));
      expect(err.code).to.equal('SYNC_FAILED');
      expect(err.message).to.match(/HTTP 401/);
      const stored = (await addresses(ipam))['192.0.2.165'];
      const { dhcpReservation, updatedAt: _u, ...rest } = stored;
      const { updatedAt: _v, ...original } = address;
      expect(rest).to.deep.equal(original);
      expect(dhcpReservation).to.include({ syncStatus: 'Create Failed' });
      expect(String(dhcpReservation?.syncMessage)).to.match(/HTTP 401/);
      expect((await serverReservations(kea)).map((r) => r['ip-address'])).to.not.include('192.0.2.165');
    });

    it('a server that is down: SYNC_FAILED saying the connection was refused', async () => {
      await addAddress({ address: '192.0.2.166', macAddress: '52:54:00:00:01:66' });
      settings.url = `http://127.0.0.1:${await freePort()}/`;
      const err = await failure(sync('delete-dhcp-reservation', { addresses: ['192.0.2.166'] }));
      expect(err.code).to.equal('SYNC_FAILED');
      expect(err.message).to.match(/ECONNREFUSED/);
      expect((await addresses(ipam))['192.0.2.166'].dhcpReservation).to.include({ syncStatus: 'Delete Failed' });
    });

    it('IPv6: reserves by DUID on the DHCPv6 server and keeps the IAID on the record', async () => {
      settings.dhcp6 = true;
      await addAddress({ address: '2001:db8:1::20', duid: '00:01:00:01:aa:bb:cc:dd:ee:ff:00:11', iaid: 7, deviceName: 'v6host' });
      const result = await sync('create-dhcp-reservation', { addresses: ['2001:db8:1::20'] });
      expect(result.created).to.equal(1);
      const reservation = (await serverReservations(kea, 6)).find((r) => (r['ip-addresses'] as string[]).includes('2001:db8:1::20'));
      expect(reservation).to.include({ duid: '00:01:00:01:aa:bb:cc:dd:ee:ff:00:11', hostname: 'v6host' });
      expect((await addresses(ipam))['2001:db8:1::20']).to.include({ iaid: 7 });
      await sync('delete-dhcp-reservation', { addresses: ['2001:db8:1::20'] });
      const left = (await serverReservations(kea, 6)).flatMap((r) => r['ip-addresses'] as string[]);
      expect(left).to.not.include('2001:db8:1::20');
    });
  });
});
