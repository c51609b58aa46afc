/**
 * discover-scopes: Kea's subnets become ranges (service `Kea DHCP`, the server as instance, addresses
 * outside the pools as exclusions) and its host reservations become Reserved address records, so
 * allocation skips both. Kea is the truth: re-running updates in place, and ranges and reservation
 * records of subnets and reservations that Kea no longer has are deleted.
 */
import { formatAddress, parseAddress, parseNetwork, usableBounds, addressKey, checkAddressSpace } from '../address';
import { buildAddress, deleteAddressDocs, insertAddress, updateAddress, addRange, deleteRange, updateRange, type AddressDoc, type RangeDoc } from '../space';
import { KEA_SERVICE, type Context } from '../record';
import { keaClientOf, keaInstance, type KeaReservation, type KeaScope } from './kea';
import { changedFields, emptyResult, errorOf, sameValue, type KeaSettings, type SyncRequest, type SyncResult } from './result';

export const DISCOVERED = 'Discovered';

interface Scope {
  addressSpace: string;
  serviceInstance: string;
}

export async function discoverScopes(ctx: Context, request: SyncRequest): Promise<SyncResult> {
  const settings = (request.kea ?? {}) as KeaSettings;
  const client = keaClientOf(request.kea);
  const scope: Scope = { addressSpace: checkAddressSpace(request.addressSpace), serviceInstance: keaInstance(settings) };
  const families: Array<4 | 6> = settings.dhcp6 ? [4, 6] : [4];
  const scopes: KeaScope[] = [...(await client.discover('dhcp4'))];
  if (settings.dhcp6) scopes.push(...(await client.discover('dhcp6')));
  const result = emptyResult('discover-scopes', 'kea', scope.serviceInstance);
  const total = scopes.length;
  let done = 0;
  for (const subnet of scopes) {
    result.processed++;
    try {
      await syncRange(ctx, result, scope, subnet);
    } catch (err) {
      result.failed++;
      result.errors.push(errorOf(err, { subnet: subnet.subnet }));
    }
    await syncReservations(ctx, result, scope, subnet);
    request.onProgress?.(++done, total);
  }
  await removeGoneRanges(ctx, result, scope, families, new Set(scopes.map((s) => s.subnet)));
  const reserved = new Set(
    scopes.flatMap((s) => s.reservations.map((r) => keyOf(scope.addressSpace, r.address))),
  );
  await removeGoneReservations(ctx, result, scope, families, reserved);
  return result;
}

function keyOf(addressSpace: string, address: string): string {
  const parsed = parseAddress(address);
  return addressKey(addressSpace, parsed.family, parsed.value);
}

function rangeInput(scope: Scope, subnet: KeaScope): Record<string, unknown> {
  const network = parseNetwork(subnet.subnet);
  const usable = usableBounds(network);
  const shared = subnet.sharedNetwork ? ` in shared network ${subnet.sharedNetwork}` : '';
  return {
    network: subnet.subnet,
    addressSpace: scope.addressSpace,
    managedByService: KEA_SERVICE,
    serviceInstance: scope.serviceInstance,
    assignmentType: 'Dynamic',
    description: `Kea subnet ${subnet.id}${shared}`,
    startAddress: formatAddress(network.family, usable.first),
    endAddress: formatAddress(network.family, usable.last),
    exclusions: subnet.exclusions.map((e) => ({ startAddress: e.first, endAddress: e.last })),
  };
}

async function discoveredRanges(ctx: Context, scope: Scope, family?: 4 | 6): Promise<RangeDoc[]> {
  return ctx.store.collection<RangeDoc>('ranges').find({
    addressSpace: scope.addressSpace,
    managedByService: KEA_SERVICE,
    serviceInstance: scope.serviceInstance,
    ...(family ? { family } : {}),
  });
}

async function syncRange(ctx: Context, result: SyncResult, scope: Scope, subnet: KeaScope): Promise<void> {
  const input = rangeInput(scope, subnet);
  const [existing] = (await discoveredRanges(ctx, scope, subnet.family)).filter((r) => r.network === subnet.subnet);
  if (!existing) {
    await addRange(ctx, input, { allowReservedService: true });
    result.created++;
    return;
  }
  const current = {
    assignmentType: existing.assignmentType,
    description: existing.description,
    exclusions: existing.exclusions ?? [],
    startAddress: existing.startAddress,
    endAddress: existing.endAddress,
  };
  const { network: _n, addressSpace: _a, managedByService: _m, serviceInstance: _s, ...wanted } = input;
  if (sameValue(current, wanted)) {
    result.unchanged++;
    return;
  }
  await updateRange(ctx, { id: existing.id }, input, { allowReservedService: true });
  result.updated++;
}

function reservationInput(scope: Scope, subnet: KeaScope, reservation: KeaReservation): Record<string, unknown> {
  const input: Record<string, unknown> = {
    address: reservation.address,
    addressSpace: scope.addressSpace,
    managedByService: KEA_SERVICE,
    serviceInstance: scope.serviceInstance,
    assignmentType: 'Reserved',
    ipAddressState: 'Reserved',
    dhcpReservation: {
      serverName: scope.serviceInstance,
      scopeName: subnet.subnet,
      name: reservation.hostname ?? reservation.hwAddress ?? reservation.duid ?? reservation.address,
      type: 'DHCP',
      syncStatus: DISCOVERED,
    },
  };
  if (reservation.hwAddress) input.macAddress = reservation.hwAddress;
  if (reservation.duid) input.duid = reservation.duid;
  if (reservation.hostname) input.deviceName = reservation.hostname;
  return input;
}

function isDiscoveredBy(doc: AddressDoc, scope: Scope): boolean {
  return (
    doc.managedByService === KEA_SERVICE &&
    doc.serviceInstance === scope.serviceInstance &&
    doc.dhcpReservation?.syncStatus === DISCOVERED
  );
}

async function syncReservations(ctx: Context, result: SyncResult, scope: Scope, subnet: KeaScope): Promise<void> {
  if (subnet.reservations.length === 0) return;
  const keys = subnet.reservations.map((r) => keyOf(scope.addressSpace, r.address));
  const existing = await ctx.store.collection<AddressDoc>('addresses').find({ key: { $in: keys } });
  const byKey = new Map(existing.map((doc) => [doc.key, doc]));
  for (const [index, reservation] of subnet.reservations.entries()) {
    result.processed++;
    try {
      const input = reservationInput(scope, subnet, reservation);
      const doc = byKey.get(keys[index]);
      if (!doc) {
        await insertAddress(ctx, await buildAddress(ctx, input));
        result.created++;
      } else if (!isDiscoveredBy(doc, scope)) {
        result.skipped++;
      } else {
        const { address: _a, addressSpace: _s, ...wanted } = input;
        const changes = changedFields(doc, wanted);
        if (Object.keys(changes).length === 0) {
          result.unchanged++;
        } else {
          await updateAddress(ctx, { id: doc.id }, changes);
          result.updated++;
        }
      }
    } catch (err) {
      result.failed++;
      result.errors.push(errorOf(err, { address: reservation.address, subnet: subnet.subnet }));
    }
  }
}

async function removeGoneRanges(
  ctx: Context,
  result: SyncResult,
  scope: Scope,
  families: Array<4 | 6>,
  subnets: Set<string>,
): Promise<void> {
  for (const family of families) {
    for (const range of await discoveredRanges(ctx, scope, family)) {
      if (subnets.has(range.network)) continue;
      try {
        await deleteRange(ctx, { id: range.id });
        result.deleted++;
      } catch (err) {
        result.failed++;
        result.errors.push(errorOf(err, { subnet: range.network }));
      }
    }
  }
}

async function removeGoneReservations(
  ctx: Context,
  result: SyncResult,
  scope: Scope,
  families: Array<4 | 6>,
  reserved: Set<string>,
): Promise<void> {
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  const found = await addresses.find({
    addressSpace: scope.addressSpace,
    managedByService: KEA_SERVICE,
    serviceInstance: scope.serviceInstance,
    'dhcpReservation.syncStatus': DISCOVERED,
    family: { $in: families },
  });
  const gone = found.filter((doc) => !reserved.has(doc.key));
  result.deleted += (await deleteAddressDocs(ctx, gone)).length;
}
