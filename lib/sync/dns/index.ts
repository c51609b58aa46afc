export { DnsUpdateClient, query, queryPtr } from './client';
export { qualify, reverseZoneFor } from './codec';
export type { DnsServer } from './transport';
export type { TsigAlgorithm, TsigKey } from './tsig';
