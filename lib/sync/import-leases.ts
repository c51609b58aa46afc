/**
 * import-leases: each active lease of a DHCP server creates or updates a Dynamic address of that
 * server (service + instance); Dynamic addresses of the same server whose lease has gone become
 * Inactive. Unchanged addresses are not written. Reads go to the store in key batches.
 */
import fs from 'node:fs/promises';
import { parseAddress, addressKey, checkAddressSpace } from '../address';
import { buildAddress, insertAddress, updateAddress, type AddressDoc } from '../space';
import { KEA_SERVICE, type Context } from '../record';
import { invalid } from '../errors';
import { keaClientOf, keaInstance } from './kea';
import { parseDnsmasqLeases, parseIscLeases, type Lease, type ParsedLeases } from './leases';
import {
  changedFields,
  emptyResult,
  errorOf,
  syncFailed,
  type KeaSettings,
  type LeaseSourceKind,
  type SyncRequest,
  type SyncResult,
} from './result';

export const NON_MS_SERVICE = 'Non-MS DHCP';
const DEFAULT_INSTANCES: Record<'isc' | 'dnsmasq', string> = { isc: 'ISC dhcpd', dnsmasq: 'dnsmasq' };
const BATCH = 200;

interface LeaseSource {
  kind: LeaseSourceKind;
  managedByService: string;
  serviceInstance: string;
  families: Array<4 | 6>;
  read(now: Date): Promise<ParsedLeases>;
}

function sourceOf(request: SyncRequest): LeaseSource {
  const kind = request.source;
  if (kind === 'kea') {
    const settings = request.kea as KeaSettings;
    const client = keaClientOf(settings);
    const dhcp6 = settings.dhcp6 === true;
    return {
      kind,
      managedByService: KEA_SERVICE,
      serviceInstance: keaInstance(settings),
      families: dhcp6 ? [4, 6] : [4],
      async read() {
        const v4 = await client.allLeases4();
        if (!dhcp6) return v4;
        const v6 = await client.allLeases6();
        const offset = v4.leases.length + v4.errors.length;
        return {
          leases: [...v4.leases, ...v6.leases],
          errors: [...v4.errors, ...v6.errors.map((e) => ({ ...e, line: e.line + offset }))],
        };
      },
    };
  }
  if (kind === 'isc' || kind === 'dnsmasq') {
    const instance = request.serviceInstance?.trim() || DEFAULT_INSTANCES[kind];
    return {
      kind,
      managedByService: NON_MS_SERVICE,
      serviceInstance: instance,
      families: [4, 6],
      async read(now) {
        const text = await leaseText(request);
        return kind === 'isc' ? parseIscLeases(text) : parseDnsmasqLeases(text, { now });
      },
    };
  }
  throw invalid('source', kind, 'must be kea, isc or dnsmasq');
}

async function leaseText(request: SyncRequest): Promise<string> {
  if (typeof request.text === 'string') return request.text;
  if (typeof request.file !== 'string' || request.file.trim() === '') {
    throw invalid('file', request.file, 'give the path of the leases file');
  }
  try {
    return await fs.readFile(request.file, 'utf8');
  } catch (err) {
    throw syncFailed(`leases file ${JSON.stringify(request.file)} cannot be read: ${(err as Error).message}`, 'file', request.file);
  }
}

/** A lease counts when the server says it is active and it has not ended. */
export function isLeased(lease: Lease, now: Date): boolean {
  if (lease.state !== 'active') return false;
  return lease.expires === undefined || lease.expires === null || lease.expires.getTime() > now.getTime();
}

function nowOf(request: SyncRequest): Date {
  const now = request.now === undefined ? new Date() : new Date(request.now);
  if (Number.isNaN(now.getTime())) throw invalid('now', request.now, 'is not a date');
  return now;
}

/** The fields a lease decides on a record it owns. */
function leaseFields(lease: Lease): Record<string, unknown> {
  const fields: Record<string, unknown> = { ipAddressState: 'In-Use', assignmentType: 'Dynamic' };
  if (lease.macAddress) fields.macAddress = lease.macAddress;
  const hostname = lease.hostname?.replace(/\.$/, '').trim();
  if (hostname) fields.deviceName = hostname;
  if (lease.duid) fields.duid = lease.duid;
  if (lease.iaid !== undefined) fields.iaid = lease.iaid;
  return fields;
}

export async function importLeases(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  const source = sourceOf(request);
  const addressSpace = checkAddressSpace(request.addressSpace);
  const now = nowOf(request);
  const result = emptyResult('import-leases', source.kind, source.serviceInstance);
  const parsed = await source.read(now);
  for (const error of parsed.errors) result.errors.push({ line: error.line, message: error.message });
  result.failed += parsed.errors.length;

  const leased = new Map<string, Lease>();
  for (const lease of parsed.leases) {
    if (!source.families.includes(lease.family) || !isLeased(lease, now)) continue;
    leased.set(addressKey(addressSpace, lease.family, parseAddress(lease.address).value), lease);
  }
  result.processed = parsed.leases.length + parsed.errors.length;
  const owner = { managedByService: source.managedByService, serviceInstance: source.serviceInstance };
  const entries = [...leased.entries()];
  const total = entries.length;
  for (let start = 0; start < entries.length; start += BATCH) {
    const batch = entries.slice(start, start + BATCH);
    const existing = await ctx.store
      .collection<AddressDoc>('addresses')
      .find({ key: { $in: batch.map(([key]) => key) } });
    const byKey = new Map(existing.map((doc) => [doc.key, doc]));
    for (const [key, lease] of batch) {
      try {
        await applyLease(ctx, result, byKey.get(key), lease, { addressSpace, ...owner });
      } catch (err) {
        result.failed++;
        result.errors.push(errorOf(err, { address: lease.address }));
      }
    }
    request.onProgress?.(Math.min(start + BATCH, total), total);
  }
  await deactivateGone(ctx, result, leased, { addressSpace, ...owner, families: source.families });
  return result;
}

interface Owner {
  addressSpace: string;
  managedByService: string;
  serviceInstance: string;
}

function owns(doc: AddressDoc, owner: Owner): boolean {
  return doc.managedByService === owner.managedByService && doc.serviceInstance === owner.serviceInstance;
}

async function applyLease(ctx: Context, result: SyncResult, doc: AddressDoc | undefined, lease: Lease, owner: Owner) {
  const wanted = leaseFields(lease);
  if (!doc) {
    const built = await buildAddress(ctx, { address: lease.address, ...owner, ...wanted });
    await insertAddress(ctx, built);
    result.created++;
    return;
  }
  if (!owns(doc, owner) || doc.assignmentType !== 'Dynamic') {
    result.skipped++;
    return;
  }
  const changes = changedFields(doc, wanted);
  if (Object.keys(changes).length === 0) {
    result.unchanged++;
    return;
  }
  await updateAddress(ctx, { id: doc.id }, changes);
  result.updated++;
}

/** Dynamic, In-Use addresses of this server and these families with no active lease become Inactive. */
async function deactivateGone(
  ctx: Context,
  result: SyncResult,
  leased: Map<string, Lease>,
  scope: Owner & { families: Array<4 | 6> },
): Promise<void> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  for (const family of scope.families) {
    let after = addressKey(scope.addressSpace, family, 0n);
    let first = true;
    for (;;) {
      const page = await addresses.find(
        {
          addressSpace: scope.addressSpace,
          family,
          managedByService: scope.managedByService,
          serviceInstance: scope.serviceInstance,
          assignmentType: 'Dynamic',
          ipAddressState: 'In-Use',
          key: first ? { $gte: after } : { $gt: after },
        },
        { sort: { key: 1 }, limit: BATCH },
      );
      for (const doc of page) {
        if (leased.has(doc.key)) continue;
        try {
          await updateAddress(ctx, { id: doc.id }, { ipAddressState: 'Inactive' });
          result.deleted++;
        } catch (err) {
          result.failed++;
          result.errors.push(errorOf(err, { address: doc.address, id: doc.id }));
        }
      }
      if (page.length < BATCH) break;
      after = page[page.length - 1].key;
      first = false;
    }
  }
}
