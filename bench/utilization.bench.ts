/**
 * Utilization answers from indexed counts: a /8 block with thousands of ranges and tens of thousands of
 * addresses, and an IPv6 /32 with thousands of /64 ranges. Baseline: one indexed lookup in the same store.
 */
import { formatAddress, parseNetwork } from '../lib/address';
import { buildAddress } from '../lib/addresses';
import { Ipam } from '../lib/ipam';
import { medianMs, report } from './common';

const RANGES = 4000;
const ADDRESSES = 40000;

async function main(): Promise<void> {
  const ipam = await Ipam.open({ kind: 'embedded' });
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  await ipam.perform('block', 'add', { network: '2001:db8::/32' });
  for (let i = 0; i < RANGES; i++) {
    await ipam.perform('range', 'add', { network: `10.${i >> 8}.${i & 255}.0/24` });
    await ipam.perform('range', 'add', { network: `2001:db8:0:${i.toString(16)}::/64` });
  }
  const docs = [];
  for (let i = 0; i < ADDRESSES; i++) {
    const net = parseNetwork(`10.${(i % RANGES) >> 8}.${(i % RANGES) & 255}.0/24`);
    docs.push(await buildAddress(ipam, { address: formatAddress(4, net.first + 1n + BigInt(Math.floor(i / RANGES))) }));
  }
  await ipam.store.collection('addresses').insertMany(docs);
  const anyRange = (await ipam.perform('range', 'get', { network: '10.3.7.0/24' })) as { id: string };

  const baseline = await medianMs(50, () => ipam.store.collection('ranges').findOne({ id: anyRange.id }));
  const slash8 = { $gte: 'Default|4|0a000000', $lte: 'Default|4|0affffff' };
  const rawStoreWork = await medianMs(20, async () => {
    await ipam.store.collection('addresses').count({ key: slash8 });
    await ipam.store.collection('ranges').find({ startKey: slash8 }, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] });
  });
  const block4 = await medianMs(20, () => ipam.perform('block', 'utilization', { network: '10.0.0.0/8' }));
  const block6 = await medianMs(20, () => ipam.perform('block', 'utilization', { network: '2001:db8::/32' }));
  const range4 = await medianMs(50, () => ipam.perform('range', 'utilization', { id: anyRange.id }));
  const result = await ipam.perform('block', 'utilization', { network: '10.0.0.0/8' });
  report('utilization.block.ipv4_slash8', {
    ranges: RANGES, addresses: ADDRESSES, ms: block4, vsRawStoreWork: block4 / rawStoreWork, vsLookup: block4 / baseline, result,
  });
  report('utilization.baseline.raw_count_and_range_scan', { ms: rawStoreWork });
  report('utilization.block.ipv6_slash32', { ranges: RANGES, ms: block6, vsLookup: block6 / baseline });
  report('utilization.range.ipv4_slash24', { ms: range4, vsLookup: range4 / baseline });
  report('utilization.baseline.lookup_by_id', { ms: baseline });
  await ipam.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
