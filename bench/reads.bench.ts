/**
 * Cost of deriving expiryStatus on reads (lib/record/records.ts toRecord): `list` of N addresses that carry an
 * expiryDate against `list` of N that carry none, in two address spaces of one store, warm and
 * interleaved; the first (cold) call of each is reported too. One JSON object per line with a `metric` name.
 */
import { performance } from 'node:perf_hooks';
import { Ipam } from '../lib/ipam';
import { median, report, runBench } from './common';

const N = Number(process.env.BENCH_READS ?? 5000);
const ROUNDS = 15;
const DAY = 86_400_000;

async function main(): Promise<void> {
  const ipam = await Ipam.open({ kind: 'embedded' });
  const docs = (space: string, withDate: boolean) =>
    Array.from({ length: N }, (_, i) => ({
      address: `10.${Math.floor(i / 65536) % 256}.${Math.floor(i / 256) % 256}.${i % 256}`,
      addressSpace: space,
      deviceName: `h${i}`,
      ...(withDate ? { expiryDate: new Date(Date.now() + ((i % 40) - 20) * DAY).toISOString().slice(0, 10) } : {}),
    }));
  for (const input of [...docs('Dated', true), ...docs('Plain', false)]) await ipam.perform('address', 'add', input);
  const list = (space: string) => ipam.perform('address', 'list', { addressSpace: space }) as Promise<unknown[]>;
  const time = async (space: string): Promise<number> => {
    const start = performance.now();
    const records = await list(space);
    if (records.length !== N) throw new Error(`expected ${N} records, got ${records.length}`);
    return performance.now() - start;
  };
  const cold = { derived: await time('Dated'), baseline: await time('Plain') };
  const derived: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2) {
      derived.push(await time('Dated'));
      baseline.push(await time('Plain'));
    } else {
      baseline.push(await time('Plain'));
      derived.push(await time('Dated'));
    }
  }
  report('list-derived-expiry-status', {
    addresses: N,
    derivedMs: median(derived),
    baselineMs: median(baseline),
    ratio: median(derived) / median(baseline),
    coldDerivedMs: cold.derived,
    coldBaselineMs: cold.baseline,
  });
  await ipam.close();
}

runBench(main);
