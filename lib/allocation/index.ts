export { allocate, findAvailable } from './allocate';
export type { AllocatedRecord } from './allocate';
export { refreshHint, refreshHints } from './hint';
export { confirm, expireHolds } from './holds';
export type { HoldExpiredEvent } from './holds';
export { release } from './release';
export { allocateSubnet } from './subnets';
export { prepareAllocation } from './prepare';
