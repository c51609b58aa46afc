/**
 * History: one entry per write of a block, range or address, `{at, entity, id, key, operation, changes:
 * {field: [before, after]}, source}`, stored in the `history` collection. Address entries are written in the
 * same atomic batch as the change (lib/space/counters.ts builds them); block and range entries right after theirs.
 *
 * Who made the change (`source`: the node, the flow, the requestId, the import file and line) and the
 * operation come from the call's context (`Context.history`): a node calls through `ipam.withSource(...)`,
 * and `Ipam.perform` gives each call a context of its own that names its operation (`scoped`). No
 * AsyncLocalStorage: it would put promise hooks on every promise of the Node-RED process.
 *
 * An entry that ends a hold (confirm, release or expiry of a held address) has the id `hold|<address id>|
 * <holdUntil>`: the first of them to commit wins, and a second one collides on the primary key and undoes its
 * whole batch. That is the compare-and-set that lets a confirm racing an expiry end one way only.
 */
import { newId } from '../ids';
import { merged, ownValue, setOwn } from '../own';
import { parseAddress, checkAddressSpace } from '../address';
import { invalid } from '../errors';
import { nowIso } from './records';
import type { Context } from './context';
import { applyUpdate, type Doc, type Filter, type Write } from '../store';

export type HistoryEntity = 'block' | 'range' | 'address';

export interface HistorySource {
  nodeId?: string;
  nodeName?: string;
  flowId?: string;
  requestId?: string;
  importFile?: string;
  line?: number;
}

export interface HistoryEntry {
  at: string;
  entity: HistoryEntity;
  /** The record's id. */
  id: string;
  /** The address, or the block's or range's network. */
  key: string;
  addressSpace: string;
  operation: string;
  changes: Record<string, [unknown, unknown]>;
  source: HistorySource;
}

/**
 * The stored entry: `id` is the entry's own; `order` (`at|sequence|id`) sorts and pages: entries of one process
 * within a millisecond keep the order they were written in. A create stores the record's tracked fields as
 * `created` and a delete as `removed` ({field: value}, not {field: [null, value]}): the common entries of an
 * import and a release are then about 12% smaller and quicker to write; `changesOfEntry` gives every entry's
 * `changes`. Entries written by earlier versions have `changes` only, and read the same. A hold-expired entry
 * keeps `changes` (see historyWrites).
 */
export interface HistoryDoc extends Doc {
  recordId: string;
  entity: HistoryEntity;
  key: string;
  addressSpace: string;
  at: string;
  order: string;
  operation: string;
  changes?: Record<string, [unknown, unknown]>;
  created?: Record<string, unknown>;
  removed?: Record<string, unknown>;
  source: HistorySource;
  /** A hold-expired entry not yet reported by ipam-expiry. */
  unreported?: true;
  requestKey?: string;
}

/** What the history entries of one call's writes carry (Context.history). */
export interface HistoryScope {
  source: HistorySource;
  /** The operation the caller performs (`allocate`, `import`, ...); writes without one name their own kind. */
  operation?: string;
  /** Benchmarks only: no entries except those that end a hold (they are its compare-and-set). */
  off?: boolean;
}

let sequence = 0;

/** The same context, its history entries naming `source` (and `operation`, for a call made without `perform`). */
export function withSource<C extends Context>(ctx: C, source: HistorySource, operation?: string): C {
  return scoped(ctx, merged(ctx.history ?? {}, { source: cleanSource(source), operation }));
}

/** The same context under its source with another operation (each `Ipam.perform` call). */
export function asOperation<C extends Context>(ctx: C, operation: string): C {
  return scoped(ctx, { source: ctx.history?.source ?? {}, off: ctx.history?.off, operation });
}

/** For benchmarks: the same context writing no history (except hold ends), to measure what history costs. */
export function withoutHistory<C extends Context>(ctx: C): C {
  return scoped(ctx, { source: {}, ...ctx.history, off: true });
}

/** A context that is `ctx` in everything (its store and settings, read through) but its history scope. */
function scoped<C extends Context>(ctx: C, history: HistoryScope): C {
  const derived = Object.create(ctx) as C;
  derived.history = history;
  return derived;
}

function cleanSource(source: HistorySource): HistorySource {
  return Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== '')) as HistorySource;
}

/** Node operation names as history operations. */
const OPERATION_NAMES: Record<string, string> = {
  add: 'create',
  'import-and-update': 'import',
  'allocate-subnet': 'create',
};

function operationName(ctx: Context, kind: 'insert' | 'update' | 'delete'): string {
  const named = ctx.history?.operation;
  if (named) return Object.hasOwn(OPERATION_NAMES, named) ? OPERATION_NAMES[named] : named;
  return kind === 'insert' ? 'create' : kind;
}

/** Fields that are bookkeeping, not part of the record a user sees. */
const UNTRACKED = new Set([
  'id', 'key', 'startKey', 'endKey', 'spanKey', 'requestKey', 'freeHint', 'hintVersion', 'assignedCount', 'rangedSize', 'straddling', 'expiryReported',
  'updatedAt',
]);

/** `{field: [before, after]}` for every tracked field that differs (null for absent). */
export function changesOf(before: Record<string, unknown> | null, after: Record<string, unknown> | null): Record<string, [unknown, unknown]> {
  if (before === null) return paired(trackedFields(after ?? {}), false);
  if (after === null) return paired(trackedFields(before), true);
  const changes: Record<string, [unknown, unknown]> = {};
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const field of fields) {
    if (UNTRACKED.has(field)) continue;
    const was = ownValue(before, field) ?? null;
    const now = ownValue(after, field) ?? null;
    if (JSON.stringify(was) !== JSON.stringify(now)) setOwn(changes, field, [was, now]);
  }
  return changes;
}

/**
 * Every tracked field `doc` sets, with its value: what a create or a delete changes from or to null (a
 * comparison with an empty side gives the same fields). A create or a delete (the common cases of a bulk
 * import and a release) needs no comparisons.
 */
function trackedFields(doc: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of Object.keys(doc)) {
    const value = doc[field] ?? null;
    if (!UNTRACKED.has(field) && value !== null && !isNonFinite(value)) setOwn(fields, field, value);
  }
  return fields;
}

/** One-sided fields as changes: `[value, null]` when they were removed, `[null, value]` when created. */
function paired(fields: Record<string, unknown>, removed: boolean): Record<string, [unknown, unknown]> {
  const changes: Record<string, [unknown, unknown]> = {};
  for (const field of Object.keys(fields)) setOwn(changes, field, removed ? [fields[field], null] : [null, fields[field]]);
  return changes;
}

/** An entry's `{field: [before, after]}`, whichever form it was stored in. */
export function changesOfEntry(doc: HistoryDoc): Record<string, [unknown, unknown]> {
  if (doc.changes) return doc.changes;
  if (doc.created) return paired(doc.created, false);
  return paired(doc.removed ?? {}, true);
}

/** NaN and the infinities are null in JSON, as the comparison in changesOf sees them. */
function isNonFinite(value: unknown): boolean {
  return typeof value === 'number' && !Number.isFinite(value);
}

type Recorded = Record<string, unknown> & { id: string; addressSpace?: unknown };

/** The id of the entry that ends the hold `before` carries, when this write ends it. */
function holdEndId(before: Recorded | null, after: Recorded | null): string | undefined {
  const held = before?.holdUntil;
  if (typeof held !== 'string' || (after && after.holdUntil === held)) return undefined;
  return `hold|${before?.id}|${held}`;
}

/**
 * The history insert for one write of a record (`before` null for a create, `after` null for a delete),
 * or none when history is off for this call and the write ends no hold.
 */
export function historyWrites(ctx: Context, entity: HistoryEntity, before: Recorded | null, after: Recorded | null, operation?: string): Write[] {
  const current = ctx.history;
  const holdEnd = entity === 'address' ? holdEndId(before, after) : undefined;
  if (current?.off && !holdEnd) return [];
  const record = (after ?? before) as Recorded;
  const at = nowIso();
  const id = holdEnd ?? newId();
  const order = `${at}|${String(++sequence).padStart(12, '0')}|${id}`;
  const op = operation ?? operationName(ctx, before === null ? 'insert' : after === null ? 'delete' : 'update');
  const doc: HistoryDoc = {
    id,
    recordId: record.id,
    entity,
    key: String(entity === 'address' ? record.address : record.network),
    addressSpace: String(record.addressSpace ?? 'Default'),
    at,
    order,
    operation: op,
    source: current?.source ?? {},
  };
  // A hold-expired entry keeps `changes`: it is what ipam-expiry and confirm read, also in an earlier version
  // run against this store after a rollback; there are few of them.
  if (before === null) doc.created = trackedFields(after ?? {});
  else if (after === null && op !== 'hold-expired') doc.removed = trackedFields(before);
  else doc.changes = changesOf(before, after);
  const requestKey = (before?.requestKey ?? after?.requestKey) as string | undefined;
  if (requestKey) doc.requestKey = requestKey;
  if (op === 'hold-expired') doc.unreported = true;
  return [{ op: 'insert', collection: 'history', doc }];
}

/** The history insert for an update given as the port's update operators on `before`. */
export function historyOfUpdate(ctx: Context, entity: HistoryEntity, before: Recorded, update: Parameters<typeof applyUpdate>[1], operation?: string): Write[] {
  return historyWrites(ctx, entity, before, applyUpdate(before, update) as Recorded, operation);
}

/* ------------------------------------------------------------------ reads */

export const MAX_PAGE = 1000;
const PAGING = ['addressSpace', 'from', 'to', 'limit', 'after'];
const ADDRESS_SELECTORS = new Set(['id', 'address', ...PAGING]);
const NETWORK_SELECTORS = new Set(['id', 'network', ...PAGING]);
const SELECTORS = new Set(['id', ...PAGING]);
const DEFAULT_PAGE = 100;

export interface HistoryPage {
  entries: HistoryEntry[];
  /** Pass as `after` for the next page; null on the last one. */
  next: string | null;
}

/**
 * The `history` operation of ipam-block, ipam-range and ipam-allocate: entries of one record (`id`), of an
 * address or network (`address` / `network`, + `addressSpace`), or of every record of the entity, within
 * `from`..`to` (ISO instants, `to` exclusive), oldest first, `limit` per page (default 100, at most 1000).
 */
export async function readHistory(ctx: Context, entity: HistoryEntity | undefined, payload: unknown): Promise<HistoryPage> {
  const input = (typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : {}) as Record<string, unknown>;
  const known = entity === 'address' ? ADDRESS_SELECTORS : entity === undefined ? SELECTORS : NETWORK_SELECTORS;
  for (const field of Object.keys(input)) if (!known.has(field)) throw invalid(field, input[field], 'is not a known field of a history query');
  const filter: Filter = entity ? { entity } : {};
  if (input.id !== undefined && input.id !== '') {
    if (typeof input.id !== 'string') throw invalid('id', input.id, 'must be the record id (text)');
    filter.recordId = input.id;
  } else if (entity === 'address' && input.address !== undefined && input.address !== '') {
    filter.key = parseAddress(input.address, 'address').text;
    filter.addressSpace = checkAddressSpace(input.addressSpace);
  } else if (entity !== 'address' && entity !== undefined && input.network !== undefined && input.network !== '') {
    if (typeof input.network !== 'string') throw invalid('network', input.network, 'must be a CIDR such as 10.1.0.0/24');
    filter.key = canonicalNetwork(input.network);
    filter.addressSpace = checkAddressSpace(input.addressSpace);
  }
  const limit = pageLimit(input.limit);
  const order: Record<string, string> = {};
  const from = instant('from', input.from);
  const to = instant('to', input.to);
  if (input.after !== undefined && input.after !== '') {
    if (typeof input.after !== 'string') throw invalid('after', input.after, "must be the previous page's next value");
    order.$gt = input.after;
  } else if (from) order.$gte = from;
  if (to) order.$lt = to;
  if (Object.keys(order).length > 0) filter.order = order;
  const docs = await ctx.store.collection<HistoryDoc>('history').find(filter, { sort: { order: 1 }, limit: limit + 1 });
  const page = docs.slice(0, limit);
  return { entries: page.map(entryOf), next: docs.length > limit ? page[page.length - 1].order : null };
}

function canonicalNetwork(text: string): string {
  const [address, prefix] = text.trim().split('/');
  if (prefix === undefined || !/^\d{1,3}$/.test(prefix)) throw invalid('network', text, 'must be a CIDR such as 10.1.0.0/24');
  return `${parseAddress(address, 'network').text}/${Number(prefix)}`;
}

function pageLimit(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_PAGE;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw invalid('limit', value, `must be a whole number from 1 to ${MAX_PAGE}`);
  return limit;
}

function instant(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const time = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw invalid(field, value, 'must be an ISO date or instant such as 2026-12-01T00:00:00Z');
  return new Date(time).toISOString();
}

export function entryOf(doc: HistoryDoc): HistoryEntry {
  return {
    at: doc.at,
    entity: doc.entity,
    id: doc.recordId,
    key: doc.key,
    addressSpace: doc.addressSpace,
    operation: doc.operation,
    changes: changesOfEntry(doc),
    source: doc.source,
  };
}

/** History entities as `ipam-import` export names them (`entity: 'history'`, filter `{entity: 'address'}`). */
export function historyEntityOf(value: unknown): HistoryEntity | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === 'block' || value === 'range' || value === 'address') return value;
  throw invalid('filter.entity', value, 'must be block, range or address');
}

/** Every matching entry, a page at a time (export). */
export async function* historyPages(ctx: Context, filter: Record<string, unknown>): AsyncGenerator<HistoryEntry[]> {
  const { entity, ...rest } = filter;
  let after: string | null | undefined;
  do {
    const page = await readHistory(ctx, historyEntityOf(entity), { ...rest, limit: MAX_PAGE, ...(after ? { after } : {}) });
    if (page.entries.length > 0) yield page.entries;
    after = page.next;
  } while (after);
}

/* ------------------------------------------------------------------ retention */

const DAY_MS = 86_400_000;
const PRUNE_BATCH = 1000;

/** Days of history to keep (ipam-config); undefined, null, '' or 0 = unlimited. */
export function checkRetention(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '' || Number(value) === 0) return undefined;
  const days = Number(value);
  if (!Number.isFinite(days) || days < 0) throw invalid('historyRetentionDays', value, 'must be a number of days (0 or empty = unlimited)');
  return days;
}

/**
 * Deletes entries older than the retention, a batch at a time (entries not yet reported by ipam-expiry stay).
 * Returns how many were deleted.
 */
export async function pruneHistory(ctx: Context, retentionDays: number | undefined, now: number, yieldNow: () => Promise<void>): Promise<number> {
  if (retentionDays === undefined) return 0;
  const history = ctx.store.collection<HistoryDoc>('history');
  const cutoff = new Date(now - retentionDays * DAY_MS).toISOString();
  let pruned = 0;
  for (;;) {
    const old = await history.find({ order: { $lt: cutoff } }, { sort: { order: 1 }, limit: PRUNE_BATCH, fields: ['unreported'] });
    const ids = old.filter((doc) => doc.unreported !== true).map((doc) => doc.id);
    if (ids.length > 0) pruned += await history.deleteMany({ id: { $in: ids } });
    if (old.length < PRUNE_BATCH) return pruned;
    if (ids.length === 0) return pruned;
    await yieldNow();
  }
}
