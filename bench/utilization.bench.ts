/**
 * Utilization from maintained counters (issue 13), embedded in-memory store:
 * - block 10.0.0.0/8 with 16 nested /12 blocks, 4,000 /24 ranges and 200,000 addresses (1,000,000 with
 *   BENCH_UTIL_ADDRESSES=1000000; aim < 20 ms);
 * - block 172.16.0.0/16 whose one range is 99% used (aim < 5 ms);
 * - an IPv6 /32 with 4,000 /64 ranges; one range.
 * Baselines in the same run: what utilization cost before counters (an indexed count of the addresses in
 * the block), what it cost before range covers (reading the bounds of the 4,000 ranges inside the /8 for their
 * union) and one lookup by id. The first (cold) call is reported on its own, then the median of
 * warm calls with min and max. The fill is a raw bulk insert followed by `reconcile` (timed: the repair
 * pass that sets counters for addresses written behind the core's back), so the counters are the recount.
 */
import { randomUUID } from 'node:crypto';
import { newId } from '../lib/ids';
import { performance } from 'node:perf_hooks';
import { formatAddress, parseNetwork, addressKey, unionSize } from '../lib/address';
import { buildAddress, inside, intervalOfKeys, reconcileCounters, type AddressDoc } from '../lib/space';
import { Ipam } from '../lib/ipam';
import { openStore } from '../lib/store';
import { report, runBench } from './common';

const RANGES = 4000;
/** 1,000,000 for the figure (BENCH_UTIL_ADDRESSES=1000000): about 15 minutes on a loaded machine, so not the default. */
const ADDRESSES = Number(process.env.BENCH_UTIL_ADDRESSES ?? 200_000);
const RUNS = 21;

async function timings(work: () => Promise<unknown>): Promise<{ coldMs: number; ms: number; min: number; max: number }> {
  const time = async (): Promise<number> => {
    const start = performance.now();
    await work();
    return performance.now() - start;
  };
  const coldMs = await time();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await time());
  times.sort((a, b) => a - b);
  return { coldMs, ms: times[Math.floor(RUNS / 2)], min: times[0], max: times[RUNS - 1] };
}

async function insertRaw(ipam: Ipam, template: AddressDoc, values: { value: bigint; rangeId: string | null; blockId: string | null }[]): Promise<void> {
  const addresses = ipam.store.collection<AddressDoc>('addresses');
  for (let i = 0; i < values.length; i += 10_000) {
    const docs = values.slice(i, i + 10_000).map(({ value, rangeId, blockId }) => ({
      ...template, id: newId(), address: formatAddress(4, value), key: addressKey('Default', 4, value), rangeId, blockId,
    }));
    const result = await addresses.insertMany(docs);
    if (result.failures.length) throw result.failures[0].error;
  }
}

async function main(): Promise<void> {
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  const nested: string[] = [];
  for (let i = 0; i < 16; i++) nested.push(((await ipam.perform('block', 'add', { network: `10.${i * 16}.0.0/12` })) as { id: string }).id);
  await ipam.perform('block', 'add', { network: '2001:db8::/32' });
  const rangeIds: string[] = [];
  for (let i = 0; i < RANGES; i++) {
    rangeIds.push(((await ipam.perform('range', 'add', { network: `10.${i >> 8}.${i & 255}.0/24` })) as { id: string }).id);
    await ipam.perform('range', 'add', { network: `2001:db8:0:${i.toString(16)}::/64` });
  }
  const template = await buildAddress(ipam, { address: '10.0.0.1', deviceName: 'bulk' });
  const perRange = Math.ceil(ADDRESSES / RANGES);
  const fill: { value: bigint; rangeId: string | null; blockId: string | null }[] = [];
  for (let i = 0; i < ADDRESSES; i++) {
    const r = i % RANGES;
    const value = parseNetwork(`10.${r >> 8}.${r & 255}.0/24`).first + 1n + BigInt(Math.floor(i / RANGES) % 254);
    fill.push({ value, rangeId: rangeIds[r], blockId: nested[r >> 12 >= 16 ? 15 : (r >> 8) >> 4] });
  }
  if (perRange > 254) throw new Error('more addresses than the ranges hold');
  await insertRaw(ipam, template, fill);
  fill.length = 0;

  await ipam.perform('block', 'add', { network: '172.16.0.0/16' });
  const full = (await ipam.perform('range', 'add', { network: '172.16.0.0/16' })) as { id: string; blockId: string };
  const network = parseNetwork('172.16.0.0/16');
  const used = Math.round(65_534 * 0.99);
  await insertRaw(ipam, template, Array.from({ length: used }, (_, i) => ({ value: network.first + 1n + BigInt(i), rangeId: full.id, blockId: full.blockId })));

  const start = performance.now();
  const reconciled = await reconcileCounters(ipam);
  report('reconcile_ms', { ranges: reconciled.ranges, blocks: reconciled.blocks, addresses: ADDRESSES + used, drift: reconciled.drift.length, ms: performance.now() - start });

  const anyRange = rangeIds[1807];
  const lookup = await timings(() => ipam.store.collection('ranges').findOne({ id: anyRange }));
  const slash8 = { $gte: addressKey('Default', 4, 0x0a000000n), $lte: addressKey('Default', 4, 0x0affffffn) };
  const countBefore = await timings(() => ipam.store.collection('addresses').count({ key: slash8 }));
  const within8 = { addressSpace: 'Default', ...inside({ startKey: slash8.$gte, endKey: slash8.$lte }) };
  const rangeUnion = () =>
    ipam.store
      .collection<{ id: string; startKey: string; endKey: string }>('ranges')
      .find(within8, { sort: { startKey: 1 }, fields: ['startKey', 'endKey'] })
      .then((ranges) => unionSize(ranges.map(intervalOfKeys)));
  const unionBefore = await timings(rangeUnion);
  const block8 = await timings(() => ipam.perform('block', 'utilization', { network: '10.0.0.0/8' }));
  const block16 = await timings(() => ipam.perform('block', 'utilization', { network: '172.16.0.0/16' }));
  const block6 = await timings(() => ipam.perform('block', 'utilization', { network: '2001:db8::/32' }));
  const range = await timings(() => ipam.perform('range', 'utilization', { id: anyRange }));
  const result8 = (await ipam.perform('block', 'utilization', { network: '10.0.0.0/8' })) as { assigned: number; rangeSize: number };
  const result16 = (await ipam.perform('block', 'utilization', { network: '172.16.0.0/16' })) as { assigned: number; utilizedPercent: number };
  report('utilization.block.ipv4_slash8', { ranges: RANGES, nestedBlocks: 16, addresses: ADDRESSES, assigned: result8.assigned, rangeSize: result8.rangeSize, ...block8, aim: '< 20 ms' });
  report('utilization.block.slash16_99pct', { assigned: result16.assigned, utilizedPercent: result16.utilizedPercent, ...block16, aim: '< 5 ms' });
  report('utilization.block.ipv6_slash32', { ranges: RANGES, ...block6 });
  report('utilization.range.ipv4_slash24', range);
  report('utilization.baseline.count_addresses_in_slash8', { ...countBefore, note: 'what block utilization did per call before counters' });
  report('utilization.baseline.range_union_slash8', { ...unionBefore, rangeSize: String(await rangeUnion()), note: 'reading the ranges\' bounds, as block utilization did before range covers' });
  report('utilization.baseline.lookup_by_id', lookup);
  report('utilization.ratio.slash8_vs_counting', { value: block8.ms / countBefore.ms });
  report('utilization.ratio.slash8_vs_range_union', { value: block8.ms / unionBefore.ms });
  await ipam.close();
}

runBench(main);
