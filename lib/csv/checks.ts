/**
 * Row checks that write nothing, used to validate a whole file before anything is written (all-or-nothing,
 * dry run) and to compare file rows with stored ranges (import-and-update). They apply the same field
 * rules as addBlock/addRange; the writes themselves still go through those functions, which re-check
 * everything, including overlaps.
 */
import { isPrivate } from '../address';
import { checkRir, prepareRange, reservedServiceError, resolveBounds, type Bounds } from '../space';
import { checkCustomFields, checkInput, type Exclusion, type Context } from '../record';

export interface CheckedRange {
  bounds: Bounds;
  /** The unique store key of a range with these bounds. */
  key: string;
  /** The record's user fields, canonical, as addRange/updateRange take them. */
  values: RangeValues;
}

export interface RangeValues {
  addressSpace: string;
  network: string;
  startAddress: string;
  endAddress: string;
  managedByService: string;
  serviceInstance: string;
  assignmentType: string;
  description?: string;
  exclusions?: Exclusion[];
  customFields?: Record<string, string | string[]>;
  [field: string]: unknown;
}

/** A range row checked by the very rules addRange applies (prepareRange), writing nothing. */
export async function checkRange(ctx: Context, input: unknown): Promise<CheckedRange> {
  const { bounds, values } = await prepareRange(ctx, input);
  const { family: _family, prefixLength: _prefixLength, ...own } = values;
  return { bounds, key: `${bounds.startKey}|${bounds.endKey}`, values: own as RangeValues };
}

export const reservedService = reservedServiceError;

/** A block row checked by addBlock's rules (bounds, RIR, custom fields), writing nothing. */
export async function checkBlock(ctx: Context, input: unknown): Promise<{ bounds: Bounds; key: string }> {
  const fields = checkInput('blocks', input);
  const bounds = resolveBounds(fields, 'whole');
  checkRir(bounds, isPrivate(bounds.family, bounds), fields.rir);
  await checkCustomFields(ctx, 'blocks', fields.customFields);
  return { bounds, key: `${bounds.startKey}|${bounds.endKey}` };
}
