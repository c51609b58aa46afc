import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIpamError } from '../../../../lib/errors';
import { KeaClient, type KeaResponse, type KeaService } from '../../../../lib/sync/kea/client';
import { scopesOf } from '../../../../lib/sync/kea/config';
import { failure } from '../../../support/failure';
import { freePort, keaPost, requireBinaries, startKea, type KeaServer } from '../../../support/servers';

class RecordingClient extends KeaClient {
  readonly sent: string[] = [];

  override command(name: string, service?: KeaService | null, args?: Record<string, unknown>): Promise<KeaResponse> {
    this.sent.push(name);
    return super.command(name, service, args);
  }
}

type Reservation = Record<string, unknown>;

/** Reservations as the running server reports them, read without the client under test. */
async function serverReservations(kea: KeaServer, subnetId: number, family: 4 | 6 = 4): Promise<Reservation[]> {
  const [answer] = await keaPost(kea.url, kea.user, kea.password, { command: 'config-get', service: [`dhcp${family}`] });
  const root = (answer.arguments as Record<string, Record<string, unknown>>)[`Dhcp${family}`];
  const subnets = root[`subnet${family}`] as Array<{ id: number; reservations?: Reservation[] }>;
  return subnets.find((s) => s.id === subnetId)?.reservations ?? [];
}

describe('sync/kea against a real Kea server', function () {
  this.timeout(30_000);
  let kea: KeaServer;
  let client: KeaClient;

  before(async function () {
    requireBinaries(this, ['kea-dhcp4', 'kea-ctrl-agent'], ['libdhcp_lease_cmds.so']);
    kea = await startKea({ dhcp6: true });
    client = new KeaClient({ url: kea.url, user: kea.user, password: kea.password, timeoutMs: 5000 });
  });

  after(async () => {
    await kea?.stop();
  });

  describe('leases', () => {
    before(async () => {
      for (let i = 0; i < 7; i++) {
        await client.command('lease4-add', 'dhcp4', {
          'ip-address': `192.0.2.${110 + i}`,
          'hw-address': `52:54:00:00:00:${(16 + i).toString(16)}`,
          hostname: `host-${i}`,
          'valid-lft': 3600,
        });
      }
    });

    it('pages through every lease with lease4-get-page until a short page', async () => {
      const paging = new RecordingClient({ url: kea.url, user: kea.user, password: kea.password });
      const { leases, errors } = await paging.allLeases4(3);
      expect(errors).to.deep.equal([]);
      expect(leases.map((l) => l.address)).to.deep.equal([110, 111, 112, 113, 114, 115, 116].map((n) => `192.0.2.${n}`));
      expect(paging.sent).to.deep.equal(['lease4-get-page', 'lease4-get-page', 'lease4-get-page']);
      expect(leases[0]).to.include({ family: 4, macAddress: '52:54:00:00:00:10', hostname: 'host-0', state: 'active', subnetId: 1 });
      expect(leases[0].expires).to.be.instanceOf(Date);
    });

    it('stops on the empty page (result 3) when the count is a multiple of the page size', async () => {
      await client.command('lease4-add', 'dhcp4', { 'ip-address': '192.0.2.117', 'hw-address': '52:54:00:00:00:17' });
      await client.command('lease4-add', 'dhcp4', { 'ip-address': '198.51.100.12', 'hw-address': '52:54:00:00:01:12' });
      const paging = new RecordingClient({ url: kea.url, user: kea.user, password: kea.password });
      const { leases } = await paging.allLeases4(3);
      expect(leases).to.have.length(9);
      expect(leases[8]).to.include({ address: '198.51.100.12', subnetId: 2 });
      expect(paging.sent).to.have.length(4);
    });

    it('reads IPv6 leases from kea-dhcp6 when it is installed', async function () {
      if (!kea.dhcp6) {
        console.log('      skipped: kea-dhcp6 is not installed');
        this.skip();
      }
      await client.command('lease6-add', 'dhcp6', {
        'ip-address': '2001:db8:1::150',
        duid: '00:01:00:01:2a:2b:2c:2d:aa:bb:cc:dd:ee:09',
        iaid: 1234,
        'subnet-id': 10,
      });
      const { leases } = await client.allLeases6(2);
      expect(leases).to.have.length(1);
      expect(leases[0]).to.include({ address: '2001:db8:1::150', family: 6, iaid: 1234, duid: '00:01:00:01:2a:2b:2c:2d:aa:bb:cc:dd:ee:09' });
    });
  });

  describe('scope discovery', () => {
    it('derives pools, reservations and exclusions from config-get', async () => {
      const scopes = await client.discover('dhcp4');
      expect(scopes).to.deep.equal([
        {
          id: 1,
          family: 4,
          subnet: '192.0.2.0/24',
          pools: [{ first: '192.0.2.100', last: '192.0.2.199' }],
          reservations: [{ address: '192.0.2.10', hwAddress: 'aa:bb:cc:dd:ee:01', hostname: 'printer' }],
          exclusions: [
            { first: '192.0.2.1', last: '192.0.2.99' },
            { first: '192.0.2.200', last: '192.0.2.254' },
          ],
        },
        {
          id: 2,
          family: 4,
          subnet: '198.51.100.0/25',
          pools: [
            { first: '198.51.100.10', last: '198.51.100.19' },
            { first: '198.51.100.64', last: '198.51.100.95' },
          ],
          reservations: [],
          exclusions: [
            { first: '198.51.100.1', last: '198.51.100.9' },
            { first: '198.51.100.20', last: '198.51.100.63' },
            { first: '198.51.100.96', last: '198.51.100.126' },
          ],
        },
      ]);
    });

    it('includes subnets of shared networks and IPv6 reservations', () => {
      const scopes = scopesOf({
        Dhcp6: {
          'shared-networks': [
            {
              name: 'campus',
              subnet6: [
                {
                  id: 7,
                  subnet: '2001:db8:7::/64',
                  pools: [{ pool: '2001:db8:7::/65' }],
                  reservations: [{ duid: '00:01:aa', 'ip-addresses': ['2001:DB8:7::5', '2001:db8:7::6'] }],
                },
              ],
            },
          ],
        },
      });
      expect(scopes).to.deep.equal([
        {
          id: 7,
          family: 6,
          subnet: '2001:db8:7::/64',
          sharedNetwork: 'campus',
          pools: [{ first: '2001:db8:7::', last: '2001:db8:7:0:7fff:ffff:ffff:ffff' }],
          reservations: [
            { address: '2001:db8:7::5', duid: '00:01:aa' },
            { address: '2001:db8:7::6', duid: '00:01:aa' },
          ],
          exclusions: [{ first: '2001:db8:7:0:8000::', last: '2001:db8:7:0:ffff:ffff:ffff:ffff' }],
        },
      ]);
    });
  });

  describe('IPv4 reservations (config-get / config-set / config-write: no host_cmds hook)', () => {
    it('creates a reservation in the subnet that contains the address and writes the config file', async () => {
      await client.upsertReservation4({ ipAddress: '192.0.2.20', hwAddress: 'AA-BB-CC-00-00-20', hostname: 'camera' });
      const matches = (await serverReservations(kea, 1)).filter((r) => r['ip-address'] === '192.0.2.20');
      expect(matches).to.have.length(1);
      expect(matches[0]).to.include({ 'hw-address': 'aa:bb:cc:00:00:20', hostname: 'camera' });
      expect(fs.readFileSync(kea.configFiles.dhcp4, 'utf8')).to.contain('aa:bb:cc:00:00:20');
    });

    it('replaces the reservation for the same IP with the new MAC', async () => {
      await client.upsertReservation4({ ipAddress: '192.0.2.20', hwAddress: 'aa:bb:cc:00:00:21', hostname: 'camera-2' });
      const matches = (await serverReservations(kea, 1)).filter((r) => r['ip-address'] === '192.0.2.20');
      expect(matches).to.have.length(1);
      expect(matches[0]).to.include({ 'hw-address': 'aa:bb:cc:00:00:21', hostname: 'camera-2' });
    });

    it('keeps the other reservations of the subnet', async () => {
      const addresses = (await serverReservations(kea, 1)).map((r) => r['ip-address']);
      expect(addresses).to.have.members(['192.0.2.10', '192.0.2.20']);
    });

    it('uses the subnet id when given', async () => {
      await client.upsertReservation4({ subnetId: 2, ipAddress: '198.51.100.30', hwAddress: 'aa:bb:cc:00:00:30' });
      expect((await serverReservations(kea, 2)).map((r) => r['ip-address'])).to.deep.equal(['198.51.100.30']);
    });

    it('deletes the reservation and reports whether there was one', async () => {
      expect(await client.deleteReservation4('192.0.2.20')).to.equal(true);
      expect((await serverReservations(kea, 1)).map((r) => r['ip-address'])).to.deep.equal(['192.0.2.10']);
      expect(await client.deleteReservation4('192.0.2.20')).to.equal(false);
      expect(fs.readFileSync(kea.configFiles.dhcp4, 'utf8')).to.not.contain('aa:bb:cc:00:00:21');
    });

    it('refuses an address outside every subnet with SYNC_FAILED', async () => {
      const err = await failure(client.upsertReservation4({ ipAddress: '203.0.113.5', hwAddress: 'aa:bb:cc:00:00:40' }));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/no subnet containing 203\.0\.113\.5/);
    });

    it('passes on Kea\'s reason when config-test rejects the change', async () => {
      // Same MAC as the existing 192.0.2.10 reservation in the same subnet: Kea refuses duplicates.
      const err = await failure(client.upsertReservation4({ ipAddress: '192.0.2.21', hwAddress: 'aa:bb:cc:dd:ee:01' }));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/config-test \(dhcp4\) failed: result 1: .+/);
      expect((await serverReservations(kea, 1)).map((r) => r['ip-address'])).to.deep.equal(['192.0.2.10']);
    });

    it('refuses a MAC that is not one', async () => {
      const err = await failure(client.upsertReservation4({ ipAddress: '192.0.2.22', hwAddress: 'zz' }));
      expect(isIpamError(err, 'VALIDATION')).to.equal(true);
    });
  });

  describe('IPv6 reservations', () => {
    it('creates, replaces and deletes a DUID reservation on kea-dhcp6', async function () {
      if (!kea.dhcp6) {
        console.log('      skipped: kea-dhcp6 is not installed');
        this.skip();
      }
      await client.upsertReservation6({ ipAddress: '2001:db8:1::20', duid: '00:01:00:01:00:00:00:20', hostname: 'v6-host' });
      await client.upsertReservation6({ ipAddress: '2001:db8:1::20', duid: '00:01:00:01:00:00:00:21' });
      const reservations = await serverReservations(kea, 10, 6);
      const matching = reservations.filter((r) => (r['ip-addresses'] as string[]).includes('2001:db8:1::20'));
      expect(matching).to.have.length(1);
      expect(matching[0].duid).to.equal('00:01:00:01:00:00:00:21');
      expect(await client.deleteReservation6('2001:db8:1::20')).to.equal(true);
      const left = (await serverReservations(kea, 10, 6)).flatMap((r) => r['ip-addresses'] as string[]);
      expect(left).to.deep.equal(['2001:db8:1::10']);
    });
  });

  describe('failures', () => {
    it('names Kea\'s result and text for a failing command', async () => {
      const err = await failure(client.command('no-such-command', 'dhcp4'));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/result 2: 'no-such-command' command not supported/);
    });

    it('reports a wrong password as 401 Unauthorized', async () => {
      const wrong = new KeaClient({ url: kea.url, user: kea.user, password: 'not-the-password' });
      const err = await failure(wrong.allLeases4());
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/401/).and.to.match(/Unauthorized/);
    });

    it('reports a server that is down as a refused connection', async () => {
      const port = await freePort();
      const down = new KeaClient({ url: `http://127.0.0.1:${port}/`, user: 'u', password: 'p' });
      const err = await failure(down.configGet());
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/refused the connection \(ECONNREFUSED\)/);
    });
  });
});

describe('sync/kea with the host_cmds hook (reservation-add / reservation-del)', () => {
  let server: http.Server;
  let url: string;
  const received: Array<{ command: string; arguments?: Record<string, unknown> }> = [];

  before(async () => {
    // Debian's Kea has no host_cmds hook, so this branch is checked against a stand-in agent.
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const request = JSON.parse(body) as { command: string; arguments?: Record<string, unknown> };
        received.push(request);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify([answer(request.command)]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function answer(command: string): unknown {
    if (command === 'list-commands') return { result: 0, arguments: ['config-get', 'reservation-add', 'reservation-del'] };
    if (command === 'config-get') return { result: 0, arguments: { Dhcp4: { subnet4: [{ id: 5, subnet: '10.5.0.0/24' }] } } };
    if (command === 'reservation-del') return { result: 3, text: 'Host not deleted (not found).' };
    return { result: 0, text: 'Host added.' };
  }

  it('deletes the old reservation of the IP, then adds the new one in the right subnet', async () => {
    await new KeaClient({ url }).upsertReservation4({ ipAddress: '10.5.0.9', hwAddress: '00:11:22:33:44:55', hostname: 'x' });
    const edits = received.filter((r) => r.command.startsWith('reservation-'));
    expect(edits).to.deep.equal([
      { command: 'reservation-del', service: ['dhcp4'], arguments: { 'subnet-id': 5, 'ip-address': '10.5.0.9' } },
      {
        command: 'reservation-add',
        service: ['dhcp4'],
        arguments: { reservation: { 'hw-address': '00:11:22:33:44:55', 'ip-address': '10.5.0.9', hostname: 'x', 'subnet-id': 5 } },
      },
    ]);
    expect(received.map((r) => r.command)).to.not.include('config-set');
  });
});
