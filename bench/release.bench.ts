/**
 * Release benchmark: `release {range}` of 65,000 addresses of a /16, and of 5,000 listed addresses,
 * with the longest event-loop stall seen meanwhile. Baseline, measured in the same process on the same
 * kind of store: one `deleteMany` of the same documents (the store's own bulk delete, no counters, no hints).
 * The fill goes through the counted bulk insert (lib/space/counters.ts), as an import does.
 */
import { newId } from '../lib/ids';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { formatAddress, parseNetwork, addressKey } from '../lib/address';
import { buildAddress, insertAddressesCounted, type AddressDoc } from '../lib/space';
import { Ipam } from '../lib/ipam';
import type { RangeRecord } from '../lib/record';
import { openStore } from '../lib/store';
import { report, runBench } from './common';

const FILL = Number(process.env.BENCH_RELEASE_ADDRESSES ?? 65_000);
const directories: string[] = [];

async function freshIpam(): Promise<Ipam> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'flowipam-bench-'));
  directories.push(directory);
  return Ipam.over(await openStore({ kind: 'embedded', directory }));
}

async function filled(count: number): Promise<{ ipam: Ipam; range: RangeRecord; docs: AddressDoc[] }> {
  const ipam = await freshIpam();
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  const range = (await ipam.perform('range', 'add', { network: '10.0.0.0/16' })) as RangeRecord;
  const network = parseNetwork('10.0.0.0/16');
  const template = await buildAddress(ipam, { address: '10.0.0.1', deviceName: 'bulk' });
  const docs = Array.from({ length: count }, (_, i): AddressDoc => {
    const value = network.first + 1n + BigInt(i);
    return { ...template, id: newId(), address: formatAddress(4, value), key: addressKey('Default', 4, value) };
  });
  const { failures } = await insertAddressesCounted(ipam, docs);
  if (failures.length) throw failures[0].error;
  return { ipam, range, docs };
}

/** Milliseconds of `work` and the longest event-loop stall while it ran. */
async function timed(work: () => Promise<unknown>): Promise<{ ms: number; maxStallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  histogram.disable();
  return { ms, maxStallMs: histogram.max / 1e6 };
}

async function main(): Promise<void> {
  const baseline = await filled(FILL);
  const raw = await timed(() => baseline.ipam.store.collection('addresses').deleteMany({ rangeId: baseline.range.id }));
  await baseline.ipam.close();

  const whole = await filled(FILL);
  let released = 0;
  const range = await timed(async () => {
    released = ((await whole.ipam.perform('address', 'release', { range: whole.range.id })) as { released: unknown[] }).released.length;
  });
  const left = await whole.ipam.store.collection('addresses').count({});
  report('release_range_ms', { addresses: FILL, released, left, ...range, rawDeleteManyMs: raw.ms, ratio: range.ms / raw.ms, aim: '< 3000 ms, stall < 100 ms' });

  const listed = whole.docs.slice(0, 5000).map((doc) => doc.address);
  await insertAddressesCounted(whole.ipam, whole.docs.slice(0, 5000));
  const some = await timed(() => whole.ipam.perform('address', 'release', { addresses: listed }));
  report('release_listed_ms', { addresses: listed.length, ...some });
  await whole.ipam.close();
}

runBench(main, () => {
  for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
});
