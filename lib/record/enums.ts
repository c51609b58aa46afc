/**
 * Enumerated values of the contract: accepted in any case, with or without spaces and dashes,
 * written back in the canonical spelling.
 */
import { invalid } from '../errors';

export const RIRS = ['AFRINIC', 'APNIC', 'ARIN', 'LACNIC', 'RIPE'] as const;
export const SERVICES = ['IPAM', 'MS DHCP', 'Non-MS DHCP', 'VMM', 'Other'] as const;
export const ASSIGNMENT_TYPES = ['Static', 'Dynamic', 'Auto', 'Reserved', 'VPN'] as const;
export const DEVICE_TYPES = [
  'Host', 'VM', 'Router', 'Switch', 'Firewall', 'Load Balancer', 'Printer', 'IP Phone', 'Wireless AP', 'VPN',
] as const;
export const ADDRESS_STATES = ['In-Use', 'Inactive', 'Reserved'] as const;
export const EXPIRY_STATUSES = ['Not expired', 'Expiry Due', 'Expired'] as const;

/** Service values that only discovery writes on ranges (the guide's MS DHCP rule, and our Kea discovery). */
export const KEA_SERVICE = 'Kea DHCP';
export const RESERVED_RANGE_SERVICES: readonly string[] = ['MS DHCP', KEA_SERVICE];

/** The comparison form: lower case without spaces, dashes, underscores or quotes. */
export function fold(text: string): string {
  return text.toLowerCase().replace(/[\s\-_'"\u2018\u2019\u201c\u201d]/g, '');
}

/** Canonical spelling of a closed enumeration, or a VALIDATION error listing the choices. */
export function canonicalOf(field: string, value: unknown, allowed: readonly string[]): string {
  const match = typeof value === 'string' ? allowed.find((a) => fold(a) === fold(value)) : undefined;
  if (match === undefined) throw invalid(field, value, `must be one of ${allowed.join(', ')}`);
  return match;
}

/** Open enumerations (service, device type) take custom values; known ones are canonicalised. */
export function canonicalOrCustom(field: string, value: unknown, known: readonly string[]): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, value, 'must be a non-empty text');
  return known.find((k) => fold(k) === fold(value)) ?? value.trim();
}

export function isReservedRangeService(service: string): boolean {
  return RESERVED_RANGE_SERVICES.some((reserved) => fold(reserved) === fold(service));
}
