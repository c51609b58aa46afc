/**
 * Row checks that write nothing, used to validate a whole file before anything is written (all-or-nothing,
 * dry run) and to compare file rows with stored ranges (import-and-update). They apply the same field
 * rules as addBlock/addRange; the writes themselves still go through those functions, which re-check
 * everything, including overlaps.
 */
import { isPrivate, parseAddress } from '../address';
import { checkCustomFields } from '../custom-fields';
import { ASSIGNMENT_TYPES, RIRS, SERVICES, canonicalOf, canonicalOrCustom, isReservedRangeService } from '../enums';
import { IpamError, invalid, show } from '../errors';
import { checkInput, type Exclusion } from '../records';
import { resolveBounds, type Bounds, type Context } from '../space';

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

const RANGE_DEFAULTS = { managedByService: 'IPAM', serviceInstance: 'Localhost', assignmentType: 'Static' };

export async function checkRange(ctx: Context, input: unknown): Promise<CheckedRange> {
  const fields = checkInput('ranges', input);
  const bounds = resolveBounds(fields, 'usable');
  const managedByService = canonicalOrCustom('managedByService', fields.managedByService ?? RANGE_DEFAULTS.managedByService, SERVICES);
  if (isReservedRangeService(managedByService)) throw reservedService(managedByService);
  const values: RangeValues = {
    addressSpace: bounds.addressSpace,
    network: bounds.network.cidr,
    startAddress: bounds.startAddress,
    endAddress: bounds.endAddress,
    managedByService,
    serviceInstance: canonicalOrCustom('serviceInstance', fields.serviceInstance ?? RANGE_DEFAULTS.serviceInstance, []),
    assignmentType: canonicalOf('assignmentType', fields.assignmentType ?? RANGE_DEFAULTS.assignmentType, ASSIGNMENT_TYPES),
  };
  if (fields.description) values.description = fields.description as string;
  const exclusions = (fields.exclusions as Exclusion[] | undefined)?.map((e, i) => ({
    startAddress: parseAddress(e.startAddress, `exclusions.${i}.startAddress`).text,
    endAddress: parseAddress(e.endAddress, `exclusions.${i}.endAddress`).text,
  }));
  if (exclusions && exclusions.length > 0) values.exclusions = exclusions;
  const customFields = await checkCustomFields(ctx, 'ranges', fields.customFields);
  if (customFields) values.customFields = customFields;
  return { bounds, key: `${bounds.startKey}|${bounds.endKey}`, values };
}

export function reservedService(managedByService: string): IpamError {
  return new IpamError(
    'RESERVED_VALUE',
    `managedByService ${show(managedByService)}: is reserved for ranges discovered from DHCP servers; use IPAM or a custom value`,
    { field: 'managedByService', value: managedByService },
  );
}

export async function checkBlock(ctx: Context, input: unknown): Promise<{ bounds: Bounds; key: string }> {
  const fields = checkInput('blocks', input);
  const bounds = resolveBounds(fields, 'whole');
  const privateBlock = isPrivate(bounds.family, bounds);
  if (fields.rir === undefined && bounds.family === 4 && !privateBlock) {
    throw invalid('rir', '', `is required for public IPv4 block ${bounds.network.cidr} (one of ${RIRS.join(', ')})`);
  }
  if (fields.rir !== undefined) {
    if (privateBlock) throw invalid('rir', fields.rir, `is not allowed on private block ${bounds.network.cidr}`);
    canonicalOf('rir', fields.rir, RIRS);
  }
  await checkCustomFields(ctx, 'blocks', fields.customFields);
  return { bounds, key: `${bounds.startKey}|${bounds.endKey}` };
}
