/**
 * CSV benchmark (issues 4, 13), embedded in-memory store: import of 100,000 address rows from a file (rows/s,
 * peak heap and RSS) against two baselines measured in the same run (raw csv-parse + raw batched insertMany
 * of equivalent documents; and the same with each row's history entry, which the import writes too). Every
 * side runs on a store opened and seeded beforehand (opening and closing are not timed), in interleaved rounds after a cold warm-up round that is reported on its
 * own; the ratio is of the medians, with min and max. Export of the same set against a raw read + stringify;
 * and the import's memory at 50,000 vs 100,000 rows (into a store that discards the addresses, so only the
 * import pipeline's own memory is measured): heap still in use after a full GC every 10,000 rows, and peaks. One JSON object per line with a `metric` name.
 */
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { newId } from '../lib/ids';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseAddress, addressKey } from '../lib/address';
import type { CsvOutcome } from '../lib/csv';
import { Ipam } from '../lib/ipam';
import { openStore, type Collection, type Doc, type Store } from '../lib/store';
import { median, runBench } from './common';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BATCH = 1000;
const IMPORT_ROUNDS = Number(process.env.BENCH_IMPORT_ROUNDS ?? 3);
const HEADER = 'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type,Device name';
const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'flowipam-import-bench-'));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function emit(metric: string, value: number, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ metric, value: Number(value.toFixed(3)), ...extra, store: 'embedded-memory' }));
}

/** 10.<a>.<b>.<c> for c in 1..250, so every /24 holds 250 rows. */
function addressAt(i: number): string {
  const subnet = Math.floor(i / 250);
  return `10.${Math.floor(subnet / 256)}.${subnet % 256}.${(i % 250) + 1}`;
}

function writeCsv(rows: number): string {
  const file = path.join(directory, `addresses-${rows}.csv`);
  const out = fs.openSync(file, 'w');
  fs.writeSync(out, `${HEADER}\n`);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += `${addressAt(i)},IPAM,Localhost,Host,In-Use,Static,host-${i}\n`;
    if (chunk.length > 1 << 16) {
      fs.writeSync(out, chunk);
      chunk = '';
    }
  }
  fs.writeSync(out, chunk);
  fs.closeSync(out);
  return file;
}

/** Samples heap and RSS while work runs (the import yields between batches, so the timer fires). */
async function measured<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; peakHeapMb: number; peakRssMb: number; baseHeapMb: number }> {
  gc();
  const base = process.memoryUsage();
  let peakHeap = base.heapUsed;
  let peakRss = base.rss;
  const sample = (): void => {
    const now = process.memoryUsage();
    peakHeap = Math.max(peakHeap, now.heapUsed);
    peakRss = Math.max(peakRss, now.rss);
  };
  const timer = setInterval(sample, 10);
  const started = process.hrtime.bigint();
  const value = await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  clearInterval(timer);
  sample();
  const mb = (bytes: number) => bytes / 1024 / 1024;
  return { value, ms, peakHeapMb: mb(peakHeap), peakRssMb: mb(peakRss), baseHeapMb: mb(base.heapUsed) };
}

/** The ranges and block the addresses map to, so mapping does real work. */
async function seed(ipam: Ipam, rows: number): Promise<void> {
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  for (let subnet = 0; subnet * 250 < rows; subnet++) {
    await ipam.perform('range', 'add', { network: `10.${Math.floor(subnet / 256)}.${subnet % 256}.0/24` });
  }
}

/**
 * Raw csv-parse and batched insertMany of equivalent documents into an open store. `withHistory`: each row
 * also gets the history entry an import must write (docs/holds-history.md: every write of an address appends
 * one), as its own document in the history collection, so both sides store the same documents.
 */
async function baseline(store: Store, file: string, withHistory = false): Promise<number> {
  const addresses = store.collection('addresses');
  const history = store.collection('history');
  let batch: Doc[] = [];
  let entries: Doc[] = [];
  let rows = 0;
  let sequence = 0;
  const flush = async (): Promise<void> => {
    await addresses.insertMany(batch);
    if (withHistory) await history.insertMany(entries);
    rows += batch.length;
    batch = [];
    entries = [];
  };
  const parser = fs.createReadStream(file).pipe(parse({ columns: true, trim: true }));
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    const parsed = parseAddress(record['IP address']);
    const now = new Date().toISOString();
    const fields = {
      addressSpace: 'Default', family: parsed.family, address: parsed.text,
      managedByService: record['Managed by service'], serviceInstance: record['Service instance'],
      deviceType: record['Device type'], ipAddressState: record['IP address state'], assignmentType: record['Assignment type'],
      deviceName: record['Device name'],
    };
    const doc = { id: newId(), ...fields, rangeId: null, blockId: null, key: addressKey('Default', parsed.family, parsed.value), createdAt: now, updatedAt: now };
    batch.push(doc);
    if (withHistory) {
      const id = newId();
      // As lib/record/history.ts stores a create: its tracked fields as `created`.
      entries.push({
        id, recordId: doc.id, entity: 'address', key: parsed.text, addressSpace: 'Default', at: now,
        order: `${now}|${String(++sequence).padStart(12, '0')}|${id}`, operation: 'import', source: { importFile: file },
        created: { ...fields, createdAt: now },
      });
    }
    if (batch.length === BATCH) await flush();
  }
  if (batch.length) await flush();
  return rows;
}

/**
 * One round: the three sides (raw, raw with history, import) each on a freshly opened, seeded store (not
 * timed), in the given order. Returns the milliseconds of each side and the peaks of the import side.
 */
async function importRound(file: string, rows: number, order: number): Promise<{ raw: number; rawHistory: number; ours: Awaited<ReturnType<typeof measured>> }> {
  const rawStore = await openStore({ kind: 'embedded' });
  await seed(Ipam.over(rawStore), rows);
  const rawHistoryStore = await openStore({ kind: 'embedded' });
  await seed(Ipam.over(rawHistoryStore), rows);
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  await seed(ipam, rows);
  let raw = 0;
  let rawHistory = 0;
  let ours: Awaited<ReturnType<typeof measured>> | undefined;
  const runRaw = async (): Promise<void> => {
    raw = (await measured(() => baseline(rawStore, file))).ms;
  };
  const runRawHistory = async (): Promise<void> => {
    rawHistory = (await measured(() => baseline(rawHistoryStore, file, true))).ms;
  };
  const runOurs = async (): Promise<void> => {
    ours = await measured(() => importFile(ipam, file));
    const created = (ours.value as Record<string, number>).created;
    if (created !== rows) throw new Error(`import created ${created} of ${rows}`);
  };
  const sides = [runOurs, runRaw, runRawHistory];
  for (let i = 0; i < sides.length; i++) await sides[(i + order) % sides.length]();
  for (const store of [rawStore, rawHistoryStore]) await store.close();
  await ipam.close();
  return { raw, rawHistory, ours: ours! };
}

async function importFile(ipam: Ipam, file: string, onProgress?: (rows: number) => void): Promise<Record<string, number>> {
  const outcome = (await ipam.perform('import', 'import', { entity: 'addresses', filename: file, onProgress })) as CsvOutcome;
  return outcome.payload as Record<string, number>;
}

/** Heap still in use after a full collection, sampled every 10,000 rows during an import. */
async function retainedHeapMb(ipam: Ipam, file: string): Promise<{ maxMb: number; baseMb: number }> {
  gc();
  const base = process.memoryUsage().heapUsed;
  let max = base;
  await importFile(ipam, file, (rows) => {
    if (rows % 10_000 !== 0) return;
    gc();
    max = Math.max(max, process.memoryUsage().heapUsed);
  });
  return { maxMb: max / 1024 / 1024, baseMb: base / 1024 / 1024 };
}

/** A store whose addresses collection keeps nothing: isolates the import pipeline's own memory. */
function discardingAddresses(store: Store): Store {
  const sink: Collection = Object.assign(Object.create(store.collection('addresses')) as Collection, {
    insertMany: async (docs: Doc[]) => ({ inserted: docs.length, failures: [] }),
    insertOne: async () => undefined,
    find: async () => [],
    findOne: async () => null,
  });
  return { kind: store.kind, transactional: false, atomic: () => Promise.resolve(), now: () => store.now(), collection: ((name) => (name === 'addresses' ? sink : store.collection(name))) as Store['collection'], close: () => store.close() };
}

async function main(): Promise<void> {
  const file = writeCsv(ROWS);

  const warmRows = Math.min(10_000, ROWS);
  const cold = await importRound(ROWS === warmRows ? file : writeCsv(warmRows), warmRows, 1);
  emit('import_cold_first_round_ms', cold.ours.ms, { rows: warmRows, rawMs: Math.round(cold.raw), ratio: cold.ours.ms / cold.raw });
  const raws: number[] = [];
  const rawHistories: number[] = [];
  const ourTimes: number[] = [];
  let peaks = { peakHeapMb: 0, peakRssMb: 0 };
  for (let round = 0; round < IMPORT_ROUNDS; round++) {
    const { raw, rawHistory, ours } = await importRound(file, ROWS, round);
    raws.push(raw);
    rawHistories.push(rawHistory);
    ourTimes.push(ours.ms);
    peaks = { peakHeapMb: Math.max(peaks.peakHeapMb, ours.peakHeapMb), peakRssMb: Math.max(peaks.peakRssMb, ours.peakRssMb) };
  }
  const spread = (values: number[]) => ({ min: Math.round(Math.min(...values)), max: Math.round(Math.max(...values)) });
  emit('import_baseline_rows_per_s', (ROWS / median(raws)) * 1000, { rows: ROWS, ms: Math.round(median(raws)), ...spread(raws), rounds: IMPORT_ROUNDS });
  emit('import_baseline_with_history_rows_per_s', (ROWS / median(rawHistories)) * 1000, { rows: ROWS, ms: Math.round(median(rawHistories)), ...spread(rawHistories), rounds: IMPORT_ROUNDS });
  emit('import_rows_per_s', (ROWS / median(ourTimes)) * 1000, { rows: ROWS, ms: Math.round(median(ourTimes)), ...spread(ourTimes), rounds: IMPORT_ROUNDS, peakHeapMb: Math.round(peaks.peakHeapMb), peakRssMb: Math.round(peaks.peakRssMb) });
  emit('import_time_vs_baseline', median(ourTimes) / median(raws), { aim: '<= 2', baseline: 'address documents only' });
  emit('import_time_vs_baseline_with_history', median(ourTimes) / median(rawHistories), { aim: '<= 2', baseline: 'address documents and their history entries' });

  // The store the export reads: one more import, kept open.
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  await seed(ipam, ROWS);
  await importFile(ipam, file);

  const exportFile = path.join(directory, 'export.csv');
  const exported = await measured(() => ipam.perform('import', 'export', { entity: 'addresses', filename: exportFile }) as Promise<CsvOutcome>);
  emit('export_rows_per_s', (ROWS / exported.ms) * 1000, { rows: ROWS, ms: Math.round(exported.ms), peakHeapMb: Math.round(exported.peakHeapMb) });
  const rawExport = await measured(async () => {
    const docs = await ipam.store.collection('addresses').find({}, { sort: { key: 1 } });
    fs.writeFileSync(path.join(directory, 'raw.csv'), stringify(docs.map((d) => [d.address, d.managedByService, d.serviceInstance, d.deviceType, d.ipAddressState, d.assignmentType, d.deviceName])));
  });
  emit('export_raw_rows_per_s', (ROWS / rawExport.ms) * 1000, { ms: Math.round(rawExport.ms), peakHeapMb: Math.round(rawExport.peakHeapMb) });
  emit('export_time_vs_raw', exported.ms / rawExport.ms);
  await ipam.close();

  const working: Record<number, number> = {};
  for (const rows of [50_000, ROWS]) {
    const sinkIpam = Ipam.over(discardingAddresses(await openStore({ kind: 'embedded' })));
    await seed(sinkIpam, ROWS);
    const retained = await retainedHeapMb(sinkIpam, rows === ROWS ? file : writeCsv(rows));
    working[rows] = retained.maxMb - retained.baseMb;
    emit('import_retained_heap_mb', working[rows], { rows });
    await sinkIpam.close();
  }
  // A difference, not a ratio: both are well under a megabyte, where a ratio is noise (or infinite at 0).
  emit('import_retained_heap_growth_mb', working[ROWS] - working[50_000], { from: 50_000, to: ROWS, expect: 'about 0 (does not grow with file size)' });
  fs.rmSync(directory, { recursive: true, force: true });
}

runBench(main);
