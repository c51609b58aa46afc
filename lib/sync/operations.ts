/**
 * The operations of the ipam-sync node, each one call: lease import, Kea scope discovery, DHCP
 * reservations and DNS records. Every one returns a SyncResult.
 */
import type { Context } from '../record';
import { discoverScopes } from './discover';
import { importLeases } from './import-leases';
import {
  createDhcpReservation,
  createDnsHost,
  createDnsPtr,
  deleteDhcpReservation,
  deleteDnsHost,
  deleteDnsPtr,
} from './push';
import type { SyncRequest, SyncResult } from './result';

export type SyncOperation = (ctx: Context, request: SyncRequest) => Promise<SyncResult>;

export const SYNC_OPERATIONS: Record<string, SyncOperation> = {
  'import-leases': importLeases,
  'discover-scopes': discoverScopes,
  'create-dhcp-reservation': createDhcpReservation,
  'delete-dhcp-reservation': deleteDhcpReservation,
  'create-dns-host': createDnsHost,
  'create-dns-ptr': createDnsPtr,
  'delete-dns-host': deleteDnsHost,
  'delete-dns-ptr': deleteDnsPtr,
};

/** Operations that make sense on a schedule (they need no addresses from a message). */
export const SCHEDULABLE = ['import-leases', 'discover-scopes'];

export type { SyncRequest, SyncResult, SyncError, KeaSettings, DnsSettings } from './result';
export { importLeases, discoverScopes, createDhcpReservation, deleteDhcpReservation };
export { createDnsHost, createDnsPtr, deleteDnsHost, deleteDnsPtr };
