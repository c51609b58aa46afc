export { query } from './dns/client';
export type { TsigAlgorithm } from './dns/tsig';
export { SCHEDULABLE, SYNC_OPERATIONS } from './operations';
export type { SyncRequest, SyncResult } from './operations';
