/**
 * What every ipam-sync operation takes and returns, and the small helpers they share.
 */
import type { TsigAlgorithm } from './dns';
import { IpamError, show } from '../errors';

export type LeaseSourceKind = 'kea' | 'isc' | 'dnsmasq';

/** Kea Control Agent settings of an ipam-sync node (user and password are Node-RED credentials). */
export interface KeaSettings {
  /** Control Agent URL, e.g. `http://kea.example.net:8000/`. */
  url: string;
  user?: string;
  password?: string;
  timeoutMs?: number;
  /** serviceInstance written on ranges and addresses; default the URL's host:port. */
  serverName?: string;
  /** Also use the DHCPv6 server (`service: ["dhcp6"]`). Default false: DHCPv4 only. */
  dhcp6?: boolean;
}

/** DNS settings of an ipam-sync node (the TSIG secret is a Node-RED credential). */
export interface DnsSettings {
  /** Default primary server, `host`, `host:port` or `[v6]:port`; a record's forwardPrimaryServer / reversePrimaryServer wins. */
  server?: string;
  keyName?: string;
  secret?: string;
  algorithm?: TsigAlgorithm;
  ttl?: number;
  timeoutMs?: number;
}

export interface SyncRequest {
  /** import-leases: where the leases come from. */
  source?: LeaseSourceKind;
  kea?: KeaSettings;
  /** isc / dnsmasq: path of the leases file... */
  file?: string;
  /** ...or its content. */
  text?: string;
  /** isc / dnsmasq: serviceInstance of imported addresses (default `ISC dhcpd` / `dnsmasq`). */
  serviceInstance?: string;
  addressSpace?: string;
  /** Reservation and DNS operations: addresses (text or records) or ids. */
  addresses?: unknown[];
  ids?: unknown[];
  /** Alternatively what an incoming message carries: one record, an array, or `{addresses, ids, addressSpace}`. */
  selection?: unknown;
  dns?: DnsSettings;
  /** The time leases are judged against (tests); default now. */
  now?: Date | string;
  /** Called as work proceeds (for the node's status). */
  onProgress?: (done: number, total: number) => void;
}

export interface SyncError {
  /** Line of a lease file, or position of a Kea lease. */
  line?: number;
  address?: string;
  id?: string;
  subnet?: string;
  code?: string;
  field?: string;
  message: string;
}

export interface SyncResult {
  operation: string;
  /** `kea`, `isc`, `dnsmasq` or `dns`. */
  source: string;
  /** The serviceInstance (Kea server, lease file instance) or DNS server used. */
  server?: string;
  processed: number;
  created: number;
  updated: number;
  unchanged: number;
  /** Records removed or marked Inactive because the server no longer has them. */
  deleted: number;
  /** Records at a leased or reserved address that belong to someone else and were left alone. */
  skipped: number;
  failed: number;
  errors: SyncError[];
}

export function emptyResult(operation: string, source: string, server?: string): SyncResult {
  return {
    operation,
    source,
    ...(server !== undefined ? { server } : {}),
    processed: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    deleted: 0,
    skipped: 0,
    failed: 0,
    errors: [],
  };
}

export function errorOf(err: unknown, where: Omit<SyncError, 'message' | 'code' | 'field'> = {}): SyncError {
  const error: SyncError = { ...where, message: err instanceof Error ? err.message : String(err) };
  if (err instanceof IpamError) {
    error.code = err.code;
    if (err.field !== undefined) error.field = err.field;
  }
  return error;
}

export function syncFailed(message: string, field?: string, value?: unknown): IpamError {
  return new IpamError('SYNC_FAILED', message, { field, value });
}

/** Deep equality of JSON-like values (record fields), key order ignored. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Fields of `wanted` whose value differs from `current`. */
export function changedFields(current: Record<string, unknown>, wanted: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(wanted).filter(([field, value]) => !sameValue(current[field], value)));
}

export { show };
