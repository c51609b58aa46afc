/**
 * Structural journal cost (lib/space/structural.ts): a range add + delete on a file-backed embedded store with no
 * addresses to re-map (the case where the journal's share is largest), against a baseline measured in the same
 * process, interleaved: the journal's own work for those two changes alone (per change: the leftover lookup, the
 * entry's insert and its delete, with an entry of the same shape). Cold first calls are reported too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Ipam } from '../lib/ipam';
import type { RangeRecord } from '../lib/record';
import { openStore } from '../lib/store';
import { median, report, runBench } from './common';

const ROUNDS = Number(process.env.BENCH_STRUCTURAL_ROUNDS ?? 200);

async function main(): Promise<void> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'flowipam-bench-'));
  const ipam = Ipam.over(await openStore({ kind: 'embedded', directory }));
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  const journal = ipam.store.collection('journal');
  const sample = (await ipam.perform('range', 'add', { network: '10.255.0.0/24' })) as RangeRecord;
  const stored = await ipam.store.collection('ranges').findOne({ id: sample.id });

  const cycle = async (i: number) => {
    const range = (await ipam.perform('range', 'add', { network: `10.${i % 250}.${Math.floor(i / 250)}.0/24` })) as RangeRecord;
    await ipam.perform('range', 'delete', { id: range.id });
  };
  const journalOnly = async (i: number) => {
    for (const op of ['add-range', 'delete-range']) {
      await journal.findOne({ name: 'structural|bench' });
      const id = `bench-${i}-${op}`;
      await journal.insertOne({ id, name: 'structural|bench', kind: 'structural', addressSpace: 'bench', change: { op, range: stored }, owner: 'bench', lockId: 'bench', createdAt: new Date().toISOString() });
      await journal.deleteOne({ id, owner: 'bench' });
    }
  };
  const time = async (work: () => Promise<void>) => {
    const start = performance.now();
    await work();
    return performance.now() - start;
  };
  const cold = { cycle: await time(() => cycle(0)), journal: await time(() => journalOnly(0)) };
  const cycles: number[] = [];
  const journals: number[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    cycles.push(await time(() => cycle(i)));
    journals.push(await time(() => journalOnly(i)));
  }
  report('structural_range_add_delete', {
    rounds: ROUNDS,
    cycleMs: median(cycles),
    journalMs: median(journals),
    journalShare: median(journals) / median(cycles),
    coldCycleMs: cold.cycle,
    coldJournalMs: cold.journal,
    note: 'journalShare: the journal writes of one add + delete over the whole add + delete (no addresses to re-map)',
  });
  await ipam.close();
  fs.rmSync(directory, { recursive: true, force: true });
}

runBench(main);
