/**
 * Address math: strict parsing, canonical text, fixed-width keys, sizes and subnets.
 * Addresses are BigInt values; nothing here enumerates a range.
 */
import ipaddr from 'ipaddr.js';
import { IpamError, fieldMessage } from '../errors';

export type Family = 4 | 6;

export interface Address {
  family: Family;
  value: bigint;
  /** Canonical text: dotted decimal for IPv4, RFC 5952 for IPv6. */
  text: string;
}

export interface Network {
  family: Family;
  prefixLength: number;
  first: bigint;
  last: bigint;
  /** Canonical CIDR text, e.g. `10.1.0.0/24`. */
  cidr: string;
}

export interface Interval {
  first: bigint;
  last: bigint;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };
const HEX_WIDTH: Record<Family, number> = { 4: 8, 6: 32 };

export function familyBits(family: Family): number {
  return BITS[family];
}

/** Parses one address, refusing ambiguous forms (leading zeros, short IPv4, zone ids). */
export function parseAddress(input: unknown, field = 'address'): Address {
  if (typeof input !== 'string') throw badAddress(field, input, 'is not a text IP address');
  const text = input.trim();
  // ipaddr.js throws and catches internally on IPv6 text here, which is slow: test only what may be IPv4.
  if (!text.includes(':') && ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return fromParsed(ipaddr.IPv4.parse(text));
  }
  if (text.includes('%')) throw badAddress(field, input, 'zone ids are not allowed');
  if (text.includes(':') && ipaddr.IPv6.isValid(text)) {
    const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (dotted && !ipaddr.IPv4.isValidFourPartDecimal(dotted[1])) {
      throw badAddress(field, input, 'embedded IPv4 part is not plain dotted decimal');
    }
    return fromParsed(ipaddr.IPv6.parse(text));
  }
  if (/^[\d.]+$/.test(text)) {
    throw badAddress(field, input, 'IPv4 needs four decimal parts without leading zeros');
  }
  throw badAddress(field, input, 'is not an IPv4 or IPv6 address');
}

/** Parses `address/prefix`. With `strict`, host bits must be zero (a network ID is required). */
export function parseNetwork(input: unknown, field = 'network', strict = true): Network {
  if (typeof input !== 'string' || !input.includes('/')) {
    throw badAddress(field, input, 'is not a network in CIDR form (address/prefix)');
  }
  const [addressText, prefixText, ...rest] = input.trim().split('/');
  if (rest.length > 0 || !/^\d{1,3}$/.test(prefixText)) {
    throw badAddress(field, input, 'prefix length must be a whole number');
  }
  const address = parseAddress(addressText, field);
  const prefixLength = Number(prefixText);
  if (prefixLength > BITS[address.family]) {
    throw badAddress(field, input, `prefix length must be 0 to ${BITS[address.family]}`);
  }
  const network = networkOf(address.family, address.value, prefixLength);
  if (strict && network.first !== address.value) {
    throw badAddress(
      field,
      input,
      `host bits are set; the network ID is ${formatAddress(address.family, network.first)}`,
    );
  }
  return network;
}

/** The network of the given prefix length that contains `value`. */
export function networkOf(family: Family, value: bigint, prefixLength: number): Network {
  const hostBits = BigInt(BITS[family] - prefixLength);
  const first = (value >> hostBits) << hostBits;
  const last = first + (1n << hostBits) - 1n;
  return { family, prefixLength, first, last, cidr: `${formatAddress(family, first)}/${prefixLength}` };
}

export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
  }
  const bytes: number[] = [];
  for (let shift = 120n; shift >= 0n; shift -= 8n) bytes.push(Number((value >> shift) & 0xffn));
  return canonicalIPv6(ipaddr.fromByteArray(bytes) as ipaddr.IPv6);
}

/**
 * `aa:bb:cc:dd:ee:ff` from a MAC address written with colons or dashes, as bare hex, or Cisco-dotted
 * (`aabb.ccdd.eeff`); undefined when it is not one. `shortOctets` also takes `a:b:…` (as dhcpd writes them).
 */
export function parseMac(input: string, shortOctets = false): string | undefined {
  const text = input.trim().toLowerCase();
  if (/^[0-9a-f]{12}$/.test(text) || /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(text)) {
    return text.replace(/\./g, '').match(/../g)!.join(':');
  }
  const octets = text.split(/[:-]/);
  const octet = shortOctets ? /^[0-9a-f]{1,2}$/ : /^[0-9a-f]{2}$/;
  if (octets.length !== 6 || !octets.every((o) => octet.test(o))) return undefined;
  return octets.map((o) => o.padStart(2, '0')).join(':');
}

/** The DNS name of an address's PTR record: in-addr.arpa for IPv4, nibbles under ip6.arpa for IPv6. */
export function reverseName(address: Address | string): string {
  const parsed = typeof address === 'string' ? parseAddress(address) : address;
  if (parsed.family === 4) return `${parsed.text.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${toHex(6, parsed.value).split('').reverse().join('.')}.ip6.arpa`;
}

/** Fixed-width lower-case hex: string order equals numeric order within a family. */
export function toHex(family: Family, value: bigint): string {
  return value.toString(16).padStart(HEX_WIDTH[family], '0');
}

export function fromHex(hex: string): bigint {
  return BigInt(`0x${hex}`);
}

export function maxValue(family: Family): bigint {
  return (1n << BigInt(BITS[family])) - 1n;
}

/** Addresses a range takes when assigned automatically: IPv4 skips network and broadcast except /31 and /32. */
export function usableBounds(network: Network): Interval {
  if (network.family === 4) {
    if (network.prefixLength >= 31) return { first: network.first, last: network.last };
    return { first: network.first + 1n, last: network.last - 1n };
  }
  if (network.prefixLength === 128) return { first: network.first, last: network.last };
  return { first: network.first + 1n, last: network.last };
}

const PRIVATE_NETWORKS: Network[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'].map(
  (cidr) => parseNetwork(cidr),
);

/** RFC 1918 (IPv4) or unique local fc00::/7 (IPv6): the whole interval must lie inside one of them. */
export function isPrivate(family: Family, interval: Interval): boolean {
  return PRIVATE_NETWORKS.some((net) => net.family === family && contains(net, interval));
}

export function contains(outer: Interval, inner: Interval): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}

export function overlaps(a: Interval, b: Interval): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function sizeOf(interval: Interval): bigint {
  return interval.last - interval.first + 1n;
}

/** A count as JSON: a number while exact, a decimal string beyond 2^53. */
export function jsonCount(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** Total number of addresses covered by intervals that may overlap; sorts a copy. */
export function unionSize(intervals: Interval[]): bigint {
  const sorted = [...intervals].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let total = 0n;
  let current: Interval | undefined;
  for (const next of sorted) {
    if (current && next.first <= current.last + 1n) {
      if (next.last > current.last) current = { first: current.first, last: next.last };
      continue;
    }
    if (current) total += sizeOf(current);
    current = next;
  }
  return current ? total + sizeOf(current) : total;
}

/**
 * First subnet of `prefixLength` aligned inside `within` that overlaps none of `taken`.
 * Walks the taken intervals (sorted by start), never the addresses.
 */
export function firstFreeSubnet(
  family: Family,
  within: Interval,
  prefixLength: number,
  taken: Interval[],
): Network | undefined {
  const step = 1n << BigInt(BITS[family] - prefixLength);
  const alignUp = (value: bigint): bigint => ((value + step - 1n) / step) * step;
  let candidate = alignUp(within.first);
  const sorted = [...taken].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (const used of sorted) {
    if (candidate + step - 1n > within.last) return undefined;
    if (used.last < candidate) continue;
    if (used.first > candidate + step - 1n) break;
    candidate = alignUp(used.last + 1n);
  }
  if (candidate + step - 1n > within.last) return undefined;
  return networkOf(family, candidate, prefixLength);
}

function fromParsed(parsed: ipaddr.IPv4 | ipaddr.IPv6): Address {
  const family: Family = parsed.kind() === 'ipv4' ? 4 : 6;
  const value = parsed.toByteArray().reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  const text = family === 4 ? parsed.toString() : canonicalIPv6(parsed as ipaddr.IPv6);
  return { family, value, text };
}

function canonicalIPv6(address: ipaddr.IPv6): string {
  if (address.isIPv4MappedAddress()) return `::ffff:${address.toIPv4Address().toString()}`;
  return address.toRFC5952String();
}

function badAddress(field: string, value: unknown, reason: string): IpamError {
  return new IpamError('INVALID_ADDRESS', fieldMessage(field, value, reason), { field, value });
}
