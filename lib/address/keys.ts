/**
 * Store keys: `<addressSpace>|<family>|<fixed-width hex>`. Within one space and family, string order is
 * numeric order, so interval queries are plain `$gte`/`$lte` on one indexed field.
 */
import { fromHex, toHex, maxValue, type Family, type Interval } from './math';
import { invalid } from '../errors';

export const DEFAULT_SPACE = 'Default';

/** `|` separates key parts, so a space name must not contain it (nor control characters). */
export function checkAddressSpace(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_SPACE;
  if (typeof value !== 'string' || !/^[^|\u0000-\u001f]{1,64}$/.test(value.trim())) {
    throw invalid('addressSpace', value, 'must be 1 to 64 characters without "|"');
  }
  return value.trim();
}

export function addressKey(space: string, family: Family, value: bigint): string {
  return `${space}|${family}|${toHex(family, value)}`;
}

export function intervalKeys(space: string, family: Family, interval: Interval): { startKey: string; endKey: string } {
  return { startKey: addressKey(space, family, interval.first), endKey: addressKey(space, family, interval.last) };
}

/** Bounds of every key of one space and family. */
export function familyKeyBounds(space: string, family: Family): { $gte: string; $lte: string } {
  return { $gte: addressKey(space, family, 0n), $lte: addressKey(space, family, maxValue(family)) };
}

/** The address value a key ends with. */
export function keyValue(key: string): bigint {
  return fromHex(key.slice(key.lastIndexOf('|') + 1));
}

export function requestKey(space: string, requestId: string, index = 0): string {
  return index === 0 ? `${space}|${requestId}` : `${space}|${requestId}|${index}`;
}
