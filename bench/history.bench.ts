/**
 * What history (lib/record/history.ts) costs an allocation: the same allocation with its history entry in the batch
 * against one without (`withoutHistory`, a measurement switch), interleaved in this process, warm rounds, the
 * first call of each kind reported as cold. Embedded store in memory and on a file (WAL, fsync per batch);
 * MongoDB adapter over the fake driver: driver calls per allocation (no timing: the fake's speed says nothing
 * about a server's). Also a held allocation and its confirm, with history, for scale.
 */
import { performance } from 'node:perf_hooks';
import type { RangeRecord } from '../lib/record';
import { Ipam } from '../lib/ipam';
import { openStore } from '../lib/store';
import { fakeClientFactory, fakeDeployment } from '../test/support/fake-mongo';
import { median, report } from './common';
import { tempDir } from '../test/support/stores';

const ROUNDS = 9;
const PER_ROUND = 50;

async function range(ipam: Ipam, network: string): Promise<string> {
  return ((await ipam.perform('range', 'add', { network })) as RangeRecord).id;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function embedded(store: 'embedded-memory' | 'embedded-file'): Promise<void> {
  const ipam = Ipam.over(await openStore(store === 'embedded-memory' ? { kind: 'embedded' } : { kind: 'embedded', directory: tempDir('flowipam-bench-') }));
  const plain = await range(ipam, '10.1.0.0/16');
  const recorded = await range(ipam, '10.2.0.0/16');
  const held = await range(ipam, '10.3.0.0/16');
  const off = () => ipam.withoutHistory().perform('address', 'allocate', { range: plain });
  const on = () => ipam.perform('address', 'allocate', { range: recorded });
  const hold = async () => {
    const record = (await ipam.perform('address', 'allocate', { range: held, holdSeconds: 600 })) as { id: string };
    await ipam.perform('address', 'confirm', { id: record.id });
  };
  report('allocate.history.cold', { store, withoutHistoryMs: await timed(off), withHistoryMs: await timed(on) });
  const without: number[] = [];
  const withHistory: number[] = [];
  const holds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < PER_ROUND; i++) {
      without.push(await timed(off));
      withHistory.push(await timed(on));
      holds.push(await timed(hold));
    }
  }
  const a = median(without);
  const b = median(withHistory);
  report('allocate.history.ms', { store, baselineMs: a, withHistoryMs: b, ratio: b / a, samples: without.length });
  report('allocate.holdAndConfirm.ms', { store, baselineMs: a, holdAndConfirmMs: median(holds), ratio: median(holds) / a, samples: holds.length });
  await ipam.close();
}

async function driverCalls(topology: 'replicaSet' | 'standalone'): Promise<void> {
  const deployment = fakeDeployment({ topology });
  const ipam = await Ipam.open({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:27017', database: 'bench', createClient: fakeClientFactory(deployment) });
  const rangeId = await range(ipam, '10.1.0.0/16');
  let calls = 0;
  deployment.faults.push(() => {
    calls++;
    return undefined;
  });
  const count = async (work: () => Promise<unknown>): Promise<number> => {
    calls = 0;
    await work();
    return calls;
  };
  const allocate = () => ipam.perform('address', 'allocate', { range: rangeId });
  const allocateWithoutHistory = () => ipam.withoutHistory().perform('address', 'allocate', { range: rangeId });
  await allocate();
  report('allocate.history.driverCalls', {
    store: `mongodb-fake-${topology}`,
    withoutHistory: await count(allocateWithoutHistory),
    withHistory: await count(allocate),
  });
  await ipam.close();
}

void (async () => {
  await embedded('embedded-memory');
  await embedded('embedded-file');
  await driverCalls('replicaSet');
  await driverCalls('standalone');
})();
