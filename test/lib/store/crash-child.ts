/**
 * Child process of crash.test.ts: works on a file-backed embedded store until it is killed (SIGKILL), printing
 * one line per acknowledged write, so the parent can check that every acknowledged write survived.
 *   allocate: `count` 1..32 allocations with a requestId ("begin <requestId> <count>", then "ack <requestId>")
 *   import: address CSV imports in batches of 10 ("begin <n>", "ack <n>" when the whole import returned)
 *   structure: ranges added, updated and deleted in a block ("ack add|update|delete <network>")
 *   hold: takes SQLite's write lock and stays in that transaction ("holding")
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { Ipam } from '../../../lib/ipam';
import type { RangeRecord } from '../../../lib/record';

const [mode, directory, seedText] = process.argv.slice(2);
let seed = Number(seedText) || 1;
const random = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const say = (line: string) => process.stdout.write(`${line}\n`);

async function allocate(ipam: Ipam, rangeId: string): Promise<void> {
  for (let n = 0; ; n++) {
    const count = 1 + random(32);
    // The count is in the requestId: a "begin" line may be lost with the killed process's unflushed output.
    const requestId = `child-${seedText}-${n}-${count}`;
    say(`begin ${requestId} ${count}`);
    await ipam.perform('address', 'allocate', { range: rangeId, count, requestId });
    say(`ack ${requestId}`);
  }
}

async function importAddresses(ipam: Ipam): Promise<void> {
  const header = 'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type';
  for (let n = 0; ; n++) {
    const rows = Array.from({ length: 40 }, (_, i) => `10.${100 + (n % 100)}.${Math.floor(n / 100)}.${i + 1},IPAM,Localhost,Host,In-Use,Static`);
    say(`begin ${n}`);
    await ipam.perform('import', 'import', { entity: 'addresses', csv: [header, ...rows].join('\n'), batchSize: 10 });
    say(`ack ${n}`);
  }
}

async function structure(ipam: Ipam): Promise<void> {
  for (let n = 0; ; n++) {
    const network = `10.50.${n % 250}.0/24`;
    const range = (await ipam.perform('range', 'add', { network, description: `n${n}` })) as RangeRecord;
    say(`ack add ${network}`);
    await ipam.perform('range', 'update', { id: range.id, description: `updated ${n}` });
    say(`ack update ${network}`);
    if (random(3) === 0) {
      await ipam.perform('range', 'delete', { id: range.id });
      say(`ack delete ${network}`);
    }
  }
}

function hold(): void {
  const db = new Database(path.join(directory, 'ipam.sqlite'));
  db.pragma('busy_timeout = 5000');
  db.exec('BEGIN IMMEDIATE');
  db.prepare(`INSERT INTO settings (id, doc) VALUES ('held', '{"name":"held"}')`).run();
  say('holding');
  setInterval(() => undefined, 1000);
}

async function main(): Promise<void> {
  if (mode === 'hold') return hold();
  const ipam = await Ipam.open({ kind: 'embedded', directory });
  const ranges = (await ipam.perform('range', 'list', {})) as RangeRecord[];
  say('ready');
  if (mode === 'allocate') await allocate(ipam, ranges.find((r) => r.network === '10.1.0.0/16')!.id);
  else if (mode === 'import') await importAddresses(ipam);
  else await structure(ipam);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
