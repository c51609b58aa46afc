/**
 * Record types of the contract and the input shape check (ajv, with schemas derived from the field
 * table in fields.ts). Domain rules live in blocks.ts, ranges.ts and addresses.ts.
 */
import Ajv, { type ErrorObject, type JSONSchemaType } from 'ajv';
import { fieldMessage, invalid, IpamError } from '../errors';
import { DEFAULT_THRESHOLD_DAYS, expiryBounds, expiryStatusWithin, type ExpiryBounds } from './expiry-status';
import { INTERNAL_FIELDS, READ_ONLY_FIELDS, inputSchema } from './fields';
import { bareObject, ownPath, setOwn } from '../own';
import type { Doc } from '../store';

export type CustomFields = Record<string, string | string[]>;

interface Common extends Doc {
  addressSpace: string;
  family: 4 | 6;
  description?: string;
  customFields?: CustomFields;
  createdAt: string;
  updatedAt: string;
}

export interface BlockRecord extends Common {
  network: string;
  startAddress: string;
  endAddress: string;
  prefixLength: number;
  isPrivate: boolean;
  rir?: string;
  /** The most specific block containing this one, or null. */
  parentId: string | null;
}

export interface Exclusion {
  startAddress: string;
  endAddress: string;
}

export interface RangeRecord extends Common {
  network: string;
  startAddress: string;
  endAddress: string;
  prefixLength: number;
  managedByService: string;
  serviceInstance: string;
  assignmentType: string;
  blockId: string | null;
  exclusions?: Exclusion[];
}

export interface AddressRecord extends Common {
  address: string;
  managedByService: string;
  serviceInstance: string;
  deviceType: string;
  ipAddressState: string;
  assignmentType: string;
  macAddress?: string;
  deviceName?: string;
  expiryDate?: string;
  /** ISO instant: held (state Reserved) until confirmed, free after it (lib/allocation/holds.ts). */
  holdUntil?: string;
  expiryStatus?: string;
  duid?: string;
  iaid?: number;
  dhcpReservation?: Record<string, unknown>;
  dns?: Record<string, unknown>;
  requestId?: string;
  rangeId: string | null;
  blockId: string | null;
}

/** Fields kept only for indexing and allocation; never shown to users. */
export interface Keyed {
  key: string;
  startKey?: string;
  endKey?: string;
}

/** What shapes a read: the expiry threshold (ipam-config) and the moment read (default now). */
export interface ReadView {
  expiryThresholdDays?: number;
  now?: Date;
}

/**
 * The public view of a stored document, the one place reads are shaped: internal fields dropped and
 * `expiryStatus` derived from `expiryDate`, the threshold and the time (never a stored value).
 */
export function toRecord<T extends Doc>(doc: T, view: ReadView): T {
  // Copied field by field rather than deleted from a copy: `delete` turns an object into a slow dictionary.
  const record: Record<string, unknown> = {};
  for (const field of Object.keys(doc)) {
    if (HIDDEN_FIELDS.has(field)) continue;
    setOwn(record, field, doc[field]);
  }
  if (typeof doc.expiryDate === 'string') {
    const status = expiryStatusWithin(doc.expiryDate, boundsOf(view));
    if (status !== undefined) record.expiryStatus = status;
  }
  return record as T;
}

/** Never in a record: internal fields, and `expiryStatus`, which each read derives afresh. */
const HIDDEN_FIELDS: ReadonlySet<string> = new Set([...INTERNAL_FIELDS, 'expiryStatus']);

let latest: { ms: number; thresholdDays: number; bounds: ExpiryBounds } | undefined;

/** The expiry bounds of a read; a list shapes thousands of records per millisecond, so they are reused within one. */
function boundsOf(view: ReadView): ExpiryBounds {
  const thresholdDays = view.expiryThresholdDays ?? DEFAULT_THRESHOLD_DAYS;
  if (view.now) return expiryBounds(view.now, thresholdDays);
  const ms = Date.now();
  if (latest?.ms !== ms || latest.thresholdDays !== thresholdDays) latest = { ms, thresholdDays, bounds: expiryBounds(new Date(ms), thresholdDays) };
  return latest.bounds;
}

export type Entity = 'blocks' | 'ranges' | 'addresses';

/** One record of an entity, for messages (`address fields`); RECORD_NOUN adds the article (`an address field`). */
export const RECORD_NAME: Record<Entity, string> = { blocks: 'block', ranges: 'range', addresses: 'address' };
export const RECORD_NOUN: Record<Entity, string> = { blocks: 'a block', ranges: 'a range', addresses: 'an address' };

/** Input schemas, derived from the field table (lib/record/fields.ts). */
const SCHEMAS = Object.fromEntries((['blocks', 'ranges', 'addresses'] as const).map((entity) => [entity, inputSchema(entity)])) as Record<Entity, object>;

const ajv = new Ajv({ allErrors: false, coerceTypes: true, strict: true });
const validators = Object.fromEntries(
  Object.entries(SCHEMAS).map(([entity, schema]) => [entity, ajv.compile(schema as JSONSchemaType<unknown>)]),
) as Record<Entity, ReturnType<typeof ajv.compile>>;

/**
 * Checks the JSON shape of user input for an entity and returns a copy without read-only fields.
 * Types are coerced the way CSV needs (`"24"` → 24). Unknown fields are refused by name.
 */
export function checkInput(entity: Entity, input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new IpamError('VALIDATION', fieldMessage('payload', input, `must be an object of ${RECORD_NAME[entity]} fields`), {
      field: 'payload',
      value: input,
    });
  }
  // Without a prototype a `__proto__` key is an own field, so the schema refuses it by name.
  const copy = bareObject();
  for (const [field, value] of Object.entries(input)) {
    if (!READ_ONLY_FIELDS.has(field) && value !== undefined && value !== null && value !== '') copy[field] = value;
  }
  const validate = validators[entity];
  if (!validate(copy)) throw fromAjv(validate.errors?.[0], copy);
  return copy;
}

function fromAjv(error: ErrorObject | undefined, input: Record<string, unknown>): IpamError {
  if (!error) return invalid('payload', input, 'is not valid');
  if (error.keyword === 'additionalProperties') {
    const field = [pathOf(error), (error.params as { additionalProperty: string }).additionalProperty]
      .filter(Boolean)
      .join('.');
    return invalid(field, valueAt(input, field), 'is not a known field');
  }
  const field = pathOf(error) || 'payload';
  return invalid(field, valueAt(input, field), error.message ?? 'is not valid');
}

function pathOf(error: ErrorObject): string {
  return error.instancePath.replace(/^\//, '').replace(/\//g, '.');
}

function valueAt(input: Record<string, unknown>, dotted: string): unknown {
  return ownPath(input, dotted);
}

/** Fields an update names with `null`, `''` or `[]`: the caller wants them cleared. */
export function clearedFields(input: unknown): string[] {
  if (typeof input !== 'object' || input === null) return [];
  return Object.entries(input)
    .filter(([, value]) => value === null || value === '' || (Array.isArray(value) && value.length === 0))
    .map(([field]) => field);
}

/** `$unset` for the optional fields a stored document has and its replacement lacks. */
export function unsetMissing(current: Record<string, unknown>, next: Record<string, unknown>, optional: readonly string[]): Record<string, true> {
  return Object.fromEntries(optional.filter((f) => current[f] !== undefined && next[f] === undefined).map((f) => [f, true as const]));
}

let isoMs = Number.NaN;
let iso = '';

/** The current time as ISO text; formatted once per millisecond (a bulk write asks thousands of times). */
export function nowIso(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString();
    isoMs = ms;
  }
  return iso;
}
