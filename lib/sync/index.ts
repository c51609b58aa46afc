export { query, type TsigAlgorithm } from './dns';
export { SCHEDULABLE, SYNC_OPERATIONS } from './operations';
export type { SyncRequest, SyncResult } from './operations';
