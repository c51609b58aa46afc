import { expect } from 'chai';
import fc from 'fast-check';
import {
  firstFreeSubnet,
  formatAddress,
  isPrivate,
  jsonCount,
  parseAddress,
  parseNetwork,
  sizeOf,
  toHex,
  unionSize,
  usableBounds,
} from '../../../lib/address/math';
import { IpamError } from '../../../lib/errors';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    return (err as IpamError).code;
  }
  return undefined;
}

describe('address math', () => {
  describe('parseAddress', () => {
    it('gives canonical text for IPv4 and IPv6', () => {
      expect(parseAddress('10.1.2.3').text).to.equal('10.1.2.3');
      expect(parseAddress('2001:DB8:0:0:0:0:0:1').text).to.equal('2001:db8::1');
      expect(parseAddress('2001:0db8:0000:0000:0001:0000:0000:0001').text).to.equal('2001:db8::1:0:0:1');
      expect(parseAddress('FE80::A').text).to.equal('fe80::a');
      expect(parseAddress('::ffff:192.0.2.1').text).to.equal('::ffff:192.0.2.1');
    });

    it('refuses ambiguous and malformed input, naming the field and value', () => {
      for (const bad of ['010.1.1.1', '10.1.1', '1.2.3.256', 'fe80::1%eth0', '1::2::3', 'host.example', '']) {
        expect(codeOf(() => parseAddress(bad, 'address')), bad).to.equal('INVALID_ADDRESS');
      }
      expect(() => parseAddress('010.1.1.1', 'startAddress')).to.throw(/startAddress "010.1.1.1"/);
      expect(codeOf(() => parseAddress(42))).to.equal('INVALID_ADDRESS');
    });
  });

  describe('formatAddress', () => {
    it('gives the text parseAddress reads back as the same value, for every IPv4 value', () => {
      const edges = fc.constantFrom(0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff);
      fc.assert(
        fc.property(fc.oneof(edges, fc.integer({ min: 0, max: 0xffffffff })), (n) => {
          const text = formatAddress(4, BigInt(n));
          const parsed = parseAddress(text);
          expect(parsed.value).to.equal(BigInt(n));
          expect(parsed.text).to.equal(text);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('parseNetwork', () => {
    it('parses CIDR into bounds', () => {
      const net = parseNetwork('10.1.0.0/24');
      expect(net.cidr).to.equal('10.1.0.0/24');
      expect(formatAddress(4, net.first)).to.equal('10.1.0.0');
      expect(formatAddress(4, net.last)).to.equal('10.1.0.255');
      const v6 = parseNetwork('2001:DB8:0:1::/64');
      expect(v6.cidr).to.equal('2001:db8:0:1::/64');
      expect(formatAddress(6, v6.last)).to.equal('2001:db8:0:1:ffff:ffff:ffff:ffff');
    });

    it('refuses host bits, naming the network ID', () => {
      expect(() => parseNetwork('10.1.0.5/24')).to.throw(/host bits are set; the network ID is 10.1.0.0/);
      expect(codeOf(() => parseNetwork('10.1.0.0/33'))).to.equal('INVALID_ADDRESS');
      expect(codeOf(() => parseNetwork('10.1.0.0'))).to.equal('INVALID_ADDRESS');
      expect(codeOf(() => parseNetwork('10.1.0.0/2x'))).to.equal('INVALID_ADDRESS');
    });
  });

  it('keys are fixed-width hex whose string order is numeric order', () => {
    const values = [0n, 1n, 9n, 10n, 255n, 256n, 4294967295n];
    const keys = values.map((v) => toHex(4, v));
    expect(new Set(keys.map((k) => k.length))).to.deep.equal(new Set([8]));
    expect([...keys].sort()).to.deep.equal(keys);
    const v6 = [1n, 1n << 64n, (1n << 128n) - 1n].map((v) => toHex(6, v));
    expect(v6.every((k) => k.length === 32)).to.equal(true);
    expect([...v6].sort()).to.deep.equal(v6);
  });

  describe('usableBounds', () => {
    const usable = (cidr: string) => {
      const net = parseNetwork(cidr);
      const b = usableBounds(net);
      return [formatAddress(net.family, b.first), formatAddress(net.family, b.last)];
    };
    it('IPv4 skips network and broadcast except /31 and /32', () => {
      expect(usable('10.1.0.0/24')).to.deep.equal(['10.1.0.1', '10.1.0.254']);
      expect(usable('10.1.0.0/31')).to.deep.equal(['10.1.0.0', '10.1.0.1']);
      expect(usable('10.1.0.7/32')).to.deep.equal(['10.1.0.7', '10.1.0.7']);
    });
    it('IPv6 runs from network+1 to the last address', () => {
      expect(usable('2001:db8:0:1::/64')).to.deep.equal(['2001:db8:0:1::1', '2001:db8:0:1:ffff:ffff:ffff:ffff']);
    });
  });

  it('classifies private space (RFC 1918, fc00::/7) and public space', () => {
    const priv = (cidr: string) => isPrivate(parseNetwork(cidr).family, parseNetwork(cidr));
    expect(priv('10.0.0.0/8')).to.equal(true);
    expect(priv('172.16.0.0/12')).to.equal(true);
    expect(priv('172.32.0.0/16')).to.equal(false);
    expect(priv('192.168.10.0/24')).to.equal(true);
    expect(priv('65.52.0.0/14')).to.equal(false);
    expect(priv('fd00:1::/48')).to.equal(true);
    expect(priv('2001:db8::/32')).to.equal(false);
  });

  it('sizes are exact BigInts, and JSON counts become strings beyond 2^53', () => {
    expect(sizeOf(parseNetwork('10.0.0.0/8'))).to.equal(16777216n);
    expect(jsonCount(sizeOf(parseNetwork('10.0.0.0/8')))).to.equal(16777216);
    expect(jsonCount(sizeOf(parseNetwork('2001:db8::/32')))).to.equal('79228162514264337593543950336');
  });

  it('unionSize counts overlapping intervals once', () => {
    expect(unionSize([{ first: 0n, last: 9n }, { first: 5n, last: 14n }, { first: 20n, last: 20n }])).to.equal(16n);
    expect(unionSize([])).to.equal(0n);
  });

  describe('firstFreeSubnet', () => {
    const block = parseNetwork('10.0.0.0/16');
    const taken = (cidr: string) => parseNetwork(cidr);
    it('returns the first aligned subnet clear of taken intervals', () => {
      expect(firstFreeSubnet(4, block, 24, [])?.cidr).to.equal('10.0.0.0/24');
      expect(firstFreeSubnet(4, block, 24, [taken('10.0.0.0/24'), taken('10.0.1.0/25')])?.cidr).to.equal('10.0.2.0/24');
      expect(firstFreeSubnet(4, block, 23, [taken('10.0.1.0/24')])?.cidr).to.equal('10.0.2.0/23');
    });
    it('returns undefined when the block is full', () => {
      expect(firstFreeSubnet(4, block, 17, [taken('10.0.0.0/17'), taken('10.0.128.0/17')])).to.equal(undefined);
    });
    it('works on IPv6 without enumerating', () => {
      const v6 = parseNetwork('2001:db8::/32');
      expect(firstFreeSubnet(6, v6, 64, [taken('2001:db8::/64')])?.cidr).to.equal('2001:db8:0:1::/64');
    });
  });
});
