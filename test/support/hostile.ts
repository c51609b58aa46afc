/**
 * fast-check arbitraries for hostile input: wrong types, huge strings, deep nesting, prototype keys,
 * operator-shaped objects and odd address notations, mixed with the field names the nodes read so that
 * generated payloads reach past the first shape check.
 */
import fc from 'fast-check';
import { INTERNAL_FIELDS } from '../../lib/record';

export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
export const OPERATORS = ['$ne', '$gt', '$gte', '$lt', '$where', '$regex', '$in', '$exists', '$or', '$expr'];

/** Record, selector and option names of every node (lib/record/records.ts, allocate, inventory, csv, sync). */
export const FIELD_NAMES = [
  'id', 'network', 'startAddress', 'endAddress', 'prefixLength', 'address', 'addressSpace', 'description', 'rir',
  'managedByService', 'serviceInstance', 'assignmentType', 'deviceType', 'ipAddressState', 'macAddress', 'deviceName',
  'expiryDate', 'expiryStatus', 'duid', 'iaid', 'requestId', 'customFields', 'exclusions', 'dns', 'dhcpReservation',
  'range', 'rangeId', 'block', 'blockId', 'count', 'holdSeconds', 'addresses', 'ids', 'filter', 'groupBy', 'limit',
  'cursor', 'group', 'name', 'criteria', 'blockKind', 'family', 'parentId', 'dns.forwardZone', 'customFields.Owner',
  // Holds and history (lib/allocation/holds.ts, lib/record/history.ts).
  'holdUntil', 'from', 'to', 'after', 'entity',
  // What the store keeps beside a record (keys, hints, counters, range covers): a caller must not set them.
  ...INTERNAL_FIELDS,
];

export const ODD_ADDRESSES = [
  '010.0.1.5', '0x0a.0.1.5', '10.1', '10.0.1.5 ', ' 10.0.1.5', '10.0.1.256', '10.0.1.5/33', '10.0.1.0/24', '10.0.1.5/32',
  '::ffff:10.0.1.5', 'fe80::1%eth0', '2001:db8::/129', '2001:0db8:0000::1', '2001:db8::1/64', '::', '0.0.0.0', '0.0.0.0/0',
  '255.255.255.255', '１０.0.1.5', '10.0.1.5\u0000', '10.0.1.5\n', '10.0.1.5-10.0.1.9', '4294967295', '1e3', '-1',
  '10.0.1.5,10.0.1.6', '[2001:db8::1]', '2001:db8:::1', 'localhost', 'aa:bb:cc:dd:ee:ff',
];

const hugeString = fc.integer({ min: 1024, max: 200_000 }).map((n) => 'x'.repeat(n));
const prototypeKey = fc.constantFrom(...PROTOTYPE_KEYS);
const fieldName = fc.constantFrom(...FIELD_NAMES);

/** Scalars and near-scalars of every JSON and non-JSON type. */
export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...ODD_ADDRESSES),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 2, 2 ** 128),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(''),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  hugeString,
  prototypeKey,
  fc.constantFrom('true', 'false', '24', 'IPAM', 'Default', 'Host', 'In-Use', 'Static', '2026-12-31', 'not a date'),
);

/** `{$ne: …}`, `{$where: …}` and friends, possibly nested one level under a field. */
export const operatorObject: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.tuple(fc.constantFrom(...OPERATORS), hostileScalar).map(([op, value]) => ({ [op]: value })),
  fc.constantFrom<Record<string, unknown>>(
    { $ne: null }, { $gt: '' }, { $gte: 0 }, { $where: 'true' }, { $where: 'function () { return true; }' },
    { $regex: '.*' }, { $regex: '^' }, { $in: ['h1', 'h2'] }, { $exists: true }, { $or: [{}] }, { $expr: { $eq: [1, 1] } },
    { $ne: 'nothing', $exists: true },
  ),
);

/** An own `__proto__` key, as JSON.parse makes from a request body. */
function withOwnProto(value: Record<string, unknown>, proto: unknown): Record<string, unknown> {
  const copy = { ...value };
  Object.defineProperty(copy, '__proto__', { value: proto, enumerable: true, configurable: true, writable: true });
  return copy;
}

/** Any hostile value: scalars, operator objects, arrays, objects keyed by real and prototype names, deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileScalar,
    operatorObject,
    tie('object'),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.integer({ min: 20, max: 400 }).map(deeplyNested),
  ),
  object: fc.oneof(
    fc.dictionary(fc.oneof(fieldName, prototypeKey, fc.string({ maxLength: 8 }), fc.constantFrom(...OPERATORS)), tie('value'), { maxKeys: 5 }),
    fc.tuple(fc.dictionary(fieldName, tie('value'), { maxKeys: 3 }), tie('value')).map(([o, proto]) => withOwnProto(o, proto)),
  ),
})).value;

function deeplyNested(depth: number): unknown {
  let value: unknown = { deviceName: 'h1' };
  for (let i = 0; i < depth; i++) value = i % 2 ? { filter: value } : [value];
  return value;
}

/** A payload close to a real one (the seeded block, range and addresses), with some fields replaced by hostile values. */
export const nearValidPayload: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.constantFrom<Record<string, unknown>>(
      { network: '10.0.0.0/16' }, { network: '10.0.1.0/24' }, { network: '10.0.9.0/24', addressSpace: 'Default' },
      { address: '10.0.1.5' }, { address: '10.0.1.77', deviceName: 'fz' }, { range: '10.0.1.0/24', count: 2 },
      { range: '10.0.1.0/24' }, { addresses: ['10.0.1.5'] }, { filter: { deviceName: 'h1' }, groupBy: 'deviceType', limit: 2 },
      { deviceName: 'h1' }, { block: '10.0.0.0/16', prefixLength: 28 }, { id: 'nope' }, {},
    ),
    fc.dictionary(fieldName, hostileValue, { maxKeys: 3 }),
  )
  .map(([base, changes]) => ({ ...base, ...changes }));

export const hostilePayload: fc.Arbitrary<unknown> = fc.oneof(nearValidPayload, hostileValue);

/** CSV text with real and odd headers and hostile cells, or a non-text payload. */
export const hostileCsv: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .tuple(
      fc.array(fc.oneof(fc.constantFrom('IP address', 'Network', 'Start IP address', 'End IP address', 'Device name',
        'Managed by service', 'Service instance', 'Assignment type', 'Device type', 'IP address state', 'Owner',
        'Forward lookup zone', 'Expiry date', 'Exclusions', 'RIR', 'constructor', '__proto__', 'toString', '"', ''), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 6 }),
      fc.array(fc.array(fc.oneof(fc.constantFrom(...ODD_ADDRESSES), fc.string({ maxLength: 12 }), fc.constantFrom('IPAM', 'Localhost', 'Host', 'In-Use', 'Static', '"', '“x”', '\n', ',,')), { maxLength: 6 }), { maxLength: 5 }),
    )
    .map(([header, rows]) => [header, ...rows].map((cells) => cells.join(',')).join('\n')),
  hostileValue,
);
