export { checkExpiry, lastExpiryRun } from './expiry';
export type { ExpiryEvent, ExpiryReport } from './expiry';
export { encodeCursor, listInventory } from './inventory';
export type { InventoryPage } from './inventory';
export { applyDefinitions, defineRangeGroup, groupUtilization, listRangeGroups, rangeGroupRows } from './range-groups';
