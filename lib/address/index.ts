export * from './math';
export { addressKey, checkAddressSpace, familyKeyBounds, intervalKeys, keyValue, requestKey } from './keys';
export { activeProbes, normaliseChecks, probe } from './probes';
export type { AvailabilityChecks, CheckName } from './probes';
