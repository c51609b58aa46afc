/**
 * The field table of each entity: the one place that says what a record's fields are. The input schema
 * (records.ts), the read-only fields an update ignores, the clearable optional fields, the defaults, the
 * filterable fields and their value conversion (filters.ts) and the CSV columns (csv/fields.ts) are all
 * derived from it. Nested fields are dotted (`dhcpReservation.serverName`); their parent object is
 * optional as a whole. Table order is the CSV column order.
 */
import { parseAddress, parseNetwork, checkAddressSpace } from '../address';
import { ADDRESS_STATES, ASSIGNMENT_TYPES, DEVICE_TYPES, EXPIRY_STATUSES, RIRS, SERVICES, canonicalOf, canonicalOrCustom } from './enums';
import { invalid } from '../errors';
import type { Entity } from './records';
import type { Scalar } from '../store';

export type FieldType =
  /** Up to 1024 characters. */
  | 'text'
  /** Up to 4096 characters. */
  | 'longText'
  | 'address'
  | 'network'
  | 'integer'
  | 'boolean'
  /** An ISO date or instant (text). */
  | 'date'
  | 'customFields'
  | 'exclusions';

export interface FieldSpec {
  name: string;
  type: FieldType;
  /** Values accepted case-insensitively and stored in this spelling; `custom`: other values are kept as given. */
  enumeration?: { values: readonly string[]; custom: boolean };
  /** The value a new record takes when the input lacks the field. */
  default?: string;
  /** A record may lack it, so an update clears it when given as null or ''. */
  optional?: boolean;
  /** Derived or set by the store: a caller may send it back unchanged from a `get`; it is never input. */
  readOnly?: boolean;
  /** lib/store/schema.ts has an index on it (test/lib/record/fields.test.ts checks they agree). */
  indexed?: boolean;
  /** `list` and export filters may name it. */
  filter?: boolean;
  /** How a filter value (text from HTTP or CSV) becomes the stored value, where the type's rule is not it. */
  filterValue?: (value: unknown) => Scalar;
  /** The JSON schema of the input, where the type's is not it. */
  schema?: object;
  /** The CSV column: the guide's header (written on export, matched on import) and further spellings. */
  csv?: {
    header: string;
    aliases?: string[];
    /** The guide's mandatory import column. */
    mandatory?: boolean;
    /** Accepted on import but never exported (the export writes the same data another way). */
    importOnly?: boolean;
    /** Exported but derived on read, so an import ignores it. */
    exportOnly?: boolean;
  };
}

const SERVICE_ENUM = { values: SERVICES, custom: true } as const;
const ASSIGNMENT_ENUM = { values: ASSIGNMENT_TYPES, custom: false } as const;

const ID: FieldSpec = { name: 'id', type: 'text', readOnly: true, filter: true };
const FAMILY: FieldSpec = { name: 'family', type: 'integer', readOnly: true, filter: true };
const TIMESTAMPS: FieldSpec[] = [
  { name: 'createdAt', type: 'date', readOnly: true, filter: true },
  { name: 'updatedAt', type: 'date', readOnly: true, filter: true },
];
const TAIL: FieldSpec[] = [
  { name: 'description', type: 'longText', optional: true, filter: true, csv: { header: 'Description' } },
  { name: 'addressSpace', type: 'text', filter: true, filterValue: checkAddressSpace, csv: { header: 'Address space' } },
];
const CUSTOM: FieldSpec = { name: 'customFields', type: 'customFields', optional: true };
const NETWORK: FieldSpec[] = [
  { name: 'network', type: 'network', filter: true, csv: { header: 'Network', aliases: ['Network ID'], mandatory: true } },
  { name: 'startAddress', type: 'address', filter: true, csv: { header: 'Start IP address', mandatory: true } },
  { name: 'endAddress', type: 'address', filter: true, csv: { header: 'End IP address', mandatory: true } },
  { name: 'prefixLength', type: 'integer', filter: true, csv: { header: 'Prefix length', importOnly: true } },
];
const SERVICE: FieldSpec[] = [
  { name: 'managedByService', type: 'text', enumeration: SERVICE_ENUM, default: 'IPAM', filter: true, csv: { header: 'Managed by service', mandatory: true } },
  { name: 'serviceInstance', type: 'text', default: 'Localhost', filter: true, csv: { header: 'Service instance', mandatory: true } },
];
const RANGE_ASSIGNMENT: FieldSpec = {
  name: 'assignmentType', type: 'text', enumeration: ASSIGNMENT_ENUM, default: 'Static', filter: true,
  csv: { header: 'Assignment type', mandatory: true },
};

const text = (name: string, header: string, filter = false): FieldSpec => ({ name, type: 'text', optional: true, filter, csv: { header } });

export const FIELD_TABLE: Record<Entity, readonly FieldSpec[]> = {
  blocks: [
    ID, FAMILY, ...TIMESTAMPS, CUSTOM,
    ...NETWORK,
    { name: 'rir', type: 'text', enumeration: { values: RIRS, custom: false }, optional: true, filter: true, csv: { header: 'RIR' } },
    ...TAIL,
    { name: 'isPrivate', type: 'boolean', readOnly: true, filter: true },
    { name: 'parentId', type: 'text', readOnly: true, indexed: true, filter: true },
  ],
  ranges: [
    ID, FAMILY, ...TIMESTAMPS, CUSTOM,
    ...NETWORK,
    ...SERVICE,
    RANGE_ASSIGNMENT,
    { name: 'exclusions', type: 'exclusions', optional: true, csv: { header: 'Exclusions' } },
    ...TAIL,
    { name: 'blockId', type: 'text', readOnly: true, indexed: true, filter: true },
  ],
  addresses: [
    ID, FAMILY, ...TIMESTAMPS, CUSTOM,
    { name: 'address', type: 'address', filter: true, csv: { header: 'IP address', mandatory: true } },
    ...SERVICE,
    { name: 'deviceType', type: 'text', enumeration: { values: DEVICE_TYPES, custom: true }, default: 'Host', filter: true, csv: { header: 'Device type', mandatory: true } },
    { name: 'ipAddressState', type: 'text', enumeration: { values: ADDRESS_STATES, custom: false }, default: 'In-Use', filter: true, csv: { header: 'IP address state', mandatory: true } },
    { ...RANGE_ASSIGNMENT },
    text('macAddress', 'MAC address', true),
    text('deviceName', 'Device name', true),
    ...TAIL,
    { name: 'expiryDate', type: 'date', optional: true, indexed: true, filter: true, csv: { header: 'Expiry date' } },
    {
      name: 'expiryStatus', type: 'text', readOnly: true, filter: true,
      filterValue: (v) => canonicalOf('filter.expiryStatus', v, EXPIRY_STATUSES),
      csv: { header: 'Expiry status', exportOnly: true },
    },
    text('duid', 'DUID', true),
    {
      name: 'iaid', type: 'integer', optional: true, filter: true, schema: { type: 'integer', minimum: 0, maximum: 4294967295 },
      csv: { header: 'IAID' },
    },
    {
      name: 'requestId', type: 'text', optional: true, filter: true, schema: { type: 'string', minLength: 1, maxLength: 200 },
      csv: { header: 'Request ID' },
    },
    text('dhcpReservation.serverName', 'Reservation server name', true),
    text('dhcpReservation.scopeName', 'Reservation scope name', true),
    text('dhcpReservation.name', 'Reservation name', true),
    text('dhcpReservation.type', 'Reservation type'),
    text('dhcpReservation.description', 'Reservation description'),
    text('dhcpReservation.syncStatus', 'Reservation sync status', true),
    text('dhcpReservation.syncMessage', 'Reservation sync message'),
    text('dns.forwardZone', 'Forward lookup zone', true),
    text('dns.forwardPrimaryServer', 'Forward lookup primary server'),
    text('dns.reverseZone', 'Reverse lookup zone', true),
    text('dns.reversePrimaryServer', 'Reverse lookup primary server'),
    text('dns.hostSyncStatus', 'DNS host record sync status', true),
    text('dns.ptrSyncStatus', 'DNS PTR record sync status', true),
    text('dns.syncMessage', 'DNS sync message'),
    // Set by allocation holds (issue 15: `holdSeconds`/`holdUntil`); an ISO instant, never changed by update.
    { name: 'holdUntil', type: 'date', readOnly: true, indexed: true },
    { name: 'rangeId', type: 'text', readOnly: true, indexed: true, filter: true },
    { name: 'blockId', type: 'text', readOnly: true, indexed: true, filter: true },
  ],
};

/**
 * Fields kept only for indexing, allocation and reporting; never shown to users. `expiryReported` and
 * `expiryRun`: the state ipam-expiry last reported and the run that wrote it (lib/lifecycle/expiry.ts), for its
 * transition log only.
 */
export const INTERNAL_FIELDS = ['key', 'startKey', 'endKey', 'spanKey', 'requestKey', 'freeHint', 'hintVersion', 'assignedCount', 'rangedSize', 'straddling', 'expiryReported', 'expiryRun'];

/** Read-only fields of any entity, plus Node-RED's `_msgid`: a caller may send them back unchanged. */
export const READ_ONLY_FIELDS: ReadonlySet<string> = new Set([
  ...Object.values(FIELD_TABLE).flatMap((specs) => specs.filter((s) => s.readOnly).map((s) => s.name)),
  '_msgid',
]);

export function fieldsOf(entity: Entity): readonly FieldSpec[] {
  return FIELD_TABLE[entity];
}

/** The top-level field names of every entity (a dotted field's parent object counts). */
export function recordFieldNames(): string[] {
  return [...new Set(Object.values(FIELD_TABLE).flatMap((specs) => specs.map((s) => s.name.split('.')[0])))];
}

/** Top-level fields a record may lack, so an update can clear them (a dotted field's parent object counts). */
export function optionalFields(entity: Entity): string[] {
  return [...new Set(FIELD_TABLE[entity].filter((s) => s.optional).map((s) => s.name.split('.')[0]))];
}

/** The defaults of a new record's fields. */
export function defaultsOf(entity: Entity): Readonly<Record<string, string>> {
  return Object.fromEntries(FIELD_TABLE[entity].filter((s) => s.default !== undefined).map((s) => [s.name, s.default!]));
}

const byName = (entity: Entity): ReadonlyMap<string, FieldSpec> => new Map(FIELD_TABLE[entity].map((spec) => [spec.name, spec]));
const BY_NAME: Record<Entity, ReadonlyMap<string, FieldSpec>> = {
  blocks: byName('blocks'),
  ranges: byName('ranges'),
  addresses: byName('addresses'),
};

/** The field's value in its canonical spelling (or the default when absent); errors name the field. */
export function canonicalValue(entity: Entity, field: string, value: unknown): string {
  const spec = BY_NAME[entity].get(field);
  if (!spec) throw new Error(`${field} is not a field of ${entity}`);
  const given = value ?? spec.default;
  if (!spec.enumeration) return canonicalOrCustom(field, given, []);
  return spec.enumeration.custom ? canonicalOrCustom(field, given, spec.enumeration.values) : canonicalOf(field, given, spec.enumeration.values);
}

/* ------------------------------------------------------------- input schema */

const TEXT = { type: 'string', maxLength: 1024 } as const;
const TYPE_SCHEMAS: Record<FieldType, object> = {
  text: TEXT,
  longText: { type: 'string', maxLength: 4096 },
  address: TEXT,
  network: TEXT,
  date: TEXT,
  integer: { type: 'integer' },
  boolean: { type: 'boolean' },
  customFields: {
    type: 'object',
    additionalProperties: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
  },
  exclusions: {
    type: 'array',
    items: {
      type: 'object',
      properties: { startAddress: TEXT, endAddress: TEXT },
      required: ['startAddress', 'endAddress'],
      additionalProperties: false,
    },
  },
};

/** The JSON schema (ajv) of an entity's input: every field that is not read-only; nothing else. */
export function inputSchema(entity: Entity): object {
  const properties: Record<string, object> = {};
  for (const spec of FIELD_TABLE[entity]) {
    if (spec.readOnly) continue;
    const schema = spec.schema ?? TYPE_SCHEMAS[spec.type];
    const [parent, child] = spec.name.split('.');
    if (child === undefined) {
      properties[parent] = schema;
      continue;
    }
    const nested = (properties[parent] ??= { type: 'object', properties: {}, additionalProperties: false }) as { properties: Record<string, object> };
    nested.properties[child] = schema;
  }
  return { type: 'object', properties, additionalProperties: false };
}

/* ------------------------------------------------------------------ filters */

/** How a filter value becomes a stored value; undefined: compared as given. */
export function filterConversion(spec: FieldSpec): ((value: unknown) => Scalar) | undefined {
  if (spec.filterValue) return spec.filterValue;
  const { name } = spec;
  if (spec.enumeration) {
    const { values, custom } = spec.enumeration;
    return custom ? (v) => canonicalOrCustom(name, v, values) : (v) => canonicalOf(name, v, values);
  }
  switch (spec.type) {
    case 'address':
      return (v) => parseAddress(v, `filter.${name}`).text;
    case 'network':
      return (v) => parseNetwork(v, `filter.${name}`).cidr;
    case 'integer':
      return (v) => wholeNumber(name, v);
    case 'boolean':
      return (v) => trueOrFalse(name, v);
    default:
      return undefined;
  }
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
