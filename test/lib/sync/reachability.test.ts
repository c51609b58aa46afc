/**
 * ipam-sync pushes try a server that does not answer once per run: the addresses after it fail at once,
 * their stored status saying why. Against a dead loopback port, a loopback server that never answers
 * (which counts what it receives), and the real BIND and Kea the suite starts.
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord } from '../../../lib/record';
import type { SyncResult } from '../../../lib/sync/operations';
import { failure } from '../../support/failure';
import { freePort, requireBinaries, startBind, startKea, type BindServer, type KeaServer } from '../../support/servers';

type Json = Record<string, unknown>;
const ZONES = { forwardZone: 'example.test', reverseZone: '2.0.192.in-addr.arpa' };

/** A UDP "DNS server" on loopback that reads every datagram and never answers. */
async function silentDns(): Promise<{ server: string; received: () => number; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  let received = 0;
  socket.on('message', () => received++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { server: `127.0.0.1:${(socket.address() as AddressInfo).port}`, received: () => received, close: () => socket.close() };
}

describe('ipam-sync: a server that does not answer is tried once per run', function () {
  this.timeout(60_000);
  let ipam: Ipam;
  beforeEach(async () => {
    ipam = await Ipam.open({ kind: 'embedded' });
  });
  afterEach(() => ipam.close());

  const addHosts = async (count: number, extra: Json = {}): Promise<string[]> => {
    const addresses = Array.from({ length: count }, (_, i) => `192.0.2.${i + 30}`);
    for (const address of addresses) {
      await ipam.perform('address', 'add', { address, deviceName: `h${address.split('.')[3]}`, dns: { ...ZONES, ...extra } });
    }
    return addresses;
  };
  const stored = async (address: string) => ((await ipam.perform('address', 'get', { address })) as AddressRecord).dns as Json;
  const run = (operation: string, request: Json) => ipam.perform('sync', operation, request) as Promise<SyncResult>;

  it('DNS on a dead loopback port: the first address gets the refusal, the rest fail without a try, each status says so', async () => {
    const port = await freePort(true);
    const addresses = await addHosts(4);
    const err = await failure(run('create-dns-host', { addresses, dns: { server: `127.0.0.1:${port}`, timeoutMs: 2000 } }));
    expect(err.code).to.equal('SYNC_FAILED');
    expect(err.message).to.match(/ECONNREFUSED/);
    const [first, ...rest] = await Promise.all(addresses.map(stored));
    expect(first).to.include({ hostSyncStatus: 'Create Failed' });
    expect(first.syncMessage).to.match(/^DNS server 127\.0\.0\.1:\d+: refused the connection/);
    for (const dns of rest) {
      expect(dns).to.include({ hostSyncStatus: 'Create Failed' });
      expect(dns.syncMessage).to.match(/^not tried: earlier in this run, DNS server 127\.0\.0\.1:\d+: refused the connection/);
    }
  });

  it('DNS that never answers: one datagram (one timeout) for the whole run of six addresses, each failed', async () => {
    const silent = await silentDns();
    try {
      const addresses = await addHosts(6);
      const err = await failure(run('create-dns-ptr', { addresses, dns: { server: silent.server, timeoutMs: 300 } }));
      expect(err.message).to.equal(`DNS server ${silent.server} did not answer within 300 ms`);
      expect(silent.received()).to.equal(1);
      const statuses = await Promise.all(addresses.map(stored));
      expect(statuses.map((s) => s.ptrSyncStatus)).to.deep.equal(Array(6).fill('Create Failed'));
      expect(statuses.slice(1).every((s) => String(s.syncMessage).startsWith('not tried: earlier in this run'))).to.equal(true);
      // The next run tries again (a server may come back between runs).
      await failure(run('create-dns-ptr', { addresses, dns: { server: silent.server, timeoutMs: 300 } }));
      expect(silent.received()).to.equal(2);
    } finally {
      silent.close();
    }
  });

  it('a record check failing on an address still names its own field, not the down server', async () => {
    const silent = await silentDns();
    try {
      const addresses = await addHosts(2);
      await ipam.perform('address', 'add', { address: '192.0.2.90', dns: ZONES });
      const result = failure(run('create-dns-host', { addresses: [...addresses, '192.0.2.90'], dns: { server: silent.server, timeoutMs: 300 } }));
      await result;
      expect((await stored('192.0.2.90')).syncMessage).to.equal('deviceName: address 192.0.2.90 needs a deviceName for a host record');
    } finally {
      silent.close();
    }
  });

  describe('with the real BIND', () => {
    let bind: BindServer;
    before(async function () {
      requireBinaries(this, ['named']);
      bind = await startBind();
    });
    after(async () => bind?.stop());

    it('only the silent server fails fast: addresses naming BIND as their server are created in the same run', async () => {
      const silent = await silentDns();
      try {
        const down = await addHosts(3);
        const up = ['192.0.2.60', '192.0.2.61'];
        for (const address of up) {
          await ipam.perform('address', 'add', {
            address, deviceName: `ok${address.split('.')[3]}`, dns: { ...ZONES, forwardPrimaryServer: `${bind.host}:${bind.port}` },
          });
        }
        const dns = { server: silent.server, keyName: bind.keyName, secret: bind.secret, algorithm: bind.algorithm, timeoutMs: 300 };
        const result = await run('create-dns-host', { addresses: [...down, ...up], dns });
        expect(result).to.include({ processed: 5, created: 2, failed: 3 });
        expect(silent.received()).to.equal(1);
        for (const address of up) expect(await stored(address)).to.include({ hostSyncStatus: 'Create Success' });
      } finally {
        silent.close();
      }
    });
  });

  describe('with the real Kea', () => {
    let kea: KeaServer;
    before(async function () {
      requireBinaries(this, ['kea-dhcp4', 'kea-ctrl-agent']);
      kea = await startKea();
    });
    after(async () => kea?.stop());

    /** Passes the first `forwarded` requests to Kea, then holds every later one unanswered; counts them. */
    async function failingProxy(forwarded: number): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
      let requests = 0;
      const target = new URL(kea.url);
      const server = http.createServer((req, res) => {
        if (++requests > forwarded) return; // never answers
        const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}/`,
        requests: () => requests,
        close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
      };
    }

    it('Kea that stops answering after its config-get: one timed-out reservation, the rest not tried', async () => {
      const proxy = await failingProxy(1);
      try {
        const addresses = ['192.0.2.110', '192.0.2.111', '192.0.2.112'];
        for (const [i, address] of addresses.entries()) {
          await ipam.perform('address', 'add', { address, macAddress: `52:54:00:00:01:0${i}` });
        }
        const kea4 = { url: proxy.url, user: kea.user, password: kea.password, timeoutMs: 400 };
        const err = await failure(run('create-dhcp-reservation', { addresses, kea: kea4 }));
        expect(err.message).to.match(/did not answer .* within 400 ms/);
        expect(proxy.requests()).to.equal(2);
        const reservations = await Promise.all(
          addresses.map(async (address) => ((await ipam.perform('address', 'get', { address })) as AddressRecord).dhcpReservation as Json),
        );
        expect(reservations.map((r) => r.syncStatus)).to.deep.equal(['Create Failed', 'Create Failed', 'Create Failed']);
        expect(reservations.slice(1).every((r) => String(r.syncMessage).startsWith('not tried: earlier in this run, Kea at'))).to.equal(true);
      } finally {
        await proxy.close();
      }
    });

    it('Kea on a dead port: one refused config-get, every address failed with that reason', async () => {
      const port = await freePort();
      const addresses = ['192.0.2.120', '192.0.2.121'];
      for (const [i, address] of addresses.entries()) await ipam.perform('address', 'add', { address, macAddress: `52:54:00:00:02:0${i}` });
      const err = await failure(run('create-dhcp-reservation', { addresses, kea: { url: `http://127.0.0.1:${port}/`, timeoutMs: 2000 } }));
      expect(err.message).to.match(/refused the connection \(ECONNREFUSED\)/);
      for (const address of addresses) {
        const reservation = ((await ipam.perform('address', 'get', { address })) as AddressRecord).dhcpReservation as Json;
        expect(reservation).to.include({ syncStatus: 'Create Failed' });
        expect(reservation.syncMessage).to.match(/ECONNREFUSED/);
      }
    });
  });
});
