/** The store context every service call takes: the store and the ipam-config settings that shape records. */
import type { AvailabilityChecks } from '../address';
import type { Store } from '../store';
import type { HistoryScope } from './history';

export interface Context {
  store: Store;
  /** Ping and PTR availability checks for allocation; absent = both off. */
  checks?: AvailabilityChecks;
  /** Days before expiryDate at which an address becomes Expiry Due (ipam-config); absent = 10. */
  expiryThresholdDays?: number;
  /** Days of history kept (ipam-config); absent = unlimited. */
  historyRetentionDays?: number;
  /** Who makes this call's changes and what it does, for their history entries (record/history.ts). */
  history?: HistoryScope;
}
