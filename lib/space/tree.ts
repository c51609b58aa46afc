/**
 * The address space as a tree for the editor's sidebar: address spaces (one node per space and family) >
 * blocks (nested as stored) > ranges, each with its utilization. Children come a page at a time, in key order
 * (blocks first, then ranges), with an opaque cursor, so a space with thousands of ranges is never read whole
 * for one page. Search finds blocks and ranges by CIDR or address (those containing it) or by text in their
 * network or description.
 */
import { parseAddress, parseNetwork, unionSize, checkAddressSpace, intervalKeys, type Family } from '../address';
import { invalid } from '../errors';
import { getRange } from './ranges';
import type { RangeRecord, Context } from '../record';
import { intervalOfKeys, overlapping, startFloor } from './bounds';
import type { Doc, Filter } from '../store';
import { blockUtilization, rangeUtilization, summarise, type Utilization } from './utilization';

export const DEFAULT_TREE_PAGE = 50;
export const MAX_TREE_PAGE = 200;
/** Documents read per step of a text search: bounded work per page, whatever the inventory's size. */
const SEARCH_CHUNK = 500;

export type TreeParent =
  | { kind: 'root' }
  | { kind: 'space'; addressSpace: string; family: Family }
  | { kind: 'block'; id: string };

export interface TreeQuery {
  parent?: TreeParent;
  /** CIDR, address, or text found in a network or description; replaces `parent`. */
  search?: string;
  limit?: number;
  cursor?: string | null;
}

export interface TreeItem {
  kind: 'space' | 'block' | 'range';
  /** Block or range id; for a space, `<addressSpace>|<family>`. */
  id: string;
  label: string;
  addressSpace: string;
  family: Family;
  description?: string;
  hasChildren: boolean;
  /** For a space: addresses in its ranges against the ranges' size. */
  utilization: Utilization;
}

export interface TreePage {
  items: TreeItem[];
  nextCursor: string | null;
  /** An address or CIDR search found more than `limit`: narrow it. */
  truncated?: true;
}

type Located = Doc & { key: string; addressSpace: string; family: Family; network: string; description?: string; startKey: string; endKey: string };
type Kind = 'blocks' | 'ranges';
interface Position {
  collection: Kind;
  after: string | null;
}

const LISTED_FIELDS = ['key', 'addressSpace', 'family', 'network', 'description', 'startKey', 'endKey'];

/** One page of the tree below `parent` (the address spaces when absent), or of search results. */
export async function listTree(ctx: Context, query: TreeQuery = {}): Promise<TreePage> {
  const limit = checkLimit(query.limit);
  if (query.search !== undefined && query.search !== '') return search(ctx, checkSearch(query.search), limit, query.cursor);
  const parent = query.parent ?? { kind: 'root' };
  if (parent.kind === 'root') return { items: await spaces(ctx), nextCursor: null };
  const filters = childFilters(parent);
  const page = await pageOf(ctx, filters, limit, decodeCursor(query.cursor));
  return { items: await Promise.all(page.docs.map(({ collection, doc }) => toItem(ctx, collection, doc))), nextCursor: page.nextCursor };
}

/** A range as the sidebar's detail view shows it: the record and its top-level numbers. */
export async function rangeDetails(ctx: Context, id: unknown): Promise<{ range: RangeRecord; utilization: Utilization }> {
  if (typeof id !== 'string' || id === '') throw invalid('id', id, 'must be a range id');
  const [range, utilization] = await Promise.all([getRange(ctx, { id }), rangeUtilization(ctx, { id })]);
  return { range, utilization };
}

/** Every (address space, family) that holds a block or a range: one indexed step per pair, never a scan. */
async function spaces(ctx: Context): Promise<TreeItem[]> {
  const pairs = new Map<string, { addressSpace: string; family: Family }>();
  for (const collection of ['blocks', 'ranges'] as const) {
    let from = '';
    for (;;) {
      const next = await ctx.store
        .collection<Located>(collection)
        .findOne({ key: { $gte: from } }, { sort: { key: 1 }, fields: ['key', 'addressSpace', 'family'] });
      if (!next) break;
      pairs.set(`${next.addressSpace}|${next.family}`, { addressSpace: next.addressSpace, family: next.family });
      from = `${next.addressSpace}|${next.family}}`; // '}' sorts right after the '|' separator
    }
  }
  const sorted = [...pairs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(sorted.map(([id, pair]) => spaceItem(ctx, id, pair.addressSpace, pair.family)));
}

async function spaceItem(ctx: Context, id: string, addressSpace: string, family: Family): Promise<TreeItem> {
  const key = familyKeys(addressSpace, family);
  const ranges = await ctx.store
    .collection<Located>('ranges')
    .find({ startKey: key }, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] });
  // Addresses in ranges = all of the family's minus the unmapped ones: two indexed counts, no scan.
  const [all, unmapped] = await Promise.all([
    ctx.store.collection('addresses').count({ key }),
    ctx.store.collection('addresses').count({ rangeId: null, key }),
  ]);
  const assigned = all - unmapped;
  const size = unionSize(ranges.map(intervalOfKeys));
  return { kind: 'space', id, label: `${addressSpace} · IPv${family}`, addressSpace, family, hasChildren: true, utilization: summarise(size, size, assigned) };
}

function familyKeys(addressSpace: string, family: Family): { $gte: string; $lt: string } {
  return { $gte: `${addressSpace}|${family}|`, $lt: `${addressSpace}|${family}}` };
}

function childFilters(parent: Exclude<TreeParent, { kind: 'root' }>): Record<Kind, Filter> {
  if (parent.kind === 'block') return { blocks: { parentId: parent.id }, ranges: { blockId: parent.id } };
  const key = familyKeys(parent.addressSpace, parent.family);
  return { blocks: { key, parentId: null }, ranges: { key, blockId: null } };
}

/** Blocks, then ranges, in key order, `limit` at a time from `position`. */
async function pageOf(ctx: Context, filters: Record<Kind, Filter>, limit: number, position: Position) {
  const docs: { collection: Kind; doc: Located }[] = [];
  const order: Kind[] = position.collection === 'blocks' ? ['blocks', 'ranges'] : ['ranges'];
  for (const collection of order) {
    const after = collection === position.collection ? position.after : null;
    const filter = after === null ? filters[collection] : { ...filters[collection], key: { ...keyBounds(filters[collection]), $gt: after } };
    const found = await ctx.store
      .collection<Located>(collection)
      .find(filter, { sort: { key: 1 }, limit: limit - docs.length + 1, fields: LISTED_FIELDS });
    for (const doc of found) docs.push({ collection, doc });
    if (docs.length > limit) break;
  }
  if (docs.length <= limit) return { docs, nextCursor: null };
  docs.length = limit;
  const last = docs[limit - 1];
  return { docs, nextCursor: encodeCursor({ collection: last.collection, after: last.doc.key }) };
}

function keyBounds(filter: Filter): Record<string, string> {
  const key = filter.key;
  return key && typeof key === 'object' ? (key as Record<string, string>) : {};
}

async function toItem(ctx: Context, collection: Kind, doc: Located): Promise<TreeItem> {
  const base = { id: doc.id, label: doc.network, addressSpace: doc.addressSpace, family: doc.family, description: doc.description };
  if (collection === 'ranges') {
    return { ...base, kind: 'range', hasChildren: false, utilization: await rangeUtilization(ctx, { id: doc.id }) };
  }
  const [utilization, child] = await Promise.all([
    blockUtilization(ctx, { id: doc.id }),
    ctx.store.collection('blocks').findOne({ parentId: doc.id }, { fields: ['id'] }),
  ]);
  const hasChildren = child !== null || (await ctx.store.collection('ranges').findOne({ blockId: doc.id }, { fields: ['id'] })) !== null;
  return { ...base, kind: 'block', hasChildren, utilization };
}

/**
 * An address finds the blocks and ranges that contain it, a CIDR those that overlap it (containing blocks and
 * what lies inside), in every address space, the first `limit` of them; other text is matched in network and
 * description, paged.
 */
async function search(ctx: Context, text: string, limit: number, cursor: string | null | undefined): Promise<TreePage> {
  const interval = asInterval(text);
  if (!interval) return searchText(ctx, text.toLowerCase(), limit, decodeCursor(cursor));
  const found: { collection: Kind; doc: Located }[] = [];
  for (const space of await spaces(ctx)) {
    if (space.family !== interval.family) continue;
    const bounds = { addressSpace: space.addressSpace, family: interval.family, ...interval.keys(space.addressSpace) };
    for (const collection of ['blocks', 'ranges'] as const) {
      const floor = await startFloor(ctx, collection, bounds);
      const docs = await ctx.store
        .collection<Located>(collection)
        .find(overlapping(bounds, floor), { sort: { startKey: 1 }, limit: limit + 1, fields: LISTED_FIELDS });
      for (const doc of docs) found.push({ collection, doc });
    }
  }
  const page = found.slice(0, limit);
  const items = await Promise.all(page.map(({ collection, doc }) => toItem(ctx, collection, doc)));
  return found.length > limit ? { items, nextCursor: null, truncated: true } : { items, nextCursor: null };
}

function asInterval(text: string) {
  let network;
  try {
    network = text.includes('/') ? parseNetwork(text, 'search', false) : undefined;
    const address = network ? undefined : parseAddress(text, 'search');
    const family = (network ?? address)!.family;
    const first = network ? network.first : address!.value;
    const last = network ? network.last : address!.value;
    return { family, keys: (space: string) => intervalKeys(space, family, { first, last }) };
  } catch {
    return undefined;
  }
}

async function searchText(ctx: Context, needle: string, limit: number, position: Position): Promise<TreePage> {
  const found: { collection: Kind; doc: Located }[] = [];
  const order: Kind[] = position.collection === 'blocks' ? ['blocks', 'ranges'] : ['ranges'];
  for (const collection of order) {
    let after = collection === position.collection ? position.after : null;
    for (;;) {
      const docs = await ctx.store
        .collection<Located>(collection)
        .find(after === null ? {} : { key: { $gt: after } }, { sort: { key: 1 }, limit: SEARCH_CHUNK, fields: LISTED_FIELDS });
      for (const doc of docs) {
        if (!matches(doc, needle)) continue;
        found.push({ collection, doc });
        if (found.length === limit) {
          const items = await Promise.all(found.map((hit) => toItem(ctx, hit.collection, hit.doc)));
          return { items, nextCursor: encodeCursor({ collection, after: doc.key }) };
        }
      }
      if (docs.length < SEARCH_CHUNK) break;
      after = docs[docs.length - 1].key;
    }
  }
  return { items: await Promise.all(found.map((hit) => toItem(ctx, hit.collection, hit.doc))), nextCursor: null };
}

function matches(doc: Located, needle: string): boolean {
  return doc.network.toLowerCase().includes(needle) || (doc.description ?? '').toLowerCase().includes(needle);
}

function checkSearch(value: unknown): string {
  if (typeof value !== 'string' || value.length > 200) throw invalid('search', value, 'must be text of at most 200 characters');
  return value.trim();
}

function checkLimit(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_TREE_PAGE;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TREE_PAGE) throw invalid('limit', value, `must be an integer from 1 to ${MAX_TREE_PAGE}`);
  return limit;
}

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.collection, position.after])).toString('base64url');
}

function decodeCursor(cursor: unknown): Position {
  if (cursor === undefined || cursor === null || cursor === '') return { collection: 'blocks', after: null };
  try {
    const [collection, after] = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as unknown[];
    if ((collection === 'blocks' || collection === 'ranges') && typeof after === 'string') return { collection, after };
  } catch {
    // reported below
  }
  throw invalid('cursor', cursor, 'is not a cursor of this tree; pass nextCursor of the previous page');
}

/** Parses the tree's HTTP query (all strings) into a TreeQuery; user text never becomes a store operator. */
export function treeQueryFrom(input: Record<string, unknown>): TreeQuery {
  const { parent, addressSpace, family, id, search, limit, cursor } = input;
  const query: TreeQuery = { limit: limit as number | undefined, cursor: cursor as string | undefined };
  if (search !== undefined) query.search = checkSearch(search);
  if (parent === undefined || parent === '' || parent === 'root') query.parent = { kind: 'root' };
  else if (parent === 'space') {
    if (family !== '4' && family !== '6' && family !== 4 && family !== 6) throw invalid('family', family, 'must be 4 or 6');
    query.parent = { kind: 'space', addressSpace: checkAddressSpace(addressSpace), family: Number(family) as Family };
  } else if (parent === 'block') {
    if (typeof id !== 'string' || id === '') throw invalid('id', id, 'must be a block id');
    query.parent = { kind: 'block', id };
  } else throw invalid('parent', parent, 'must be root, space or block');
  return query;
}
