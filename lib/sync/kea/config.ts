/**
 * Kea configuration (`config-get` of dhcp4/dhcp6) read as IPAM sees it: subnets (top-level and in shared
 * networks), their pools, the usable addresses no pool covers, and host reservations.
 */
import { formatAddress, parseAddress, parseNetwork, usableBounds, type Family, type Interval, type Network } from '../../address';
import { IpamError } from '../../errors';
import { canonicalMac } from '../leases';

export interface AddressSpan {
  first: string;
  last: string;
}

export interface KeaReservation {
  address: string;
  hwAddress?: string;
  duid?: string;
  hostname?: string;
}

export interface KeaScope {
  id: number;
  family: Family;
  /** Canonical CIDR. */
  subnet: string;
  sharedNetwork?: string;
  pools: AddressSpan[];
  reservations: KeaReservation[];
  /** Usable addresses of the subnet that no pool covers. */
  exclusions: AddressSpan[];
}

export type Json = Record<string, unknown>;

/**
 * Subnet objects of `{Dhcp4}` or `{Dhcp6}` config (live references), top-level and inside shared networks,
 * with the name of the shared network they sit in.
 */
function subnetEntries(config: Json): { subnet: Json; sharedNetwork?: string }[] {
  const out: { subnet: Json; sharedNetwork?: string }[] = [];
  for (const [rootKey, listKey] of [
    ['Dhcp4', 'subnet4'],
    ['Dhcp6', 'subnet6'],
  ]) {
    const root = config[rootKey] as Json | undefined;
    if (!root) continue;
    for (const subnet of asArray(root[listKey])) out.push({ subnet });
    for (const shared of asArray(root['shared-networks'])) {
      for (const subnet of asArray(shared[listKey])) out.push({ subnet, sharedNetwork: String(shared.name) });
    }
  }
  return out;
}

/** Subnet objects of `{Dhcp4}` or `{Dhcp6}` config, top-level and inside shared networks (live references). */
export function subnetsOf(config: Json): Json[] {
  return subnetEntries(config).map((entry) => entry.subnet);
}

export function asArray(value: unknown): Json[] {
  return Array.isArray(value) ? (value.filter((v) => v && typeof v === 'object') as Json[]) : [];
}

export function reservationsOf(subnet: Json): Json[] {
  return asArray(subnet.reservations);
}

/** `ip-address` (DHCPv4) and `ip-addresses` (DHCPv6) of a reservation. */
export function reservedAddresses(reservation: Json): string[] {
  const many = Array.isArray(reservation['ip-addresses']) ? reservation['ip-addresses'] : [];
  return [reservation['ip-address'], ...many].filter((a): a is string => typeof a === 'string');
}

export function reservesAddress(reservation: Json, address: string): boolean {
  return reservedAddresses(reservation).some((a) => canonicalOrSelf(a) === address);
}

export function canonicalOrSelf(text: string): string {
  try {
    return parseAddress(text).text;
  } catch {
    return text;
  }
}

export function subnetNetwork(subnet: Json): Network | undefined {
  try {
    return parseNetwork(subnet.subnet, 'subnet', false);
  } catch {
    return undefined;
  }
}

/** `"a - b"` or `"prefix/len"` pool text as an interval. */
export function parsePool(text: string): Interval & { family: Family } {
  if (text.includes('/')) {
    const network = parseNetwork(text.trim(), 'pool', false);
    return { family: network.family, first: network.first, last: network.last };
  }
  const parts = text.split('-').map((p) => p.trim());
  if (parts.length !== 2) {
    throw new IpamError('SYNC_FAILED', `pool ${JSON.stringify(text)} is not "first - last" or a prefix`);
  }
  const first = parseAddress(parts[0], 'pool');
  const last = parseAddress(parts[1], 'pool');
  return { family: first.family, first: first.value, last: last.value };
}

/**
 * Scopes from a Kea `config-get` result (`{Dhcp4: ...}` and/or `{Dhcp6: ...}`), including the
 * subnets of shared networks. Exclusions are the usable addresses of the subnet outside every pool.
 */
export function scopesOf(config: Json): KeaScope[] {
  return subnetEntries(config).map(({ subnet, sharedNetwork }) => (sharedNetwork === undefined ? toScope(subnet) : { ...toScope(subnet), sharedNetwork }));
}

export function toScope(subnet: Json): KeaScope {
  const network = parseNetwork(subnet.subnet, 'subnet', false);
  const pools = asArray(subnet.pools).map((p) => parsePool(String(p.pool)));
  return {
    id: Number(subnet.id),
    family: network.family,
    subnet: network.cidr,
    pools: pools.map((p) => span(network.family, p)),
    reservations: reservationsOf(subnet).flatMap(toReservations),
    exclusions: uncovered(usableBounds(network), pools).map((i) => span(network.family, i)),
  };
}

export function toReservations(raw: Json): KeaReservation[] {
  return reservedAddresses(raw).map((address) => {
    const reservation: KeaReservation = { address: canonicalOrSelf(address) };
    const mac = typeof raw['hw-address'] === 'string' ? canonicalMac(raw['hw-address']) : undefined;
    if (mac) reservation.hwAddress = mac;
    if (typeof raw.duid === 'string') reservation.duid = raw.duid;
    if (typeof raw.hostname === 'string' && raw.hostname !== '') reservation.hostname = raw.hostname;
    return reservation;
  });
}

export function span(family: Family, interval: Interval): AddressSpan {
  return { first: formatAddress(family, interval.first), last: formatAddress(family, interval.last) };
}

/** Parts of `whole` not covered by any of `covered`. */
export function uncovered(whole: Interval, covered: Interval[]): Interval[] {
  const sorted = [...covered].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const gaps: Interval[] = [];
  let next = whole.first;
  for (const part of sorted) {
    if (part.last < next) continue;
    if (part.first > whole.last) break;
    if (part.first > next) gaps.push({ first: next, last: part.first - 1n });
    next = part.last + 1n;
  }
  if (next <= whole.last) gaps.push({ first: next, last: whole.last });
  return gaps;
}
