export {
  familyBits,
  parseAddress,
  parseNetwork,
  networkOf,
  formatAddress,
  parseMac,
  reverseName,
  toHex,
  fromHex,
  maxValue,
  usableBounds,
  isPrivate,
  contains,
  overlaps,
  sizeOf,
  jsonCount,
  unionSize,
  firstFreeSubnet,
  type Family,
  type Address,
  type Network,
  type Interval,
} from './address';
export * from './errors';
export { Ipam, operationsOf, type NodeKind, type Operation } from './ipam';
export type { StoreConfig } from './store';
export type { BlockRecord, RangeRecord, AddressRecord } from './record';
