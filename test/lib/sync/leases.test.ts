import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import {
  canonicalMac,
  parseDnsmasqLeases,
  parseIscDate,
  parseIscLeases,
  parseKeaLeases,
  type Lease,
} from '../../../lib/sync/leases';

const fixture = (name: string): string => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8');
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
const byAddress = (leases: Lease[], address: string): Lease | undefined => leases.find((l) => l.address === address);

describe('sync/leases', () => {
  describe('canonicalMac', () => {
    it('accepts colon, dash and bare hex in any case', () => {
      expect(canonicalMac('52:54:00:AB:cd:01')).to.equal('52:54:00:ab:cd:01');
      expect(canonicalMac('52-54-00-ab-cd-01')).to.equal('52:54:00:ab:cd:01');
      expect(canonicalMac('525400ABCD01')).to.equal('52:54:00:ab:cd:01');
      expect(canonicalMac('0:1:2:a:b:c')).to.equal('00:01:02:0a:0b:0c');
    });

    it('refuses anything that is not six octets', () => {
      expect(canonicalMac('06-52:54:00:ab:cd:06')).to.equal(undefined);
      expect(canonicalMac('52:54:00:ab:cd')).to.equal(undefined);
      expect(canonicalMac('52:54:00:ab:cd:zz')).to.equal(undefined);
    });
  });

  describe('parseIscDate', () => {
    it('reads never, epoch and weekday dates as UTC', () => {
      expect(parseIscDate(['never'])).to.equal(null);
      expect(parseIscDate(['epoch', '1709668800'])?.toISOString()).to.equal('2024-03-05T20:00:00.000Z');
      expect(parseIscDate(['2', '2024/03/05', '22:00:00'])?.toISOString()).to.equal('2024-03-05T22:00:00.000Z');
    });

    it('refuses impossible dates', () => {
      expect(() => parseIscDate(['2', '2024/02/30', '10:00:00'])).to.throw(/impossible date/);
      expect(() => parseIscDate(['2', '2024/03/05'])).to.throw(/unreadable date/);
      expect(() => parseIscDate(['9', '2024/03/05', '10:00:00'])).to.throw(/unreadable date/);
    });
  });

  describe('parseIscLeases on a realistic dhcpd.leases', () => {
    const text = fixture('dhcpd.leases');
    const { leases, errors } = parseIscLeases(text);

    it('keeps the last block for an address', () => {
      const lease = byAddress(leases, '192.0.2.50');
      expect(lease).to.deep.equal({
        address: '192.0.2.50',
        family: 4,
        state: 'released',
        expires: new Date('2024-03-06T00:00:00Z'),
        macAddress: '52:54:00:ab:cd:01',
        hostname: 'laptop-anna',
      });
      expect(leases.filter((l) => l.address === '192.0.2.50')).to.have.length(1);
    });

    it('reads never, epoch and binding states', () => {
      expect(byAddress(leases, '192.0.2.51')).to.include({ state: 'active', expires: null, hostname: 'printer-2', macAddress: '52:54:00:ab:cd:02' });
      const epoch = byAddress(leases, '192.0.2.52');
      expect(epoch?.state).to.equal('free');
      expect(epoch?.expires?.toISOString()).to.equal('2024-03-05T20:00:00.000Z');
      expect(byAddress(leases, '192.0.2.55')?.state).to.equal('expired');
    });

    it('reads ia-na blocks with IAID (authoring byte order) and DUID, one lease per iaaddr', () => {
      expect(byAddress(leases, '2001:db8:1::100')).to.deep.equal({
        address: '2001:db8:1::100',
        family: 6,
        duid: '00:01:00:01:2a:2b:2c:2d:aa:bb:cc:dd:ee:02',
        iaid: 1,
        state: 'active',
        expires: new Date('2024-03-05T10:10:00Z'),
      });
      expect(byAddress(leases, '2001:db8:1::101')).to.include({ state: 'expired', iaid: 1 });
    });

    it('ignores server-duid, failover and prefix delegations', () => {
      expect(leases.map((l) => l.address)).to.have.members([
        '192.0.2.51',
        '192.0.2.52',
        '192.0.2.50',
        '192.0.2.55',
        '2001:db8:1::100',
        '2001:db8:1::101',
      ]);
    });

    it('reports each malformed lease by line and drops only that lease', () => {
      const missingSemicolon = text.split('\n').findIndex((l) => l === '  binding state active') + 1;
      expect(errors.map((e) => e.line)).to.deep.equal([
        lineOf(text, 'lease 192.0.2.999'),
        lineOf(text, 'ends 2 2024/13/05'),
        missingSemicolon,
      ]);
      expect(errors[0].message).to.match(/192\.0\.2\.999/);
      expect(errors[1].message).to.match(/impossible date/);
      expect(errors[2].message).to.match(/missing its ";"/);
      expect(byAddress(leases, '192.0.2.53')).to.equal(undefined);
      expect(byAddress(leases, '192.0.2.54')).to.equal(undefined);
    });
  });

  describe('parseIscLeases edge cases', () => {
    it('keeps the leases before a truncated tail and reports the unclosed block', () => {
      const text = 'lease 10.0.0.1 {\n  binding state active;\n}\nlease 10.0.0.2 {\n  binding state active;\n';
      const { leases, errors } = parseIscLeases(text);
      expect(leases.map((l) => l.address)).to.deep.equal(['10.0.0.1']);
      expect(errors).to.deep.equal([{ line: 4, message: 'block opened here is never closed' }]);
    });

    it('reports a stray closing brace and reads on', () => {
      const { leases, errors } = parseIscLeases('}\nlease 10.0.0.3 {\n  binding state backup;\n}\n');
      expect(leases).to.deep.equal([{ address: '10.0.0.3', family: 4, state: 'backup' }]);
      expect(errors).to.deep.equal([{ line: 1, message: 'unexpected "}"' }]);
    });

    it('honours authoring-byte-order big-endian for the IAID', () => {
      const text = [
        'authoring-byte-order big-endian;',
        'ia-na "\\000\\000\\000\\007\\000\\003\\000\\001RT\\000\\001\\002\\003" {',
        '  iaaddr 2001:db8::7 {',
        '    binding state active;',
        '    ends never;',
        '  }',
        '}',
      ].join('\n');
      const { leases, errors } = parseIscLeases(text);
      expect(errors).to.deep.equal([]);
      expect(leases).to.deep.equal([
        { address: '2001:db8::7', family: 6, iaid: 7, duid: '00:03:00:01:52:54:00:01:02:03', state: 'active', expires: null },
      ]);
    });

    it('reports an unterminated quoted string', () => {
      const { leases, errors } = parseIscLeases('lease 10.0.0.4 {\n  binding state active;\n}\nlease 10.0.0.5 {\n  client-hostname "oops;\n');
      expect(leases.map((l) => l.address)).to.deep.equal(['10.0.0.4']);
      expect(errors[0]).to.deep.equal({ line: 5, message: 'unterminated quoted string' });
    });
  });

  describe('parseDnsmasqLeases', () => {
    const text = fixture('dnsmasq.leases');
    const now = new Date('2024-03-05T12:00:00Z');
    const { leases, errors } = parseDnsmasqLeases(text, { now });

    it('reads IPv4 lines with expiry, MAC, hostname', () => {
      expect(byAddress(leases, '192.168.10.20')).to.deep.equal({
        address: '192.168.10.20',
        family: 4,
        macAddress: '52:54:00:ab:cd:01',
        hostname: 'laptop-anna',
        expires: new Date(1709668800 * 1000),
        state: 'active',
      });
    });

    it('treats expiry 0 as never and * as no hostname', () => {
      expect(byAddress(leases, '192.168.10.21')).to.deep.equal({
        address: '192.168.10.21',
        family: 4,
        macAddress: '52:54:00:ab:cd:02',
        expires: null,
        state: 'active',
      });
    });

    it('marks leases past their expiry as expired', () => {
      expect(byAddress(leases, '192.168.10.22')?.state).to.equal('expired');
    });

    it('leaves out a non-Ethernet hardware address but keeps the lease', () => {
      const lease = byAddress(leases, '192.168.10.24');
      expect(lease?.hostname).to.equal('tokenring');
      expect(lease).to.not.have.property('macAddress');
    });

    it('reads IPv6 lines after the duid line (IAID decimal, T prefix for temporary)', () => {
      expect(byAddress(leases, '2001:db8:10::20')).to.include({ iaid: 2863311530, duid: '00:01:00:01:2a:2b:2c:2d:aa:bb:cc:dd:ee:02', family: 6 });
      expect(byAddress(leases, '2001:db8:10::21')).to.include({ iaid: 17, expires: null, duid: '00:03:00:01:52:54:00:ab:cd:07' });
    });

    it('reports malformed lines by number and keeps the rest', () => {
      expect(errors.map((e) => e.line)).to.deep.equal([
        lineOf(text, '192.168.10.300'),
        lineOf(text, 'not-a-time'),
        lineOf(text, 'notanumber'),
      ]);
      expect(errors[0].message).to.match(/192\.168\.10\.300/);
      expect(errors[1].message).to.match(/expiry "not-a-time"/);
      expect(errors[2].message).to.match(/IAID "notanumber"/);
      expect(leases).to.have.length(6);
    });
  });

  describe('parseKeaLeases', () => {
    it('normalises lease4 and lease6 entries', () => {
      const { leases, errors } = parseKeaLeases([
        { 'ip-address': '192.0.2.100', 'hw-address': '11:22:33:44:55:66', hostname: 'a', cltt: 1700000000, 'valid-lft': 3600, state: 0, 'subnet-id': 1 },
        { 'ip-address': '192.0.2.101', 'hw-address': '', cltt: 1700000000, 'valid-lft': 4294967295, state: 2, 'subnet-id': 1 },
        { 'ip-address': '2001:DB8:1::100', duid: '00:01:00:01:AA:BB', iaid: 42, cltt: 1700000000, 'valid-lft': 600, state: 1, type: 'IA_NA' },
      ]);
      expect(errors).to.deep.equal([]);
      expect(leases).to.deep.equal([
        { address: '192.0.2.100', family: 4, state: 'active', macAddress: '11:22:33:44:55:66', hostname: 'a', subnetId: 1, expires: new Date(1700003600 * 1000) },
        { address: '192.0.2.101', family: 4, state: 'expired', subnetId: 1, expires: null },
        { address: '2001:db8:1::100', family: 6, state: 'declined', duid: '00:01:00:01:aa:bb', iaid: 42, expires: new Date(1700000600 * 1000) },
      ]);
    });

    it('skips prefix delegations and reports bad entries by position', () => {
      const { leases, errors } = parseKeaLeases([
        { 'ip-address': '2001:db8:ff00::', 'prefix-len': 56, type: 'IA_PD' },
        { 'ip-address': 'nope' },
        null,
        { 'ip-address': '192.0.2.7', state: 'weird' },
      ]);
      expect(leases).to.deep.equal([]);
      expect(errors.map((e) => e.line)).to.deep.equal([2, 3, 4]);
      expect(errors[0].message).to.match(/nope/);
    });
  });
});
