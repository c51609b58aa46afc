/**
 * Address records: one per address per address space (the unique key decides), mapped to the most
 * specific containing block and to the range that contains it with the same service and instance.
 */
import { newId } from '../ids';
import { parseAddress, parseMac, addressKey, checkAddressSpace, requestKey, type Address } from '../address';
import { checkCustomFields, INTERNAL_FIELDS, READ_ONLY_FIELDS, canonicalValue, optionalFields, checkInput, clearedFields, nowIso, unsetMissing, toRecord, type AddressRecord, type Keyed, type Context } from '../record';
import { deleteAddressesCounted, insertAddressCounted, updateAddressCounted } from './counters';
import { IpamError, invalid, isIpamError, show } from '../errors';
import { mappingOf, type RangePlan } from './mapping';
import type { RangeDoc } from './ranges';
import { moveWrites, requestTaken } from './requests';
import { overlapping, startFloor } from './bounds';
import { noteWritten, type Write } from '../store';
import { merged } from '../own';

export type AddressDoc = AddressRecord & Keyed & { requestKey?: string };

/** Fields an address may lack, so an update can clear them; `requestKey` goes with `requestId`. */
const OPTIONAL_FIELDS = [...optionalFields('addresses'), 'requestKey'];

export interface BuildOptions {
  /** The range the address is being allocated from (it contains the address): its mapping plan answers. */
  range?: RangeDoc;
  /** That range's plan, read once (`rangePlan`) for all the addresses of one batch. */
  plan?: Promise<RangePlan | undefined>;
  /** `input` is what `checkInput` returned for the caller, plus `address` (an allocation checks its fields once); no `base`. */
  checked?: boolean;
  /** `input.address` as parsed values, when the caller made its text from them (an allocation does): not parsed again. */
  address?: Address;
}

/** Validates input into a complete, mapped address document (not yet stored). */
export async function buildAddress(ctx: Context, input: unknown, base?: AddressDoc, options: BuildOptions = {}): Promise<AddressDoc> {
  if (options.checked && base) throw new Error('buildAddress: checked input is a new address, without a base');
  const fields: Record<string, unknown> = options.checked
    ? (input as Record<string, unknown>)
    : merged(base ? editableOf(base) : {}, checkInput('addresses', input));
  if (!options.checked) for (const field of clearedFields(input)) delete fields[field];
  if (fields.address === undefined) throw invalid('address', fields.address, 'is required');
  const parsed = options.address?.text === fields.address ? options.address : parseAddress(fields.address, 'address');
  const addressSpace = checkAddressSpace(fields.addressSpace);
  const key = addressKey(addressSpace, parsed.family, parsed.value);
  const service = {
    managedByService: canonicalValue('addresses', 'managedByService', fields.managedByService),
    serviceInstance: canonicalValue('addresses', 'serviceInstance', fields.serviceInstance),
  };
  const where = { addressSpace, family: parsed.family, startKey: key, endKey: key };
  const { rangeId, blockId } = await mappingOf(ctx, where, service, options.range, options.plan);
  const now = nowIso();
  const doc: AddressDoc = {
    id: base?.id ?? newId(),
    addressSpace,
    family: parsed.family,
    address: parsed.text,
    ...service,
    deviceType: canonicalValue('addresses', 'deviceType', fields.deviceType),
    ipAddressState: canonicalValue('addresses', 'ipAddressState', fields.ipAddressState),
    assignmentType: canonicalValue('addresses', 'assignmentType', fields.assignmentType),
    rangeId,
    blockId,
    key,
    createdAt: base?.createdAt ?? now,
    updatedAt: now,
  };
  copyText(fields, doc, ['deviceName', 'description', 'duid']);
  if (fields.macAddress !== undefined) doc.macAddress = canonicalMac(fields.macAddress);
  if (fields.expiryDate !== undefined) doc.expiryDate = canonicalDate('expiryDate', fields.expiryDate);
  if (fields.iaid !== undefined) doc.iaid = fields.iaid as number;
  if (fields.dhcpReservation !== undefined) doc.dhcpReservation = fields.dhcpReservation as Record<string, unknown>;
  if (fields.dns !== undefined) doc.dns = fields.dns as Record<string, unknown>;
  const customFields = await checkCustomFields(ctx, 'addresses', fields.customFields);
  if (customFields) doc.customFields = customFields;
  if (fields.requestId !== undefined) {
    doc.requestId = fields.requestId as string;
    // An address allocated in a set keeps its position's key (requestId + n) through updates.
    const kept = base?.requestId === doc.requestId && base?.addressSpace === addressSpace ? base?.requestKey : undefined;
    doc.requestKey = kept ?? requestKey(addressSpace, doc.requestId);
  }
  return doc;
}

export async function addAddress(ctx: Context, input: unknown): Promise<AddressRecord> {
  const doc = await buildAddress(ctx, input);
  await insertAddress(ctx, doc);
  return toRecord(doc, ctx);
}

/** Inserts a built address; a key collision becomes a DUPLICATE that names the address. */
export async function insertAddress(ctx: Context, doc: AddressDoc): Promise<void> {
  try {
    await insertAddressCounted(ctx, doc);
  } catch (err) {
    throw uniqueCollision(err, doc);
  }
}

/** A unique-index collision in the words of the record: the address, or the requestId, already taken. */
export function uniqueCollision(err: unknown, doc: AddressDoc): unknown {
  if (!isIpamError(err, 'DUPLICATE')) return err;
  if (err.field === 'key') return duplicateAddress(doc);
  if (err.field === 'requestId' || err.field === 'id') return requestTaken(doc);
  return err;
}

export function duplicateAddress(doc: { address: string; addressSpace: string }): IpamError {
  return new IpamError(
    'DUPLICATE',
    `address ${show(doc.address)}: already exists in address space ${show(doc.addressSpace)}`,
    { field: 'address', value: doc.address },
  );
}

/**
 * Updates an address. Only the fields that differ are written, so concurrent updates of different fields
 * (a user's edit, a sync status) both land; fields given as null or '' are cleared.
 */
export async function updateAddress(ctx: Context, selector: unknown, input: unknown): Promise<AddressRecord> {
  const current = await getAddressDoc(ctx, selector);
  const doc = await buildAddress(ctx, withoutSelector(input), current);
  const $set = Object.fromEntries(
    Object.entries(doc).filter(([field, value]) => field !== 'id' && JSON.stringify(value) !== JSON.stringify(current[field])),
  );
  const $unset = unsetMissing(current, doc, OPTIONAL_FIELDS);
  // What ipam-expiry reported (expiryReported; expiryStatus in older records) goes only with the expiryDate.
  if ($unset.expiryDate) {
    for (const field of ['expiryReported', 'expiryStatus']) if (current[field] !== undefined) $unset[field] = true;
  }
  const update = { $set, ...(Object.keys($unset).length ? { $unset } : {}) };
  const requestMoves = moveWrites(doc.id, current.requestKey, doc.requestKey);
  const moved = current.key !== doc.key;
  // A move frees the address it leaves: its ranges' hints go down with the move (atomicFreeing).
  const freed = moved ? await freedHintWrites(ctx, [current]) : [];
  try {
    await updateAddressCounted(ctx, current, { id: doc.id }, update, doc, { alongside: requestMoves, freed });
  } catch (err) {
    throw uniqueCollision(err, doc);
  }
  if (moved) noteWritten(ctx.store, [doc.key]);
  return toRecord(doc, ctx);
}

export async function getAddress(ctx: Context, selector: unknown): Promise<AddressRecord> {
  return toRecord(await getAddressDoc(ctx, selector), ctx);
}

/** An address by `id`, or by `address` (+ `addressSpace`). */
export async function getAddressDoc(ctx: Context, selector: unknown): Promise<AddressDoc> {
  const input = (typeof selector === 'string' ? { id: selector } : selector) as Record<string, unknown> | null;
  const addresses = ctx.store.collection<AddressDoc>('addresses');
  if (input && typeof input.id === 'string' && input.id !== '') {
    const doc = await addresses.findOne({ id: input.id });
    if (!doc) throw new IpamError('NOT_FOUND', `address id ${show(input.id)} not found`, { field: 'id', value: input.id });
    return doc;
  }
  if (input && input.address !== undefined) {
    const parsed = parseAddress(input.address, 'address');
    const space = checkAddressSpace(input.addressSpace);
    const doc = await addresses.findOne({ key: addressKey(space, parsed.family, parsed.value) });
    if (!doc) {
      throw new IpamError('NOT_FOUND', `address ${show(parsed.text)} not found in address space ${show(space)}`, {
        field: 'address',
        value: parsed.text,
      });
    }
    return doc;
  }
  throw invalid('id', input?.id, 'give the id, or the address (and addressSpace)');
}

/**
 * Deletes address records (never DHCP or DNS data) in batches with their counter changes, and tells their
 * ranges the addresses are free again.
 */
export async function deleteAddressDocs(
  ctx: Context,
  docs: AddressDoc[],
  onProgress?: (done: number, total: number) => void,
  operation?: string,
): Promise<AddressDoc[]> {
  await deleteAddressesCounted(ctx, docs, onProgress, operation, (chunk) => freedHintWrites(ctx, chunk));
  return docs;
}

/**
 * Commits a batch that frees addresses with `hints`, the writes that lower their ranges' allocation hints and
 * bump the versions (freedHintWrites), so a freed address is never skipped. With transactions they go in the
 * batch, last. Without, they are never undone with the batch (the undo puts back before-images, and a range's
 * would take back a lower hint another process wrote meanwhile): each is written on its own before the batch,
 * and again as the batch's `settle` writes, after its writes and before it commits. Before: a crash or failure
 * part-way leaves a hint lower than needed (allocation skips the addresses still taken), never a freed address
 * above it. Again: an allocation in between met the addresses still taken and may have moved a hint past them
 * under the version the first write set; the second bumps it again, and if it fails the batch is undone.
 */
export async function atomicFreeing(ctx: Context, writes: Write[], hints: Write[], ifUndone?: Write[]): Promise<void> {
  if (ctx.store.transactional || hints.length === 0) return ctx.store.atomic([...writes, ...hints], ifUndone);
  await eachOnItsOwn(ctx, hints);
  await ctx.store.atomic(writes, ifUndone, hints);
}

/** Update writes, one store call each (no batch, so nothing a failed batch's undo could put back). */
export async function eachOnItsOwn(ctx: Context, writes: Write[]): Promise<void> {
  for (const write of writes) {
    if (write.op !== 'update' || write.many) throw new Error(`eachOnItsOwn takes single updates, not ${JSON.stringify(write)}`);
    await ctx.store.collection(write.collection).updateOne(write.filter, write.update);
  }
}

/**
 * The writes that lower the allocation hint of every range containing one of these (freed) addresses. The
 * version bump makes a concurrent allocator's compare-and-set of the hint fail.
 */
export async function freedHintWrites(ctx: Context, docs: AddressDoc[]): Promise<Write[]> {
  const ranges = ctx.store.collection<{ id: string; startKey: string; endKey: string }>('ranges');
  const writes: Write[] = [];
  for (const group of bySpaceAndFamily(docs)) {
    const keys = group.map((doc) => doc.key).sort();
    const span = { addressSpace: group[0].addressSpace, family: group[0].family, startKey: keys[0], endKey: keys[keys.length - 1] };
    const near = await ranges.find(
      { addressSpace: span.addressSpace, ...overlapping(span, await startFloor(ctx, 'ranges', span)) },
      { fields: ['startKey', 'endKey'] },
    );
    for (const range of near) {
      const lowest = keys[firstAtOrAfter(keys, range.startKey)];
      if (lowest === undefined || lowest > range.endKey) continue;
      writes.push({ op: 'update', collection: 'ranges', filter: { id: range.id }, update: { $min: { freeHint: lowest }, $inc: { hintVersion: 1 } } });
    }
  }
  return writes;
}

/** Index of the first sorted key >= wanted (binary search). */
function firstAtOrAfter(sorted: string[], wanted: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] < wanted) low = middle + 1;
    else high = middle;
  }
  return low;
}

function bySpaceAndFamily(docs: AddressDoc[]): AddressDoc[][] {
  const groups = new Map<string, AddressDoc[]>();
  for (const doc of docs) {
    const name = `${doc.addressSpace}|${doc.family}`;
    const group = groups.get(name);
    if (group) group.push(doc);
    else groups.set(name, [doc]);
  }
  return [...groups.values()];
}

/** `aa:bb:cc:dd:ee:ff` from colon, dash, dot (Cisco) or bare hex forms. */
export function canonicalMac(value: unknown): string {
  const mac = typeof value === 'string' ? parseMac(value) : undefined;
  if (!mac) throw invalid('macAddress', value, 'must be six hex bytes, e.g. aa:bb:cc:dd:ee:ff');
  return mac;
}

/** ISO date (`2026-12-31`) or date-time; a date-time is stored in UTC. */
export function canonicalDate(field: string, value: unknown): string {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value.trim())) {
    const date = new Date(`${value.trim()}T00:00:00Z`);
    if (!Number.isNaN(date.getTime()) && date.toISOString().startsWith(value.trim())) return value.trim();
  }
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value.trim())) {
    const date = new Date(value.trim());
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  throw invalid(field, value, 'must be an ISO date such as 2026-12-31 or 2026-12-31T18:00:00Z');
}

function copyText(from: Record<string, unknown>, to: AddressDoc, fields: string[]): void {
  for (const field of fields) if (from[field] !== undefined) to[field] = from[field] as string;
}

/** The user-editable fields of a stored address, as input for re-validation on update. */
function editableOf(doc: AddressDoc): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).filter(([field]) => !READ_ONLY_FIELDS.has(field) && !INTERNAL_FIELDS.includes(field)));
}

/** `update` payloads name the address by id or address; the selector is not a change. */
function withoutSelector(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const { id, ...rest } = input as Record<string, unknown>;
  return rest;
}
