/**
 * Address expiry: `Not expired` / `Expiry Due` / `Expired` from `expiryDate` and a threshold in days.
 *
 * Time is UTC throughout, so every Node-RED instance (whatever its TZ) computes the same state:
 * - a date-only `expiryDate` (`2026-12-31`) means the address is valid through that UTC day: it is
 *   `Expired` from 00:00 UTC the next day and `Expiry Due` from 00:00 UTC `threshold` days before it;
 * - a date-time `expiryDate` (stored in UTC) is an instant: `Expired` from that instant and
 *   `Expiry Due` from `threshold` × 24 h before it.
 *
 * Reads derive `expiryStatus` from these rules (lib/record/expiry-status.ts, in toRecord); it is never stored. What the
 * check last reported is stored in the internal `expiryReported` field with a compare-and-set, so a
 * transition is reported once, even across restarts or by several instances sharing one store. The
 * check pages through the `expiryDate` index and, in `transitions` mode, only visits addresses whose
 * reported state is stale. Records written before `expiryReported` existed carry that state in a stored
 * `expiryStatus`: it is read as the reported state and moved on the first check that visits them.
 */
import { randomUUID } from 'node:crypto';
import { invalid, isIpamError } from '../errors';
import { expireHolds, type HoldExpiredEvent } from '../allocation';
import { pruneHistory, checkThreshold, expiryBounds, expiryStatusOf, stateConditions, type Context, type ExpiryStatus } from '../record';
import type { Collection, Comparison, Doc, Filter } from '../store';

export type LoggingFrequency = 'transitions' | 'periodic';


export interface ExpiryCheckOptions {
  /** Days before the expiry date at which an address becomes `Expiry Due` (default 10). */
  thresholdDays?: number;
  /** `transitions` (default): one event per changed state; `periodic`: one per Due or Expired address. */
  logging?: LoggingFrequency;
  /** The moment to evaluate at (default: now). */
  now?: Date | string | number;
  /** Addresses read per store query (default 500). */
  pageSize?: number;
  /** Called for each event as it happens; when given, events are not collected in the result. */
  onEvent?: (event: ExpiryEvent) => void | Promise<void>;
  /** Records this run's time under this key (see `lastExpiryRun`), so a schedule survives restarts. */
  runKey?: string;
}

export interface ExpiryEvent {
  id: string;
  address: string;
  addressSpace: string;
  deviceName?: string;
  expiryDate: string;
  /** The stored state before this run; null when the address had not been checked yet. */
  previousStatus: ExpiryStatus | null;
  expiryStatus: ExpiryStatus;
}

export interface ExpiryReport {
  ranAt: string;
  thresholdDays: number;
  logging: LoggingFrequency;
  /** Addresses with an expiry date in each state at `ranAt` (indexed counts). */
  counts: { notExpired: number; expiryDue: number; expired: number };
  /** Stored states changed by this run. */
  changed: number;
  /** Events reported (also when streamed through `onEvent`). */
  reported: number;
  events: ExpiryEvent[];
  /** One `{event: 'hold-expired', ...}` per hold that expired unconfirmed (lib/allocation/holds.ts), not reported before. */
  holdEvents: HoldExpiredEvent[];
  /** History entries deleted by the retention (ipam-config). */
  historyPruned: number;
}

interface ExpiryDoc extends Doc {
  address: string;
  addressSpace: string;
  deviceName?: string;
  expiryDate: string;
  expiryReported?: ExpiryStatus;
  /** Where the reported state was kept before `expiryReported`. */
  expiryStatus?: ExpiryStatus;
}

/** The internal field holding the state the check last reported. */
export const REPORTED_FIELD = 'expiryReported';
/** The internal field naming the check run that last moved the reported state (see storeStatuses). */
export const RUN_FIELD = 'expiryRun';


function checkLogging(value: unknown): LoggingFrequency {
  if (value === undefined || value === null || value === '') return 'transitions';
  if (value === 'transitions' || value === 'periodic') return value;
  throw invalid('logging', value, 'must be transitions or periodic');
}

function checkNow(value: unknown): Date {
  if (value === undefined || value === null || value === '') return new Date();
  const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw invalid('now', value, 'must be an ISO date-time');
  return date;
}

/**
 * Brings every address's stored `expiryStatus` up to date and reports events:
 * `transitions`: one per address whose state changed (a first check that finds `Not expired` is silent);
 * `periodic`: one per address that is `Expiry Due` or `Expired`, changed or not.
 */
export async function checkExpiry(ctx: Context, input: unknown = {}): Promise<ExpiryReport> {
  const options = (typeof input === 'object' && input !== null ? input : {}) as ExpiryCheckOptions;
  const thresholdDays = checkThreshold(options.thresholdDays ?? ctx.expiryThresholdDays);
  const logging = checkLogging(options.logging);
  const now = checkNow(options.now);
  const pageSize = options.pageSize && options.pageSize > 0 ? Math.floor(options.pageSize) : 500;
  const addresses = ctx.store.collection<ExpiryDoc>('addresses');
  const bounds = expiryBounds(now, thresholdDays);
  const conditions = stateConditions(bounds);
  const report: ExpiryReport = {
    ranAt: bounds.nowIso,
    thresholdDays,
    logging,
    counts: { notExpired: 0, expiryDue: 0, expired: 0 },
    changed: 0,
    reported: 0,
    events: [],
    holdEvents: [],
    historyPruned: 0,
  };
  const emit = async (event: ExpiryEvent): Promise<void> => {
    report.reported++;
    if (options.onEvent) await options.onEvent(event);
    else report.events.push(event);
  };

  const runId = randomUUID();
  for (const status of ['Expired', 'Expiry Due', 'Not expired'] as const) {
    const periodicReport = logging === 'periodic' && status !== 'Not expired';
    // Transitions mode and the Not expired state only need the addresses whose stored state is stale.
    const stale: Filter = periodicReport ? {} : { [REPORTED_FIELD]: { $ne: status } };
    for (const condition of conditions[status]) {
      await forEachByDate(addresses, stale, condition, pageSize, async (page) => {
        const moves = new Map<string, ExpiryDoc[]>();
        for (const doc of page) {
          const computed = expiryStatusOf(doc.expiryDate, now, thresholdDays);
          if (computed === undefined) continue;
          const previous = reportedOf(doc);
          // An older record keeps its reported state in expiryStatus: move it even when nothing changed.
          if (computed !== previous || (doc.expiryReported === undefined && doc.expiryStatus !== undefined)) {
            const key = JSON.stringify([doc.expiryReported ?? null, doc.expiryStatus ?? null, computed]);
            moves.set(key, [...(moves.get(key) ?? []), doc]);
          } else if (periodicReport && computed !== 'Not expired') await emit(eventOf(doc, previous, computed));
        }
        for (const docs of moves.values()) {
          const computed = expiryStatusOf(docs[0].expiryDate, now, thresholdDays) as ExpiryStatus;
          const mine = await storeStatuses(addresses, docs, condition, computed, runId);
          for (const doc of docs) {
            const previous = reportedOf(doc);
            const changed = computed !== previous && mine.has(doc.id);
            if (changed) report.changed++;
            if (periodicReport ? computed !== 'Not expired' : changed && (previous !== null || computed !== 'Not expired')) {
              await emit(eventOf(doc, previous, computed));
            }
          }
        }
      });
    }
  }
  report.counts = {
    expired: await countStates(addresses, conditions.Expired),
    expiryDue: await countStates(addresses, conditions['Expiry Due']),
    notExpired: await countStates(addresses, conditions['Not expired']),
  };
  await expireHolds(ctx, async (event) => {
    report.holdEvents.push(event);
  });
  report.historyPruned = await pruneHistory(ctx, ctx.historyRetentionDays, await ctx.store.now(), yieldNow);
  if (typeof options.runKey === 'string' && options.runKey !== '') await recordRun(ctx, options.runKey, report.ranAt);
  return report;
}

/** When the check recorded under `runKey` last ran (ISO), or null. */
export async function lastExpiryRun(ctx: Context, runKey: string): Promise<string | null> {
  const doc = await ctx.store.collection('settings').findOne({ name: `expiryRun:${runKey}` });
  return typeof doc?.ranAt === 'string' ? doc.ranAt : null;
}

async function recordRun(ctx: Context, runKey: string, ranAt: string): Promise<void> {
  const settings = ctx.store.collection('settings');
  const name = `expiryRun:${runKey}`;
  if (await settings.updateOne({ name }, { $set: { ranAt } })) return;
  try {
    await settings.insertOne({ id: `settings:${name}`, name, ranAt });
  } catch (err) {
    if (!isIpamError(err, 'DUPLICATE')) throw err;
    await settings.updateOne({ name }, { $set: { ranAt } });
  }
}

function reportedOf(doc: ExpiryDoc): ExpiryStatus | null {
  return doc.expiryReported ?? doc.expiryStatus ?? null;
}

/**
 * Compare-and-set in bulk: one updateMany moves the documents that still hold the state they were read with
 * (and whose date still meets `condition`) and stamps them with this run's id. Only the run that moved a
 * document reports its transition: when the update matched fewer than asked (another run was quicker for
 * some), the stamp says which ones were this run's. Returns their ids.
 */
async function storeStatuses(
  addresses: Collection<ExpiryDoc>,
  docs: ExpiryDoc[],
  condition: Comparison,
  status: ExpiryStatus,
  runId: string,
): Promise<Set<string>> {
  const absent = { $exists: false };
  const [first] = docs;
  const ids = docs.map((doc) => doc.id);
  const moved = await addresses.updateMany(
    { id: { $in: ids }, expiryDate: condition, [REPORTED_FIELD]: first.expiryReported ?? absent, expiryStatus: first.expiryStatus ?? absent },
    { $set: { [REPORTED_FIELD]: status, [RUN_FIELD]: runId }, ...(first.expiryStatus !== undefined ? { $unset: { expiryStatus: true } } : {}) },
  );
  if (moved === ids.length) return new Set(ids);
  const stamped = await addresses.find({ id: { $in: ids }, [RUN_FIELD]: runId }, { fields: ['id'] });
  return new Set(stamped.map((doc) => doc.id));
}

function eventOf(doc: ExpiryDoc, previousStatus: ExpiryStatus | null, expiryStatus: ExpiryStatus): ExpiryEvent {
  return {
    id: doc.id,
    address: doc.address,
    addressSpace: doc.addressSpace,
    ...(doc.deviceName ? { deviceName: doc.deviceName } : {}),
    expiryDate: doc.expiryDate,
    previousStatus,
    expiryStatus,
  };
}

async function countStates(addresses: Collection<ExpiryDoc>, conditions: Comparison[]): Promise<number> {
  let total = 0;
  for (const condition of conditions) total += await addresses.count({ expiryDate: condition });
  return total;
}

/**
 * Visits the documents whose `expiryDate` meets `condition`, in date order, a page at a time (`visit` gets a page). Pages
 * follow the `expiryDate` index; the documents sharing a page's last date are then read by id, so a
 * page boundary inside a run of equal dates neither skips nor repeats one. Documents that leave
 * `filter` while being visited (their state was updated) do not disturb the walk.
 */
async function forEachByDate(
  addresses: Collection<ExpiryDoc>,
  filter: Filter,
  condition: Comparison,
  pageSize: number,
  visit: (docs: ExpiryDoc[]) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const dates: Comparison = after === undefined ? condition : { ...condition, $gt: later(condition.$gt, after) };
    const page = await addresses.find({ ...filter, expiryDate: dates }, { sort: { expiryDate: 1 }, limit: pageSize });
    if (page.length < pageSize) {
      await visit(page);
      return;
    }
    const lastDate = page[page.length - 1].expiryDate;
    await visit(page.filter((doc) => doc.expiryDate !== lastDate));
    let lastId: string | undefined;
    for (;;) {
      const ties = await addresses.find(
        { ...filter, expiryDate: lastDate, ...(lastId === undefined ? {} : { id: { $gt: lastId } }) },
        { sort: { id: 1 }, limit: pageSize },
      );
      await visit(ties);
      if (ties.length < pageSize) break;
      lastId = ties[ties.length - 1].id;
    }
    after = lastDate;
  }
}

function later(bound: Comparison['$gt'], date: string): string {
  return typeof bound === 'string' && bound > date ? bound : date;
}

function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
