/**
 * Pushing address records to servers: DHCP reservations on Kea and DNS host/PTR records by RFC 2136.
 * Each address is tried on its own and its outcome stored on the record (`dhcpReservation.syncStatus`,
 * `dns.hostSyncStatus` / `dns.ptrSyncStatus` and `syncMessage`); nothing else on the record changes.
 * When every address failed, the operation fails with the first address's error. A server that does not
 * answer costs one timeout per run: the addresses after it fail at once, their status saying why
 * (lib/sync/reachability.ts). Kea is checked up front by the config-get that finds its subnets.
 */
import { parseAddress, reverseName, checkAddressSpace } from '../address';
import { getAddressDoc, updateAddress, type AddressDoc } from '../space';
import { IpamError, invalid, show } from '../errors';
import type { Context } from '../record';
import { DnsUpdateClient, qualify, reverseZoneFor, type DnsServer, type TsigKey } from './dns';
import { keaClientOf, keaInstance, type KeaClient, type KeaScope } from './kea';
import { DownServers } from './reachability';
import { emptyResult, errorOf, type DnsSettings, type KeaSettings, type SyncRequest, type SyncResult } from './result';

export type SyncStatus = 'Create Success' | 'Create Failed' | 'Delete Success' | 'Delete Failed';

interface Outcome {
  /** Success text for `syncMessage`. */
  message: string;
}

interface Target {
  doc?: AddressDoc;
  label: string;
  error?: unknown;
}

/* ------------------------------------------------------------------ selection */

/**
 * The addresses a request names: `{addresses: [...]}` (address text or records), `{ids: [...]}`, an
 * array, or one record (e.g. what ipam-allocate sends on).
 */
export function selectionOf(payload: unknown): { items: Record<string, unknown>[]; addressSpace?: string } {
  if (Array.isArray(payload)) return { items: payload.map((item) => itemOf(item, 'address')) };
  if (typeof payload === 'string' && payload.trim() !== '') return { items: [{ address: payload.trim() }] };
  if (!payload || typeof payload !== 'object') throw invalid('addresses', payload, 'give the addresses (or ids) to synchronise');
  const input = payload as Record<string, unknown>;
  const addressSpace = typeof input.addressSpace === 'string' ? input.addressSpace : undefined;
  const items: Record<string, unknown>[] = [];
  if (input.addresses !== undefined || input.ids !== undefined) {
    for (const [field, kind] of [['addresses', 'address'], ['ids', 'id']] as const) {
      const list = input[field];
      if (list === undefined) continue;
      if (!Array.isArray(list)) throw invalid(field, list, 'must be an array');
      items.push(...list.map((item) => itemOf(item, kind)));
    }
  } else if (input.id !== undefined || input.address !== undefined) {
    items.push(itemOf(input, 'address'));
  }
  if (items.length === 0) throw invalid('addresses', input.addresses, 'give the addresses (or ids) to synchronise');
  return { items, addressSpace };
}

function itemOf(item: unknown, kind: 'address' | 'id'): Record<string, unknown> {
  if (typeof item === 'string') return { [kind]: item };
  if (item && typeof item === 'object' && !Array.isArray(item)) {
    const record = item as Record<string, unknown>;
    if (typeof record.id === 'string' && record.id !== '') return { id: record.id };
    return { address: record.address, addressSpace: record.addressSpace };
  }
  throw invalid(kind === 'id' ? 'ids' : 'addresses', item, 'each entry must be an address, an id or a record');
}

async function loadTargets(ctx: Context, request: SyncRequest): Promise<Target[]> {
  const { items, addressSpace } = selectionOf(request.selection ?? request);
  const space = addressSpace ?? request.addressSpace;
  const targets: Target[] = [];
  for (const item of items) {
    const label = String(item.address ?? item.id);
    try {
      const selector = item.id ? item : { ...item, addressSpace: item.addressSpace ?? checkAddressSpace(space) };
      targets.push({ doc: await getAddressDoc(ctx, selector), label });
    } catch (err) {
      targets.push({ label, error: err });
    }
  }
  return targets;
}

/* ------------------------------------------------------------------ running */

type Act = (doc: AddressDoc) => Promise<Outcome>;

async function pushEach(
  ctx: Context,
  request: SyncRequest,
  result: SyncResult,
  statusOf: (doc: AddressDoc, status: SyncStatus, message: string) => Record<string, unknown>,
  verb: 'Create' | 'Delete',
  prepare: (targets: Target[], servers: DownServers) => Promise<Act>,
): Promise<SyncResult> {
  const targets = await loadTargets(ctx, request);
  let act: Act;
  try {
    act = await prepare(targets, new DownServers());
  } catch (err) {
    // The server could not be reached or refused us: every address fails with the server's reason.
    act = () => Promise.reject(err);
  }
  let firstError: unknown;
  for (const [index, target] of targets.entries()) {
    result.processed++;
    let failure = target.error;
    if (target.doc) {
      const doc = target.doc;
      try {
        const outcome = await act(doc);
        await storeStatus(ctx, doc, statusOf(doc, `${verb} Success`, outcome.message));
        if (verb === 'Create') result.created++;
        else result.deleted++;
      } catch (err) {
        failure = err;
        await storeStatus(ctx, doc, statusOf(doc, `${verb} Failed`, messageOf(err))).catch((storeErr: unknown) => {
          failure = storeErr;
        });
      }
    }
    if (failure !== undefined) {
      firstError ??= failure;
      result.failed++;
      result.errors.push(errorOf(failure, { address: target.doc?.address ?? target.label, ...(target.doc ? { id: target.doc.id } : {}) }));
    }
    request.onProgress?.(index + 1, targets.length);
  }
  if (targets.length > 0 && result.failed === targets.length) throw firstError;
  return result;
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1024);
}

/** Writes only the status object through the addresses module (so the record is re-validated). */
async function storeStatus(ctx: Context, doc: AddressDoc, changes: Record<string, unknown>): Promise<void> {
  await updateAddress(ctx, { id: doc.id }, changes);
}

/* ------------------------------------------------------------------ DHCP reservations */

function keaParts(request: SyncRequest): { client: KeaClient; instance: string; settings: KeaSettings } {
  const settings = (request.kea ?? {}) as KeaSettings;
  return { client: keaClientOf(request.kea), instance: keaInstance(settings), settings };
}

function scopeFor(scopes: KeaScope[], address: string, client: string): KeaScope {
  const value = parseAddress(address).value;
  const scope = scopes.find((s) => {
    const [network, prefix] = s.subnet.split('/');
    const parsed = parseAddress(network);
    const size = 1n << BigInt((parsed.family === 4 ? 32 : 128) - Number(prefix));
    return parsed.family === parseAddress(address).family && parsed.value <= value && value < parsed.value + size;
  });
  if (!scope) {
    throw new IpamError('SYNC_FAILED', `Kea ${client} has no subnet containing ${address}`, { field: 'address', value: address });
  }
  return scope;
}

function reservationStatus(instance: string, scopes: () => KeaScope[]) {
  return (doc: AddressDoc, syncStatus: SyncStatus, syncMessage: string): Record<string, unknown> => {
    const scope = scopes().find((s) => scopeContains(s, doc.address));
    return {
      dhcpReservation: {
        type: 'DHCP',
        name: doc.deviceName ?? doc.address,
        ...(doc.dhcpReservation ?? {}),
        serverName: instance,
        ...(scope ? { scopeName: scope.subnet } : {}),
        syncStatus,
        syncMessage,
      },
    };
  };
}

function scopeContains(scope: KeaScope, address: string): boolean {
  try {
    scopeFor([scope], address, '');
    return true;
  } catch {
    return false;
  }
}

function identityOf(reservation: { hwAddress?: string; duid?: string } | undefined): string | undefined {
  return reservation?.hwAddress ?? reservation?.duid;
}

interface KeaPush {
  client: KeaClient;
  instance: string;
  servers: DownServers;
  /** The Kea subnets of the targets' families, read once per run. */
  scopes: KeaScope[];
}

/** A reservation run: one discovery of the Kea subnets for every target, then `each` per address. */
async function pushReservations(
  ctx: Context,
  request: SyncRequest,
  operation: 'create-dhcp-reservation' | 'delete-dhcp-reservation',
  each: (doc: AddressDoc, kea: KeaPush) => Promise<Outcome>,
): Promise<SyncResult> {
  const { client, instance, settings } = keaParts(request);
  const result = emptyResult(operation, 'kea', instance);
  let scopes: KeaScope[] = [];
  const verb = operation === 'create-dhcp-reservation' ? 'Create' : 'Delete';
  return pushEach(ctx, request, result, reservationStatus(instance, () => scopes), verb, async (targets, servers) => {
    scopes = await discoverFor(client, targets, settings);
    return (doc) => each(doc, { client, instance, servers, scopes });
  });
}

export async function createDhcpReservation(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  return pushReservations(ctx, request, 'create-dhcp-reservation', async (doc, { client, instance, servers, scopes }) => {
    const scope = scopeFor(scopes, doc.address, instance);
    const previous = scope.reservations.find((r) => r.address === doc.address);
    const hostname = doc.deviceName;
    let identity: string;
    if (doc.family === 4) {
      if (!doc.macAddress) {
        throw invalid('macAddress', doc.macAddress, `address ${doc.address} needs a MAC address for a DHCPv4 reservation`);
      }
      identity = doc.macAddress;
      const hwAddress = doc.macAddress;
      await servers.call(instance, () => client.upsertReservation4({ subnetId: scope.id, ipAddress: doc.address, hwAddress, hostname }));
    } else {
      if (!doc.duid && !doc.macAddress) {
        throw invalid('duid', doc.duid, `address ${doc.address} needs a DUID (or a MAC address) for a DHCPv6 reservation`);
      }
      identity = doc.duid ?? (doc.macAddress as string);
      const reservation = { subnetId: scope.id, ipAddress: doc.address, duid: doc.duid, hwAddress: doc.macAddress, hostname };
      await servers.call(instance, () => client.upsertReservation6(reservation));
    }
    const replaced = previous && identityOf(previous) !== identity ? `; replaced the reservation for ${identityOf(previous)}` : '';
    return { message: `reserved for ${identity} in Kea subnet ${scope.id} (${scope.subnet})${replaced}` };
  });
}

export async function deleteDhcpReservation(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  return pushReservations(ctx, request, 'delete-dhcp-reservation', async (doc, { client, instance, servers }) => {
    const remove = () => (doc.family === 4 ? client.deleteReservation4(doc.address) : client.deleteReservation6(doc.address));
    const removed = await servers.call(instance, remove);
    return { message: removed ? `reservation removed from Kea ${instance}` : `Kea ${instance} had no reservation for ${doc.address}` };
  });
}

/** One config-get per DHCP service needed: it finds the subnets and proves the server answers. */
async function discoverFor(client: KeaClient, targets: Target[], settings: KeaSettings): Promise<KeaScope[]> {
  const families = new Set(targets.filter((t) => t.doc).map((t) => (t.doc as AddressDoc).family));
  const scopes: KeaScope[] = [];
  if (families.has(4)) scopes.push(...(await client.discover('dhcp4')));
  if (families.has(6)) {
    if (!settings.dhcp6) {
      throw invalid('kea.dhcp6', settings.dhcp6, 'IPv6 addresses need the DHCPv6 server: turn on DHCPv6 on the node');
    }
    scopes.push(...(await client.discover('dhcp6')));
  }
  return scopes;
}

/* ------------------------------------------------------------------ DNS */

/** `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 address is a host. */
export function parseServer(text: string, field: string, timeoutMs?: number): DnsServer {
  const value = text.trim();
  let host = value;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const hostPort = /^([^:]+):(\d+)$/.exec(value);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (hostPort) {
    host = hostPort[1];
    port = Number(hostPort[2]);
  }
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(field, text, 'must be host, host:port or [IPv6]:port');
  }
  return { host, port, ...(timeoutMs ? { timeoutMs } : {}) };
}

function tsigKeyOf(settings: DnsSettings): TsigKey | undefined {
  if (!settings.keyName) return undefined;
  if (!settings.secret) throw invalid('secret', '', `TSIG key ${show(settings.keyName)} needs its secret (a credential of the node)`);
  return { name: settings.keyName, secret: settings.secret, algorithm: settings.algorithm ?? 'hmac-sha256' };
}

type DnsKind = 'host' | 'ptr';

function dnsServerFor(doc: AddressDoc, kind: DnsKind, settings: DnsSettings): DnsServer {
  const field = kind === 'host' ? 'forwardPrimaryServer' : 'reversePrimaryServer';
  const own = doc.dns?.[field];
  if (typeof own === 'string' && own.trim() !== '') return parseServer(own, `dns.${field}`, settings.timeoutMs);
  if (settings.server && settings.server.trim() !== '') return parseServer(settings.server, 'dns.server', settings.timeoutMs);
  throw invalid(`dns.${field}`, own, `address ${doc.address} has no DNS server: set it on the record or on the node`);
}

function requireText(doc: AddressDoc, field: string, value: unknown, why: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, value, `address ${doc.address} ${why}`);
  return value.trim();
}

function forwardZoneOf(doc: AddressDoc): string {
  return requireText(doc, 'dns.forwardZone', doc.dns?.forwardZone, 'needs dns.forwardZone for a host record');
}

function reverseZoneOf(doc: AddressDoc): string {
  const zone = requireText(doc, 'dns.reverseZone', doc.dns?.reverseZone, 'needs dns.reverseZone for a PTR record');
  if (!reverseZoneFor(doc.address, [zone])) {
    throw invalid('dns.reverseZone', zone, `does not contain ${doc.address} (${reverseName(doc.address)})`);
  }
  return zone;
}

/** The PTR target: deviceName in the forward zone, or deviceName itself when it is fully qualified. */
function ptrTarget(doc: AddressDoc): string {
  const name = requireText(doc, 'deviceName', doc.deviceName, 'needs a deviceName for a PTR record');
  const zone = doc.dns?.forwardZone;
  if (typeof zone === 'string' && zone.trim() !== '') return qualify(name, zone);
  if (!name.replace(/\.$/, '').includes('.')) {
    throw invalid('deviceName', name, `is not fully qualified: give address ${doc.address} a dns.forwardZone`);
  }
  return name.replace(/\.$/, '').toLowerCase();
}

function dnsStatus(kind: DnsKind) {
  const field = kind === 'host' ? 'hostSyncStatus' : 'ptrSyncStatus';
  return (doc: AddressDoc, status: SyncStatus, syncMessage: string): Record<string, unknown> => ({
    dns: { ...(doc.dns ?? {}), [field]: status, syncMessage },
  });
}

/** A DNS client whose updates go through the run's DownServers (its record checks come first). */
class GuardedDnsClient extends DnsUpdateClient {
  constructor(
    options: ConstructorParameters<typeof DnsUpdateClient>[0],
    private readonly gate: (work: () => Promise<void>) => Promise<void>,
  ) {
    super(options);
  }

  override update(zone: string, changes: Parameters<DnsUpdateClient['update']>[1]): Promise<void> {
    return this.gate(() => super.update(zone, changes));
  }
}

function describeServer(server: DnsServer): string {
  return `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port ?? 53}`;
}

async function runDns(
  ctx: Context,
  request: SyncRequest,
  operation: string,
  kind: DnsKind,
  verb: 'Create' | 'Delete',
  act: (client: DnsUpdateClient, doc: AddressDoc, server: DnsServer, ttl?: number) => Promise<string>,
): Promise<SyncResult> {
  const settings = request.dns ?? {};
  const result = emptyResult(operation, 'dns', settings.server || undefined);
  return pushEach(ctx, request, result, dnsStatus(kind), verb, async (_targets, servers) => {
    const key = tsigKeyOf(settings);
    return async (doc) => {
      const server = dnsServerFor(doc, kind, settings);
      const client = new GuardedDnsClient({ ...server, key }, (work) => servers.call(describeServer(server), work));
      return { message: await act(client, doc, server, settings.ttl) };
    };
  });
}

export function createDnsHost(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  return runDns(ctx, request, 'create-dns-host', 'host', 'Create', async (client, doc, server, ttl) => {
    const zone = forwardZoneOf(doc);
    const name = requireText(doc, 'deviceName', doc.deviceName, 'needs a deviceName for a host record');
    await client.addHost({ name, zone, address: doc.address, ttl });
    const type = doc.family === 4 ? 'A' : 'AAAA';
    return `${type} ${qualify(name, zone)} -> ${doc.address} added on ${describeServer(server)}`;
  });
}

export function deleteDnsHost(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  return runDns(ctx, request, 'delete-dns-host', 'host', 'Delete', async (client, doc, server) => {
    const zone = forwardZoneOf(doc);
    const name = requireText(doc, 'deviceName', doc.deviceName, 'needs a deviceName to find its host record');
    await client.deleteHost({ name, zone, address: doc.address });
    const type = doc.family === 4 ? 'A' : 'AAAA';
    return `${type} ${qualify(name, zone)} -> ${doc.address} deleted on ${describeServer(server)}`;
  });
}

export function createDnsPtr(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  return runDns(ctx, request, 'create-dns-ptr', 'ptr', 'Create', async (client, doc, server, ttl) => {
    const zone = reverseZoneOf(doc);
    const hostname = ptrTarget(doc);
    await client.addPtr({ address: doc.address, zone, hostname, ttl });
    return `PTR ${reverseName(doc.address)} -> ${hostname} added on ${describeServer(server)}`;
  });
}

export function deleteDnsPtr(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  return runDns(ctx, request, 'delete-dns-ptr', 'ptr', 'Delete', async (client, doc, server) => {
    const zone = reverseZoneOf(doc);
    await client.deletePtr({ address: doc.address, zone });
    return `PTR records of ${reverseName(doc.address)} deleted on ${describeServer(server)}`;
  });
}

