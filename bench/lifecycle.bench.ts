/**
 * Lifecycle benchmark (issue 6), embedded in-memory store:
 * - inventory `list` page of 1000 from a cursor in the middle, plain and grouped by device type, at 10k and
 *   50k addresses, against a raw store `find` of the same page measured in the same run;
 * - expiry check over 10k addresses with an expiry date (transitions: first run, then a run with 1% changing;
 *   periodic), against a raw indexed count;
 * - group-utilization over 1000 ranges (from their counters) against the per-range counts it needed before them.
 * One JSON object per line with a `metric` name.
 */
import { newId } from '../lib/ids';
import { formatAddress, addressKey } from '../lib/address';
import { buildAddress, reconcileCounters, type AddressDoc } from '../lib/space';
import { encodeCursor, type InventoryPage } from '../lib/lifecycle';
import { Ipam } from '../lib/ipam';
import { openStore } from '../lib/store';
import { medianMs, report } from './common';

const DAY = 86_400_000;
const DEVICE_TYPES = ['Host', 'VM', 'Printer', 'Router'];

async function fill(ipam: Ipam, count: number, expiry: (i: number) => string | undefined): Promise<AddressDoc[]> {
  const template = await buildAddress(ipam, { address: '10.0.0.1' });
  const docs: AddressDoc[] = [];
  for (let i = 0; i < count; i++) {
    const family = i % 4 === 3 ? 6 : 4;
    const value = family === 4 ? 0x0a000000n + BigInt(i) : 0x20010db8000000000000000000000000n + BigInt(i);
    const expiryDate = expiry(i);
    docs.push({
      ...template,
      id: newId(),
      family,
      address: formatAddress(family, value),
      key: addressKey('Default', family, value),
      deviceType: DEVICE_TYPES[i % DEVICE_TYPES.length],
      ...(expiryDate ? { expiryDate } : {}),
    });
  }
  const addresses = ipam.store.collection<AddressDoc>('addresses');
  for (let i = 0; i < docs.length; i += 5000) {
    const result = await addresses.insertMany(docs.slice(i, i + 5000));
    if (result.failures.length) throw result.failures[0].error;
  }
  return docs;
}

async function inventory(count: number): Promise<void> {
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  const docs = await fill(ipam, count, () => undefined);
  const middle = docs.map((d) => d.key).sort()[Math.floor(count / 2)];
  const cursor = encodeCursor(middle);
  const addresses = ipam.store.collection('addresses');
  const raw = await medianMs(9, () => addresses.find({ key: { $gt: middle } }, { sort: { key: 1 }, limit: 1001 }));
  const plain = await medianMs(9, () => ipam.perform('address', 'list', { limit: 1000, cursor }));
  const grouped = await medianMs(9, () => ipam.perform('address', 'list', { limit: 1000, cursor, groupBy: 'deviceType' }));
  const page = (await ipam.perform('address', 'list', { limit: 1000, cursor })) as InventoryPage;
  report('inventory-page-ms', { addresses: count, pageSize: page.items!.length, ms: plain, rawFindMs: raw, ratio: plain / raw });
  report('inventory-grouped-page-ms', { addresses: count, ms: grouped, rawFindMs: raw, ratio: grouped / raw });
  await ipam.close();
}

async function expiry(): Promise<void> {
  // 10k: the first run writes every state, and embedded updates slow down when many documents share an indexed value (rangeId/blockId null).
  const count = 10_000;
  const now = Date.parse('2026-06-01T00:00:00Z');
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  // Spread over -100..+300 days: about a quarter Expired, a few % Due.
  await fill(ipam, count, (i) => new Date(now + ((i * 7919) % 400 - 100) * DAY).toISOString().slice(0, 10));
  const addresses = ipam.store.collection('addresses');
  const rawCount = await medianMs(5, () => addresses.count({ expiryDate: { $lte: '2026-06-11' } }));
  let start = performance.now();
  const first = (await ipam.perform('expiry', 'check', { now: new Date(now).toISOString() })) as { reported: number; changed: number };
  const firstMs = performance.now() - start;
  start = performance.now();
  const nextDay = (await ipam.perform('expiry', 'check', { now: new Date(now + DAY).toISOString() })) as { reported: number; changed: number };
  const nextDayMs = performance.now() - start;
  start = performance.now();
  const periodic = (await ipam.perform('expiry', 'check', { now: new Date(now + DAY).toISOString(), logging: 'periodic' })) as { reported: number };
  const periodicMs = performance.now() - start;
  report('expiry-check-first-run-ms', { addresses: count, changed: first.changed, reported: first.reported, ms: firstMs });
  report('expiry-check-next-day-ms', {
    addresses: count, changed: nextDay.changed, reported: nextDay.reported, ms: nextDayMs, rawCountMs: rawCount, ratio: nextDayMs / rawCount,
  });
  report('expiry-check-periodic-ms', { addresses: count, reported: periodic.reported, ms: periodicMs });
  await ipam.close();
}

async function groups(): Promise<void> {
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  const ranges: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const range = (await ipam.perform('range', 'add', {
      network: `10.${Math.floor(i / 256)}.${i % 256}.0/24`,
      serviceInstance: `srv${i % 10}`,
    })) as { id: string };
    ranges.push(range.id);
  }
  const template = await buildAddress(ipam, { address: '10.0.0.1' });
  const docs = ranges.flatMap((rangeId, r) =>
    Array.from({ length: 20 }, (_, j) => {
      const value = 0x0a000000n + BigInt(r) * 256n + BigInt(j + 1);
      return { ...template, id: newId(), rangeId, address: formatAddress(4, value), key: addressKey('Default', 4, value) };
    }),
  );
  await ipam.store.collection<AddressDoc>('addresses').insertMany(docs);
  // Written behind the core's back: reconcile sets the counters group-utilization reads.
  await reconcileCounters(ipam);
  const addresses = ipam.store.collection('addresses');
  // What group-utilization did before counters: one indexed count per range.
  const raw = await medianMs(3, async () => {
    for (const id of ranges) await addresses.count({ rangeId: id });
  });
  const grouped = await medianMs(3, () => ipam.perform('range', 'group-utilization', {}));
  report('group-utilization-ms', { ranges: 1000, addresses: docs.length, ms: grouped, rawCountsMs: raw, ratio: grouped / raw });
  await ipam.close();
}

(async () => {
  await inventory(10_000);
  await inventory(50_000);
  await expiry();
  await groups();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
