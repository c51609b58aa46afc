/**
 * IP address ranges: usually a DHCP scope. A range maps to the most specific block containing it;
 * ranges mapped to the same block (or both unmapped) never overlap.
 */
import { randomUUID } from 'node:crypto';
import { contains, parseAddress, checkAddressSpace, type Interval } from '../address';
import { checkCustomFields, isReservedRangeService, canonicalValue, optionalFields, checkInput, clearedFields, nowIso, unsetMissing, toRecord, type Exclusion, type Keyed, type RangeRecord, type Context } from '../record';
import { IpamError, invalid, show } from '../errors';
import { withLock, type Lease } from './lock';
import { mostSpecificBlockId } from './mapping';
import { boundsFields, findBySelector, getSpaceRecord, listSpaceRecords, overlapping, resolveBounds, spanKey, startFloor, type Bounds } from './bounds';
import type { Filter } from '../store';
import { applyStructural, spaceLock, withSpaceRecord } from './structural';

export type RangeDoc = RangeRecord &
  Keyed & { startKey: string; endKey: string; spanKey: string; freeHint: string; hintVersion: number };

export interface RangeWriteOptions {
  /** Discovery (ipam-sync) may write the reserved service values; users and imports may not. */
  allowReservedService?: boolean;
}

/** Fields a range may lack, so an update can clear them. */
const OPTIONAL_FIELDS = optionalFields('ranges');

export async function addRange(ctx: Context, input: unknown, options: RangeWriteOptions = {}): Promise<RangeRecord> {
  const draft = await prepareRange(ctx, input, options);
  return withLock(ctx.store, spaceLock(draft.bounds.addressSpace), (lease) => insertRange(ctx, draft, lease));
}

/** Validates a new range without storing it (no lock needed). */
export async function prepareRange(ctx: Context, input: unknown, options: RangeWriteOptions = {}): Promise<RangeDraft> {
  return buildRange(ctx, checkInput('ranges', input), options);
}

/** Maps and stores a prepared range. Call under the space lock (`lease`; `withLock` is not re-entrant). */
export async function insertRange(ctx: Context, draft: RangeDraft, lease: Lease): Promise<RangeRecord> {
  const doc = await placeRange(ctx, draft, randomUUID(), nowIso());
  await applyStructural(ctx, doc.addressSpace, lease, { op: 'add-range', range: doc });
  return toRecord(doc, ctx);
}

/**
 * Updates a range; a change of bounds, service or instance re-maps its addresses. The range is read and
 * rewritten under its space's lock, so concurrent updates apply one after the other. It cannot move to
 * another address space (delete it and add it there).
 */
export async function updateRange(
  ctx: Context,
  selector: unknown,
  input: unknown,
  options: RangeWriteOptions = {},
): Promise<RangeRecord> {
  const found = await getRangeDoc(ctx, selector);
  const changes = checkInput('ranges', input);
  if (changes.addressSpace !== undefined && checkAddressSpace(changes.addressSpace) !== found.addressSpace) {
    throw invalid('addressSpace', changes.addressSpace, 'cannot change on an existing range; delete it and add it there');
  }
  return withLock(ctx.store, spaceLock(found.addressSpace), async (lease) => {
    const current = await getRangeDoc(ctx, { id: found.id });
    const fields: Record<string, unknown> = { ...storedInput(current), ...changes };
    for (const field of clearedFields(input)) delete fields[field];
    if (fields.network !== current.network && changes.startAddress === undefined) {
      delete fields.startAddress;
      delete fields.endAddress;
    }
    const keepsReserved = fields.managedByService === current.managedByService;
    const draft = await buildRange(ctx, fields, { allowReservedService: options.allowReservedService || keepsReserved });
    const doc = await placeRange(ctx, draft, current.id, current.createdAt);
    doc.updatedAt = laterThan(current.updatedAt, doc.updatedAt);
    const $unset = unsetMissing(current, doc, OPTIONAL_FIELDS);
    // The version goes up by one from whatever it is when the write lands: a release meanwhile bumps it too, and
    // an absolute value would then equal the one that release set, under which this process may keep a hint.
    const { hintVersion: _version, ...stored } = doc;
    const update = { $set: { ...stored, freeHint: doc.startKey }, $inc: { hintVersion: 1 }, ...(Object.keys($unset).length ? { $unset } : {}) };
    await applyStructural(ctx, current.addressSpace, lease, { op: 'update-range', before: current, after: doc, update });
    return toRecord(doc, ctx);
  });
}

/**
 * An updated range's `updatedAt`: `now`, or a millisecond after the stored one if `now` is not later. The
 * structural journal takes a stored range whose `updatedAt` equals the change's as already updated
 * (lib/space/structural.ts `update-range`), so two updates within one millisecond must not share it.
 */
function laterThan(stored: string, now: string): string {
  return now > stored ? now : new Date(Date.parse(stored) + 1).toISOString();
}

export const getRange = (ctx: Context, selector: unknown): Promise<RangeRecord> => getSpaceRecord<RangeDoc>(ctx, 'ranges', selector);
export const listRanges = (ctx: Context, filter: Filter): Promise<RangeRecord[]> => listSpaceRecords<RangeDoc>(ctx, 'ranges', filter);

/** Deletes a range; its addresses stay and move to the next matching range, or become unmapped. */
export async function deleteRange(ctx: Context, selector: unknown): Promise<{ deleted: RangeRecord }> {
  return withSpaceRecord<RangeDoc, { deleted: RangeRecord }>(ctx, 'ranges', selector, async (range, lease) => {
    await applyStructural(ctx, range.addressSpace, lease, { op: 'delete-range', range });
    return { deleted: toRecord(range, ctx) };
  });
}

export function getRangeDoc(ctx: Context, selector: unknown): Promise<RangeDoc> {
  return findBySelector<RangeDoc>(ctx, 'ranges', selector);
}

export function reservedServiceError(managedByService: string): IpamError {
  return new IpamError(
    'RESERVED_VALUE',
    `managedByService ${show(managedByService)}: is reserved for ranges discovered from DHCP servers; use IPAM or a custom value`,
    { field: 'managedByService', value: managedByService },
  );
}

export interface RangeDraft {
  bounds: Bounds;
  /** The record's own fields, before mapping gives it a block and an id. */
  values: Record<string, unknown>;
}

async function buildRange(ctx: Context, fields: Record<string, unknown>, options: RangeWriteOptions): Promise<RangeDraft> {
  const bounds = resolveBounds(fields, 'usable');
  const managedByService = canonicalValue('ranges', 'managedByService', fields.managedByService);
  if (isReservedRangeService(managedByService) && !options.allowReservedService) throw reservedServiceError(managedByService);
  const serviceInstance = canonicalValue('ranges', 'serviceInstance', fields.serviceInstance);
  const assignmentType = canonicalValue('ranges', 'assignmentType', fields.assignmentType);
  const exclusions = checkExclusions(bounds, fields.exclusions as Exclusion[] | undefined);
  const customFields = await checkCustomFields(ctx, 'ranges', fields.customFields);
  return {
    bounds,
    values: {
      ...boundsFields(bounds),
      managedByService,
      serviceInstance,
      assignmentType,
      ...(fields.description ? { description: fields.description as string } : {}),
      ...(exclusions ? { exclusions } : {}),
      ...(customFields ? { customFields } : {}),
    },
  };
}

/** Maps the draft to its block and refuses overlap with the block's other ranges. Call under the lock. */
async function placeRange(ctx: Context, draft: RangeDraft, id: string, createdAt: string): Promise<RangeDoc> {
  const { bounds } = draft;
  const blockId = await mostSpecificBlockId(ctx, bounds);
  const clash = await ctx.store.collection<RangeDoc>('ranges').findOne({
    addressSpace: bounds.addressSpace,
    blockId,
    id: { $ne: id },
    ...overlapping(bounds, await startFloor(ctx, 'ranges', bounds)),
  });
  if (clash) {
    throw new IpamError(
      'OVERLAP',
      `range ${bounds.startAddress}-${bounds.endAddress}: overlaps range ${clash.network} (${clash.startAddress}-${clash.endAddress}) in the same block`,
      { field: 'network', value: bounds.network.cidr },
    );
  }
  return {
    id,
    ...draft.values,
    blockId,
    key: `${bounds.startKey}|${bounds.endKey}`,
    spanKey: spanKey(bounds),
    startKey: bounds.startKey,
    endKey: bounds.endKey,
    freeHint: bounds.startKey,
    hintVersion: 0,
    createdAt,
    updatedAt: nowIso(),
  } as RangeDoc;
}

/** Exclusions (addresses a DHCP server will not lease) must lie inside the range. */
function checkExclusions(bounds: Bounds, exclusions: Exclusion[] | undefined): Exclusion[] | undefined {
  if (!exclusions || exclusions.length === 0) return undefined;
  return exclusions.map((exclusion, index) => {
    const field = `exclusions.${index}`;
    const first = parseAddress(exclusion.startAddress, `${field}.startAddress`);
    const last = parseAddress(exclusion.endAddress, `${field}.endAddress`);
    const interval: Interval = { first: first.value, last: last.value };
    if (first.family !== bounds.family || interval.first > interval.last || !contains(bounds, interval)) {
      throw new IpamError('OUT_OF_RANGE', `${field} ${show(exclusion)}: must be an interval inside the range ${bounds.startAddress}-${bounds.endAddress}`, {
        field,
        value: exclusion,
      });
    }
    return { startAddress: first.text, endAddress: last.text };
  });
}

/** The input fields of a stored range, so that an update can re-validate the whole record. */
function storedInput(range: RangeDoc): Record<string, unknown> {
  const { network, startAddress, endAddress, managedByService, serviceInstance, assignmentType, addressSpace } = range;
  return {
    network,
    startAddress,
    endAddress,
    managedByService,
    serviceInstance,
    assignmentType,
    addressSpace,
    ...(range.description ? { description: range.description } : {}),
    ...(range.exclusions ? { exclusions: range.exclusions } : {}),
    ...(range.customFields ? { customFields: range.customFields } : {}),
  };
}
