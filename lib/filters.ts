/**
 * User filters (`list`, export): record fields with plain values only. Nothing a user sends becomes a
 * query operator; each value is a scalar, compared for equality, with enumerations canonicalised.
 */
import { parseAddress, parseNetwork } from './address';
import { ADDRESS_STATES, ASSIGNMENT_TYPES, DEVICE_TYPES, EXPIRY_STATUSES, RIRS, SERVICES, canonicalOf, canonicalOrCustom } from './enums';
import { invalid } from './errors';
import { checkAddressSpace } from './keys';
import { ownValue } from './own';
import { RECORD_NOUN, type Entity } from './records';
import type { Collection, Doc, Filter, FindOptions, Scalar } from './store/port';

const COMMON = ['id', 'addressSpace', 'family', 'description', 'createdAt', 'updatedAt'];
const FIELDS: Record<Entity, string[]> = {
  blocks: [...COMMON, 'network', 'startAddress', 'endAddress', 'prefixLength', 'isPrivate', 'rir', 'parentId'],
  ranges: [
    ...COMMON, 'network', 'startAddress', 'endAddress', 'prefixLength', 'managedByService', 'serviceInstance',
    'assignmentType', 'blockId',
  ],
  addresses: [
    ...COMMON, 'address', 'managedByService', 'serviceInstance', 'deviceType', 'ipAddressState', 'assignmentType',
    'macAddress', 'deviceName', 'expiryDate', 'expiryStatus', 'duid', 'iaid', 'requestId', 'rangeId', 'blockId',
    'dhcpReservation.serverName', 'dhcpReservation.scopeName', 'dhcpReservation.name', 'dhcpReservation.syncStatus',
    'dns.forwardZone', 'dns.reverseZone', 'dns.hostSyncStatus', 'dns.ptrSyncStatus',
  ],
};

/** Values arrive as text from HTTP query strings and CSV: each typed field is converted, or refused by name. */
const CANONICAL: Record<string, (value: unknown) => Scalar> = {
  rir: (v) => canonicalOf('rir', v, RIRS),
  managedByService: (v) => canonicalOrCustom('managedByService', v, SERVICES),
  assignmentType: (v) => canonicalOf('assignmentType', v, ASSIGNMENT_TYPES),
  deviceType: (v) => canonicalOrCustom('deviceType', v, DEVICE_TYPES),
  ipAddressState: (v) => canonicalOf('ipAddressState', v, ADDRESS_STATES),
  expiryStatus: (v) => canonicalOf('filter.expiryStatus', v, EXPIRY_STATUSES),
  addressSpace: (v) => checkAddressSpace(v),
  address: (v) => parseAddress(v, 'filter.address').text,
  startAddress: (v) => parseAddress(v, 'filter.startAddress').text,
  endAddress: (v) => parseAddress(v, 'filter.endAddress').text,
  network: (v) => parseNetwork(v, 'filter.network').cidr,
  prefixLength: (v) => wholeNumber('prefixLength', v),
  iaid: (v) => wholeNumber('iaid', v),
  family: (v) => wholeNumber('family', v),
  isPrivate: (v) => trueOrFalse('isPrivate', v),
};

export function isFilterField(entity: Entity, field: string): boolean {
  return FIELDS[entity].includes(field) || /^customFields\.[^.$]+$/.test(field);
}

export function toStoreFilter(entity: Entity, input: unknown): Filter {
  if (input === undefined || input === null || input === '') return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid('filter', input, 'must be an object of field values');
  const filter: Filter = {};
  for (const [field, value] of Object.entries(input as Record<string, unknown>)) {
    if (!isFilterField(entity, field)) throw invalid(`filter.${field}`, value, `is not ${RECORD_NOUN[entity]} field`);
    if (value !== null && typeof value === 'object') {
      throw invalid(`filter.${field}`, value, 'must be a plain value (query operators are not accepted)');
    }
    const canonical = ownValue(CANONICAL, field);
    filter[field] = (canonical ? canonical(value) : value) as Scalar;
  }
  return filter;
}

function wholeNumber(field: string, value: unknown): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) throw invalid(`filter.${field}`, value, 'must be a whole number');
  return number;
}

function trueOrFalse(field: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw invalid(`filter.${field}`, value, 'must be true or false');
}

/**
 * Documents matching any of several filters (alternatives that never overlap, such as the two
 * `expiryDate` conditions of one expiry state), sorted and limited as one find would be.
 */
export async function findAny<T extends Doc>(collection: Collection<T>, filters: Filter[], options: FindOptions = {}): Promise<T[]> {
  if (filters.length === 1) return collection.find(filters[0], options);
  const found = (await Promise.all(filters.map((filter) => collection.find(filter, options)))).flat();
  const sort = Object.entries(options.sort ?? {});
  found.sort((a, b) => {
    for (const [field, direction] of sort) {
      const [x, y] = [a[field] as Scalar, b[field] as Scalar];
      if (x !== y) return (x === null || (y !== null && x < y) ? -1 : 1) * direction;
    }
    return 0;
  });
  return options.limit === undefined ? found : found.slice(0, options.limit);
}

export async function countAny(collection: Collection, filters: Filter[]): Promise<number> {
  let total = 0;
  for (const filter of filters) total += await collection.count(filter);
  return total;
}
