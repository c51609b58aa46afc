/**
 * Idempotency by requestId, in its own collection: one `requests` document per request key (`id` = the
 * key `<space>|<requestId>[|n]`, `addressId` = the address it gave), written in the same atomic batch
 * as the address. Its uniqueness is the primary key's, so the addresses collection needs no unique index
 * but `key` and can be sharded on `{key: 1}` (docs/scaling.md). The address keeps `requestKey` so a
 * release can remove the request with it.
 */
import { isIpamError, IpamError, show } from '../errors';
import type { Context } from '../record';
import type { Doc, Write } from '../store';

export interface RequestDoc extends Doc {
  id: string;
  addressId: string;
}

interface Requested extends Doc {
  key: string;
  requestKey?: string;
  requestId?: string;
  addressSpace: string;
}

/** The writes that store an address and, when it carries a request key, its request. */
export function insertWrites(doc: Requested): Write[] {
  const writes: Write[] = [{ op: 'insert', collection: 'addresses', doc }];
  if (doc.requestKey) writes.push({ op: 'insert', collection: 'requests', doc: { id: doc.requestKey, addressId: doc.id } });
  return writes;
}

/**
 * Inserts an address with its request, all or none. A collision on the address key is DUPLICATE with
 * field `key`; a request key already taken is DUPLICATE with field `requestId`.
 */
export async function insertWithRequest(ctx: Context, doc: Requested): Promise<void> {
  try {
    if (doc.requestKey) await ctx.store.atomic(insertWrites(doc));
    else await ctx.store.collection('addresses').insertOne(doc);
  } catch (err) {
    if (isIpamError(err, 'DUPLICATE') && err.field !== 'key' && doc.requestKey) throw requestTaken(doc);
    throw err;
  }
}

/** `insertMany`'s shape: addresses without a request go in bulk, those with one each in its own batch. */
export async function insertManyWithRequests(
  ctx: Context,
  docs: Requested[],
): Promise<{ inserted: number; failures: { index: number; error: Error }[] }> {
  const plain = docs.map((doc, index) => ({ doc, index })).filter(({ doc }) => !doc.requestKey);
  const bulk = await ctx.store.collection('addresses').insertMany(plain.map(({ doc }) => doc));
  const failures = bulk.failures.map(({ index, error }) => ({ index: plain[index].index, error }));
  for (const [index, doc] of docs.entries()) {
    if (!doc.requestKey) continue;
    await insertWithRequest(ctx, doc).catch((error: Error) => failures.push({ index, error }));
  }
  failures.sort((a, b) => a.index - b.index);
  return { inserted: docs.length - failures.length, failures };
}

/**
 * The addresses already given for these request keys. A request whose address is gone (a release that
 * stopped between its two deletes) is removed, so its key can be used again.
 */
export async function addressesByRequest<T extends Doc>(ctx: Context, keys: string[]): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  if (keys.length === 0) return found;
  const requests = await ctx.store.collection<RequestDoc>('requests').find({ id: { $in: keys } });
  if (requests.length === 0) return found;
  const addresses = await ctx.store.collection<T>('addresses').find({ id: { $in: requests.map((r) => r.addressId) } });
  const byId = new Map(addresses.map((doc) => [doc.id, doc]));
  for (const request of requests) {
    const address = byId.get(request.addressId);
    if (address) found.set(request.id, address);
    else await ctx.store.collection('requests').deleteOne({ id: request.id, addressId: request.addressId });
  }
  return found;
}

/** The writes that move an address's request from one key to another (an update changed its requestId). */
export function moveWrites(addressId: string, from: string | undefined, to: string | undefined): Write[] {
  if (from === to) return [];
  const writes: Write[] = [];
  if (from) writes.push({ op: 'delete', collection: 'requests', filter: { id: from, addressId } });
  if (to) writes.push({ op: 'insert', collection: 'requests', doc: { id: to, addressId } });
  return writes;
}

export function requestTaken(doc: { requestId?: string; addressSpace: string }): IpamError {
  return new IpamError('DUPLICATE', `requestId ${show(doc.requestId)}: already used by another address in ${show(doc.addressSpace)}`, {
    field: 'requestId',
    value: doc.requestId,
  });
}

const MIGRATED = 'requests-collection';

/**
 * Stores written before the requests collection kept request keys only on addresses: their requests are
 * created once, so replays and uniqueness keep working. Marked done in `settings`.
 */
export async function migrateRequests(ctx: Context): Promise<void> {
  const settings = ctx.store.collection('settings');
  if (await settings.findOne({ name: MIGRATED })) return;
  const addresses = await ctx.store.collection<Requested>('addresses').find({ requestKey: { $exists: true } }, { fields: ['requestKey'] });
  const requests = addresses.filter((doc) => typeof doc.requestKey === 'string').map((doc) => ({ id: doc.requestKey as string, addressId: doc.id }));
  for (let start = 0; start < requests.length; start += 1000) {
    await ctx.store.collection('requests').insertMany(requests.slice(start, start + 1000));
  }
  await settings.insertOne({ id: MIGRATED, name: MIGRATED, at: new Date(await ctx.store.now()).toISOString() }).catch((err: unknown) => {
    if (!isIpamError(err, 'DUPLICATE')) throw err;
  });
}
