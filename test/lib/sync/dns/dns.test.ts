import { expect } from 'chai';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isIpamError } from '../../../../lib/errors';
import { reverseName } from '../../../../lib/address';
import { DnsUpdateClient, query, queryPtr } from '../../../../lib/sync/dns/client';
import { qualify, reverseZoneFor } from '../../../../lib/sync/dns/codec';
import { failure } from '../../../support/failure';
import { freePort, requireBinaries, startBind, type BindServer } from '../../../support/servers';

describe('sync/dns names', () => {
  it('derives in-addr.arpa and ip6.arpa names', () => {
    expect(reverseName('192.0.2.5')).to.equal('5.2.0.192.in-addr.arpa');
    expect(reverseName('2001:db8::567:89ab')).to.equal(
      'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
  });

  it('picks the most specific reverse zone and none when nothing matches', () => {
    const zones = ['192.in-addr.arpa.', '2.0.192.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa', '12.0.192.in-addr.arpa'];
    expect(reverseZoneFor('192.0.2.5', zones)).to.equal('2.0.192.in-addr.arpa');
    expect(reverseZoneFor('192.0.3.5', zones)).to.equal('192.in-addr.arpa');
    expect(reverseZoneFor('2001:db8::1', zones)).to.equal('8.b.d.0.1.0.0.2.ip6.arpa');
    expect(reverseZoneFor('198.51.100.1', zones)).to.equal(undefined);
    // 12.0.192 must not match 2.0.192 by string suffix alone.
    expect(reverseZoneFor('192.0.12.1', ['2.0.192.in-addr.arpa'])).to.equal(undefined);
  });

  it('qualifies host names relative to the zone', () => {
    expect(qualify('printer1', 'example.test')).to.equal('printer1.example.test');
    expect(qualify('Printer1.Example.Test', 'example.test.')).to.equal('printer1.example.test');
    expect(qualify('printer1.other.test.', 'example.test')).to.equal('printer1.other.test');
  });
});

describe('sync/dns against a real BIND server', function () {
  this.timeout(30_000);
  let bind: BindServer;
  let dns: DnsUpdateClient;
  let server: { host: string; port: number; timeoutMs: number };

  before(async function () {
    requireBinaries(this, ['named']);
    bind = await startBind();
    server = { host: bind.host, port: bind.port, timeoutMs: 3000 };
    dns = new DnsUpdateClient({ ...server, key: { name: bind.keyName, secret: bind.secret, algorithm: 'hmac-sha256' } });
  });

  after(async () => {
    await bind?.stop();
  });

  const addresses = async (name: string, type: 'A' | 'AAAA'): Promise<string[]> =>
    (await query(name, type, server)).map((r) => r.data).sort();

  describe('host records', () => {
    it('adds an A record that the server then answers', async () => {
      await dns.addHost({ name: 'printer1', zone: 'example.test', address: '192.0.2.5', ttl: 600 });
      const records = await query('printer1.example.test', 'A', server);
      expect(records).to.deep.equal([{ name: 'printer1.example.test', type: 'A', ttl: 600, data: '192.0.2.5' }]);
    });

    it('adds an AAAA record from an IPv6 address', async () => {
      await dns.addHost({ name: 'printer1.example.test.', zone: 'example.test', address: '2001:DB8::0005' });
      expect(await addresses('printer1.example.test', 'AAAA')).to.deep.equal(['2001:db8::5']);
    });

    it('deletes only the named address of the host', async () => {
      await dns.addHost({ name: 'printer1', zone: 'example.test', address: '192.0.2.6' });
      expect(await addresses('printer1.example.test', 'A')).to.deep.equal(['192.0.2.5', '192.0.2.6']);
      await dns.deleteHost({ name: 'printer1', zone: 'example.test', address: '192.0.2.5' });
      expect(await addresses('printer1.example.test', 'A')).to.deep.equal(['192.0.2.6']);
    });

    it('replaces the other addresses when asked', async () => {
      await dns.addHost({ name: 'printer1', zone: 'example.test', address: '192.0.2.7', replace: true });
      expect(await addresses('printer1.example.test', 'A')).to.deep.equal(['192.0.2.7']);
      await dns.deleteHost({ name: 'printer1', zone: 'example.test', address: '192.0.2.7' });
      expect(await addresses('printer1.example.test', 'A')).to.deep.equal([]);
    });

    it('falls back to TCP when the UDP answer is truncated', async () => {
      const many = Array.from({ length: 60 }, (_, i) => `192.0.2.${i + 100}`);
      await dns.update(
        'example.test',
        many.map((address) => ({ action: 'add' as const, name: 'big.example.test', type: 'A' as const, data: address })),
      );
      expect(await addresses('big.example.test', 'A')).to.have.members(many);
    });
  });

  describe('PTR records', () => {
    it('adds a PTR in the reverse zone and reads it back with queryPtr', async () => {
      await dns.addPtr({ address: '192.0.2.5', zone: '2.0.192.in-addr.arpa', hostname: 'printer1.example.test' });
      expect(await queryPtr('192.0.2.5', server, 3000)).to.deep.equal(['printer1.example.test']);
    });

    it('replaces the PTR of the address by default', async () => {
      await dns.addPtr({ address: '192.0.2.5', zone: '2.0.192.in-addr.arpa', hostname: 'printer2.example.test.' });
      expect(await queryPtr('192.0.2.5', server)).to.deep.equal(['printer2.example.test']);
    });

    it('deletes the PTR', async () => {
      await dns.deletePtr({ address: '192.0.2.5', zone: '2.0.192.in-addr.arpa' });
      expect(await queryPtr('192.0.2.5', server)).to.deep.equal([]);
    });

    it('adds and deletes an IPv6 PTR under ip6.arpa', async () => {
      await dns.addPtr({ address: '2001:db8::5', zone: '8.b.d.0.1.0.0.2.ip6.arpa', hostname: 'printer1.example.test' });
      expect(await queryPtr('2001:db8::5', server)).to.deep.equal(['printer1.example.test']);
      await dns.deletePtr({ address: '2001:db8::5', zone: '8.b.d.0.1.0.0.2.ip6.arpa', hostname: 'printer1.example.test' });
      expect(await queryPtr('2001:db8::5', server)).to.deep.equal([]);
    });

    it('refuses a PTR into a reverse zone the server does not host', async () => {
      const err = await failure(dns.addPtr({ address: '198.51.100.7', zone: '100.51.198.in-addr.arpa', hostname: 'x.example.test' }));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/zone 100\.51\.198\.in-addr\.arpa: NOTAUTH: the server is not authoritative for the zone/);
    });

    it('refuses an address outside the given reverse zone before sending anything', async () => {
      const err = await failure(dns.addPtr({ address: '192.0.3.5', zone: '2.0.192.in-addr.arpa', hostname: 'x.example.test' }));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/not inside reverse zone "2\.0\.192\.in-addr\.arpa"/);
    });
  });

  describe('authentication', () => {
    it('fails with BADSIG on a wrong secret and changes nothing', async () => {
      const wrongSecret = crypto.randomBytes(32).toString('base64');
      const wrong = new DnsUpdateClient({ ...server, key: { name: bind.keyName, secret: wrongSecret } });
      const err = await failure(wrong.addHost({ name: 'intruder', zone: 'example.test', address: '192.0.2.66' }));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/rejected TSIG key "ipam-test-key": BADSIG.*wrong TSIG secret/);
      expect(await addresses('intruder.example.test', 'A')).to.deep.equal([]);
    });

    it('fails with BADKEY on a key name the server does not know', async () => {
      const unknown = new DnsUpdateClient({ ...server, key: { name: 'other-key', secret: bind.secret } });
      const err = await failure(unknown.addHost({ name: 'intruder', zone: 'example.test', address: '192.0.2.66' }));
      expect(err.message).to.match(/BADKEY/);
      expect(await addresses('intruder.example.test', 'A')).to.deep.equal([]);
    });

    it('is refused without a key', async () => {
      const anonymous = new DnsUpdateClient(server);
      const err = await failure(anonymous.addHost({ name: 'intruder', zone: 'example.test', address: '192.0.2.66' }));
      expect(err.message).to.match(/REFUSED: the server refused the request \(is an unsigned update allowed to update it\?\)/);
      expect(await addresses('intruder.example.test', 'A')).to.deep.equal([]);
    });

    it('rejects a reply altered in transit (reply TSIG verified)', async () => {
      const proxy = await startTamperingProxy(server.port);
      try {
        const key = { name: bind.keyName, secret: bind.secret };
        const client = new DnsUpdateClient({ host: '127.0.0.1', port: proxy.port, timeoutMs: 3000, key });
        const err = await failure(client.addHost({ name: 'tampered', zone: 'example.test', address: '192.0.2.67' }));
        expect(err.message).to.match(/failed TSIG verification/);
      } finally {
        proxy.close();
      }
    });

    it('reports a server that is not listening', async () => {
      const port = await freePort(true);
      const key = { name: bind.keyName, secret: bind.secret };
      const down = new DnsUpdateClient({ host: '127.0.0.1', port, timeoutMs: 2000, key });
      const err = await failure(down.addHost({ name: 'x', zone: 'example.test', address: '192.0.2.68' }));
      expect(isIpamError(err, 'SYNC_FAILED')).to.equal(true);
      expect(err.message).to.match(/ECONNREFUSED/);
    });
  });
});

/** Forwards UDP to BIND and flips the AD bit of every reply, which a TSIG check must notice. */
async function startTamperingProxy(targetPort: number): Promise<{ port: number; close(): void }> {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  front.on('message', (message, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    back.send(message, targetPort, '127.0.0.1');
  });
  back.on('message', (reply) => {
    const altered = Buffer.from(reply);
    altered[3] ^= 0x20;
    if (client) front.send(altered, client.port, client.address);
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', resolve));
  return {
    port: (front.address() as AddressInfo).port,
    close: () => {
      front.close();
      back.close();
    },
  };
}
