/**
 * Inventory views of addresses: filter on any record field or custom field, group by device type, a
 * custom field or the kind of block (public/private), sorted numerically by address and paged with an
 * opaque cursor, so a large inventory is never loaded whole.
 *
 * Order: by store key `<addressSpace>|<family>|<hex>`, i.e. address spaces by name (code-point order),
 * within a space all IPv4 addresses then all IPv6 addresses, each numerically.
 */
import { findDefinition, listCustomFields, fold, addressFilters, countAny, findAny, isFilterField, toStoreFilter, toRecord, type CustomFieldDefinition, type AddressRecord, type Context } from '../record';
import { invalid } from '../errors';
import { checkAddressSpace } from '../address';
import { bareObject, ownPath } from '../own';
import type { Condition, Doc, Filter } from '../store';

export const DEFAULT_PAGE_SIZE = 1000;
export const MAX_PAGE_SIZE = 10_000;
/** Grouping by the kind of block an address falls in. */
export const BLOCK_KIND = 'blockKind';
export const BLOCK_KINDS = ['Public', 'Private', 'Unmapped'] as const;

const QUERY_KEYS = ['filter', 'groupBy', 'limit', 'cursor'];

export interface InventoryQuery {
  filter?: Record<string, unknown>;
  /** `deviceType` (or any address field), a custom field name, or `blockKind`. */
  groupBy?: string;
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export type GroupValue = string | number | boolean | null;

export interface InventoryGroup {
  value: GroupValue;
  /** Addresses of this group in the whole filtered inventory (all pages); null when not countable. */
  total: number | null;
  items: AddressRecord[];
}

export interface InventoryPage {
  items?: AddressRecord[];
  groupBy?: string;
  groups?: InventoryGroup[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

type AddressDoc = AddressRecord & { key: string };

/** Whether a `list` payload is the structured query form rather than a plain filter object. */
export function isInventoryQuery(payload: unknown): payload is InventoryQuery {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) &&
    QUERY_KEYS.some((key) => Object.hasOwn(payload, key));
}

/**
 * `ipam-allocate` `list`. A plain filter object (the simple form) gives an array of every matching
 * address; `{filter, groupBy, limit, cursor}` gives one page: `{items, nextCursor}`, or with `groupBy`
 * `{groupBy, groups: [{value, total, items}], nextCursor}`.
 */
export async function listInventory(ctx: Context, payload: unknown): Promise<AddressRecord[] | InventoryPage> {
  const definitions = await listCustomFields(ctx);
  if (!isInventoryQuery(payload)) {
    const filter = await inventoryFilter(ctx, payload, definitions);
    const docs = await findAny(ctx.store.collection<AddressDoc>('addresses'), addressFilters(ctx, filter), { sort: { key: 1 } });
    return docs.map((doc) => toRecord(doc, ctx));
  }
  const { filter: input, groupBy, limit, cursor, ...rest } = payload as InventoryQuery & Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    throw invalid(unknown, rest[unknown], 'is not a list option (filter, groupBy, limit, cursor); put field values in filter');
  }
  const filter = await inventoryFilter(ctx, input, definitions);
  const size = checkLimit(limit);
  const after = decodeCursor(cursor);
  const docs = await findAny(
    ctx.store.collection<AddressDoc>('addresses'),
    addressFilters(ctx, after === undefined ? filter : { ...filter, key: { $gt: after } }),
    { sort: { key: 1 }, limit: size + 1 },
  );
  const page = docs.slice(0, size);
  const nextCursor = docs.length > size ? encodeCursor(page[page.length - 1].key) : null;
  if (groupBy === undefined || groupBy === null || groupBy === '') {
    return { items: page.map((doc) => toRecord(doc, ctx)), nextCursor };
  }
  const grouping = resolveGrouping(groupBy, definitions);
  return { groupBy: grouping.label, groups: await groupPage(ctx, page, filter, grouping), nextCursor };
}

/**
 * A user filter as a store filter: record fields (via lib/record/filters.ts: plain values only), custom fields
 * as `customFields.<name>` or their bare name (names and multi-value values matched case-insensitively),
 * and `blockKind` (`Public`, `Private`, `Unmapped`).
 */
export async function inventoryFilter(
  ctx: Context,
  input: unknown,
  definitions?: CustomFieldDefinition[],
): Promise<Filter> {
  if (input === undefined || input === null || input === '') return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid('filter', input, 'must be an object of field values');
  const defs = definitions ?? (await listCustomFields(ctx));
  // A `__proto__` key must stay a field (and be refused), not become the object's prototype.
  const plain = bareObject();
  let blockKind: unknown;
  for (const [field, value] of Object.entries(input as Record<string, unknown>)) {
    if (field === BLOCK_KIND) {
      blockKind = value;
      continue;
    }
    const custom = customFieldOf(field, defs);
    if (custom) {
      plain[`customFields.${custom.name}`] = customValue(custom, value);
    } else {
      plain[field] = value;
    }
  }
  const filter = toStoreFilter('addresses', plain);
  if (blockKind !== undefined) {
    if (filter.blockId !== undefined) throw invalid('filter.blockKind', blockKind, 'cannot be combined with blockId');
    filter.blockId = await blockKindCondition(ctx, canonicalKind(blockKind), filter.addressSpace);
  }
  return filter;
}

/** A filter key naming a custom field: `customFields.<name>`, or a bare defined name that is not a record field. */
function customFieldOf(field: string, definitions: CustomFieldDefinition[]): CustomFieldDefinition | undefined {
  const prefixed = /^customFields\.(.+)$/.exec(field);
  if (prefixed) {
    const definition = findDefinition(definitions, prefixed[1]);
    if (!definition) throw invalid(`filter.${field}`, prefixed[1], 'is not a defined custom field');
    return definition;
  }
  if (isFilterField('addresses', field)) return undefined;
  return findDefinition(definitions, field);
}

function customValue(definition: CustomFieldDefinition, value: unknown): unknown {
  if (!definition.multiValue || typeof value !== 'string') return value;
  return definition.allowedValues?.find((a) => a.toLowerCase() === value.trim().toLowerCase()) ?? value;
}

function canonicalKind(value: unknown): (typeof BLOCK_KINDS)[number] {
  const kind = typeof value === 'string' ? BLOCK_KINDS.find((k) => fold(k) === fold(value)) : undefined;
  if (!kind) throw invalid('filter.blockKind', value, `must be one of ${BLOCK_KINDS.join(', ')}`);
  return kind;
}

/** Addresses in public/private blocks: `blockId` among those blocks' ids (blocks are few; addresses are not read). */
async function blockKindCondition(ctx: Context, kind: (typeof BLOCK_KINDS)[number], space: Condition | undefined): Promise<Condition> {
  if (kind === 'Unmapped') return null;
  const blocks = await ctx.store
    .collection('blocks')
    .find({ isPrivate: kind === 'Private', ...(typeof space === 'string' ? { addressSpace: space } : {}) });
  return { $in: blocks.map((b) => b.id) };
}

function checkLimit(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_PAGE_SIZE;
  const limit = typeof value === 'string' ? Number(value) : value;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw invalid('limit', value, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return limit;
}

/** The cursor is the last key of a page, base64url-encoded so that flows treat it as opaque. */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): string | undefined {
  if (cursor === undefined || cursor === null || cursor === '') return undefined;
  const key = typeof cursor === 'string' && /^[A-Za-z0-9_-]+$/.test(cursor)
    ? Buffer.from(cursor, 'base64url').toString('utf8')
    : '';
  const [space, family, hex, ...rest] = key.split('|');
  const valid = rest.length === 0 && hex !== undefined &&
    ((family === '4' && /^[0-9a-f]{8}$/.test(hex)) || (family === '6' && /^[0-9a-f]{32}$/.test(hex)));
  if (!valid || checkAddressSpaceSafe(space) !== space) {
    throw invalid('cursor', cursor, 'is not a cursor returned by list (pass nextCursor unchanged)');
  }
  return key;
}

function checkAddressSpaceSafe(space: string): string | undefined {
  try {
    return checkAddressSpace(space);
  } catch {
    return undefined;
  }
}

interface Grouping {
  label: string;
  /** Store field grouped on (`blockId` for block kind; `expiryStatus` is derived, counted by expiryDate). */
  field: string;
  kind: 'field' | 'custom' | 'block' | 'expiry';
}

function resolveGrouping(groupBy: unknown, definitions: CustomFieldDefinition[]): Grouping {
  if (typeof groupBy !== 'string' || groupBy.trim() === '') throw invalid('groupBy', groupBy, 'must be a field name');
  const name = groupBy.trim();
  if (fold(name) === fold(BLOCK_KIND)) return { label: BLOCK_KIND, field: 'blockId', kind: 'block' };
  if (name === 'expiryStatus') return { label: name, field: name, kind: 'expiry' };
  if (!name.startsWith('customFields.') && isFilterField('addresses', name)) return { label: name, field: name, kind: 'field' };
  const definition = findDefinition(definitions, name.replace(/^customFields\./, ''));
  if (!definition) {
    throw invalid('groupBy', groupBy, 'must be deviceType (or another address field), a defined custom field, or blockKind');
  }
  return { label: definition.name, field: `customFields.${definition.name}`, kind: 'custom' };
}

/** Splits a page into its groups (an address with several values of a multi-value field is in each). */
async function groupPage(ctx: Context, page: AddressDoc[], filter: Filter, grouping: Grouping): Promise<InventoryGroup[]> {
  const kinds = grouping.kind === 'block' ? await blockKinds(ctx, page) : undefined;
  const groups = new Map<string, InventoryGroup>();
  for (const doc of page) {
    const record = toRecord(doc, ctx);
    for (const value of groupValues(record, grouping, kinds)) {
      const key = JSON.stringify(value);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { value, total: null, items: [] }));
      group.items.push(record);
    }
  }
  const sorted = [...groups.values()].sort(byGroupValue);
  for (const group of sorted) group.total = await groupTotal(ctx, filter, grouping, group.value);
  return sorted;
}

function groupValues(doc: AddressRecord, grouping: Grouping, kinds?: Map<string, string>): GroupValue[] {
  if (grouping.kind === 'block') return [doc.blockId === null ? 'Unmapped' : kinds?.get(doc.blockId) ?? 'Unmapped'];
  const value = ownPath(doc, grouping.field);
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return [null];
  return Array.isArray(value) ? (value as GroupValue[]) : [value as GroupValue];
}

async function blockKinds(ctx: Context, page: AddressDoc[]): Promise<Map<string, string>> {
  const ids = [...new Set(page.map((doc) => doc.blockId).filter((id): id is string => id !== null))];
  const blocks = ids.length === 0
    ? []
    : await ctx.store.collection<Doc & { isPrivate: boolean }>('blocks').find({ id: { $in: ids } });
  return new Map(blocks.map((b) => [b.id, b.isPrivate ? 'Private' : 'Public']));
}

/**
 * Addresses of a group value in the whole filtered inventory: one count. When the filter already fixes
 * the grouped field, only its own value is countable (a multi-value field's other values would need `$all`).
 */
async function groupTotal(ctx: Context, filter: Filter, grouping: Grouping, value: GroupValue): Promise<number | null> {
  const addresses = ctx.store.collection('addresses');
  if (filter[grouping.field] !== undefined) {
    if (grouping.kind === 'block') return null;
    return filter[grouping.field] === value ? countAny(addresses, addressFilters(ctx, filter)) : null;
  }
  if (grouping.kind === 'expiry') {
    // No status means no expiryDate (every stored expiryDate is a valid date).
    if (value === null) return countAny(addresses, addressFilters(ctx, { ...filter, expiryDate: { $exists: false } }));
    return countAny(addresses, addressFilters(ctx, { ...filter, expiryStatus: value }));
  }
  const count = (where: Filter): Promise<number> => countAny(addresses, addressFilters(ctx, where));
  let condition: Condition;
  if (grouping.kind === 'block') {
    condition = await blockKindCondition(ctx, value as (typeof BLOCK_KINDS)[number], filter.addressSpace);
  } else {
    // "No value" is a field stored as null (rangeId, blockId) or absent (optional fields). `{field: null}`
    // matches both on MongoDB but only null elsewhere, so the two are counted apart, each exactly once.
    condition = value === null ? { $in: [null], $exists: true } : (value as string | number | boolean);
  }
  const total = await count({ ...filter, [grouping.field]: condition });
  // "No value" is a field stored as null (rangeId, blockId) or absent (optional fields): count both.
  return value === null ? total + (await count({ ...filter, [grouping.field]: { $exists: false } })) : total;
}

function byGroupValue(a: InventoryGroup, b: InventoryGroup): number {
  if (a.value === b.value) return 0;
  if (a.value === null) return 1;
  if (b.value === null) return -1;
  return String(a.value) < String(b.value) ? -1 : 1;
}
