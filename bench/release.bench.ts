/**
 * Release benchmark: `release {range}` of 65,000 addresses of a /16 (BENCH_RELEASE_ROUNDS rounds, median, min,
 * max and the first round), and of 5,000 listed addresses, with the longest event-loop stall seen meanwhile. Baseline, measured in the same process on the same
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
import { median, report, runBench } from './common';

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

/** BENCH_RELEASE_ROUNDS: rounds of (baseline, release), interleaved; each on freshly filled stores. */
const ROUNDS = Number(process.env.BENCH_RELEASE_ROUNDS ?? 3);

const spread = (values: number[]) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), first: values[0] });

async function main(): Promise<void> {
  const raw: number[] = [];
  const whole: number[] = [];
  const stalls: number[] = [];
  let last: Awaited<ReturnType<typeof filled>> | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const baseline = await filled(FILL);
    raw.push((await timed(() => baseline.ipam.store.collection('addresses').deleteMany({ rangeId: baseline.range.id }))).ms);
    await baseline.ipam.close();

    last = await filled(FILL);
    const measured = last;
    let released = 0;
    const range = await timed(async () => {
      released = ((await measured.ipam.perform('address', 'release', { range: measured.range.id })) as { released: unknown[] }).released.length;
    });
    if (released !== FILL || (await measured.ipam.store.collection('addresses').count({})) !== 0) throw new Error(`released ${released} of ${FILL}`);
    whole.push(range.ms);
    stalls.push(range.maxStallMs);
    if (round < ROUNDS - 1) await measured.ipam.close();
  }
  report('release_range_ms', {
    addresses: FILL,
    rounds: ROUNDS,
    releaseMs: spread(whole),
    rawDeleteManyMs: spread(raw),
    maxStallMs: Math.max(...stalls),
    ratio: median(whole) / median(raw),
    aim: '< 3000 ms, stall < 100 ms',
  });

  const { ipam, docs } = last!;
  const listed = docs.slice(0, 5000).map((doc) => doc.address);
  await insertAddressesCounted(ipam, docs.slice(0, 5000));
  const some = await timed(() => ipam.perform('address', 'release', { addresses: listed }));
  report('release_listed_ms', { addresses: listed.length, ...some });
  await ipam.close();
}

runBench(main, () => {
  for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
});
