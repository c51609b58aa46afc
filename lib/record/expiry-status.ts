/**
 * The derived `expiryStatus` of an address: `Not expired` / `Expiry Due` / `Expired` from `expiryDate`
 * and a threshold in days (the rules are in lib/lifecycle/expiry.ts's comment). Reads derive it here
 * (records.ts toRecord); the check that stores and reports transitions is lib/lifecycle/expiry.ts.
 */
import { EXPIRY_STATUSES } from './enums';
import { invalid } from '../errors';
import type { Context } from './context';
import type { Comparison, Filter } from '../store';

export type ExpiryStatus = (typeof EXPIRY_STATUSES)[number];

export const DEFAULT_THRESHOLD_DAYS = 10;
const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** The instants that split the expiry-date strings into states (see the file comment). */
export interface ExpiryBounds {
  /** Today's UTC date, `YYYY-MM-DD`. */
  today: string;
  /** Now as a canonical ISO instant. */
  nowIso: string;
  /** Now + threshold, ISO instant: anything later is Not expired. */
  dueIso: string;
  /** The UTC date of `dueIso`. */
  dueDay: string;
  /** Now and now + threshold in epoch milliseconds. */
  nowMs: number;
  dueMs: number;
}

export function expiryBounds(now: Date, thresholdDays: number): ExpiryBounds {
  const nowMs = now.getTime();
  const dueMs = nowMs + thresholdDays * DAY_MS;
  const nowIso = now.toISOString();
  const dueIso = new Date(dueMs).toISOString();
  return { today: nowIso.slice(0, 10), nowIso, dueIso, dueDay: dueIso.slice(0, 10), nowMs, dueMs };
}

/** The state of one expiry date at `now`; undefined for a value that is not an ISO date or instant. */
export function expiryStatusOf(
  expiryDate: string,
  now: Date,
  thresholdDays = DEFAULT_THRESHOLD_DAYS,
): ExpiryStatus | undefined {
  return expiryStatusWithin(expiryDate, expiryBounds(now, thresholdDays));
}

/** `expiryStatusOf` with the bounds computed once (reads shape many records at one moment). */
export function expiryStatusWithin(expiryDate: string, bounds: ExpiryBounds): ExpiryStatus | undefined {
  if (DATE_ONLY.test(expiryDate)) {
    if (expiryDate < bounds.today) return 'Expired';
    return expiryDate <= bounds.dueDay ? 'Expiry Due' : 'Not expired';
  }
  const at = Date.parse(expiryDate);
  if (Number.isNaN(at)) return undefined;
  if (at <= bounds.nowMs) return 'Expired';
  return at <= bounds.dueMs ? 'Expiry Due' : 'Not expired';
}

/**
 * The stored `expiryDate` strings (canonical `YYYY-MM-DD` or `YYYY-MM-DDTHH:mm:ss.sssZ`) of each state
 * as conditions on the index. String order does it: a date-only value sorts just before the instants
 * of its own day. Each state may need two conditions.
 */
export function stateConditions(bounds: ExpiryBounds): Record<ExpiryStatus, Comparison[]> {
  return {
    Expired: [{ $lte: bounds.nowIso, $ne: bounds.today }],
    'Expiry Due': [{ $gt: bounds.nowIso, $lte: bounds.dueIso }, { $gte: bounds.today, $lte: bounds.today }],
    'Not expired': [{ $gt: bounds.dueIso }],
  };
}

/**
 * A store filter of addresses whose `expiryStatus` (derived on read, never stored) is replaced by the
 * `expiryDate` conditions of that state at `now`: the alternatives, any of which matches (none when the
 * filter also fixes an expiryDate of another state).
 */
export function expiryAlternatives(filter: Filter, now: Date, thresholdDays: number): Filter[] {
  if (!Object.hasOwn(filter, 'expiryStatus')) return [filter];
  const { expiryStatus: status, ...rest } = filter;
  if (rest.expiryDate !== undefined) {
    const date = rest.expiryDate;
    return typeof date === 'string' && expiryStatusOf(date, now, thresholdDays) === status ? [rest] : [];
  }
  const conditions = stateConditions(expiryBounds(now, thresholdDays));
  const wanted = EXPIRY_STATUSES.find((s) => s === status);
  return wanted ? conditions[wanted].map((condition) => ({ ...rest, expiryDate: condition })) : [];
}

/** `expiryAlternatives` with the Ipam's threshold, now. */
export function addressFilters(ctx: Context, filter: Filter): Filter[] {
  return expiryAlternatives(filter, new Date(), checkThreshold(ctx.expiryThresholdDays));
}

export function checkThreshold(value: unknown): number {
  const days = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (days === undefined || days === null || days === '') return DEFAULT_THRESHOLD_DAYS;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 0 || days > 3650) {
    throw invalid('thresholdDays', value, 'must be a whole number of days from 0 to 3650');
  }
  return days;
}
