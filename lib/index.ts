export * from './address/math';
export * from './errors';
export { Ipam, operationsOf, type NodeKind, type Operation } from './ipam';
export type { StoreConfig } from './store';
export type { BlockRecord, RangeRecord, AddressRecord } from './record/records';
