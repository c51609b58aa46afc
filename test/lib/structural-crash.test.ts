/**
 * Crash safety of structural changes (lib/structural.ts): for every structural operation, a child process is
 * killed (SIGKILL) just before its 1st, 2nd, ... write in turn, on a copy of one seeded embedded store; the
 * store is then reopened (Ipam.open runs the recovery pass) and must equal the state before the operation or
 * the state after it (blocks, ranges, every address's rangeId and blockId), with every counter equal to a
 * recount and no journal entry or lock left. Once a kill point gives the after state, every later one must.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ipam } from '../../lib/ipam';
import type { Doc } from '../../lib/store/port';
import { tempDir } from '../support/stores';
import { OPERATIONS } from './structural-crash-child';

const CHILD = path.join(__dirname, 'structural-crash-child.ts');
/** More than one re-map chunk (lib/counters.ts CHUNK = 1000), so a kill can land between two chunks. */
const ADDRESSES = 1200;

describe('structural changes crash safety (child killed at each write)', function () {
  this.timeout(600_000);
  let seed: string;
  let initial: Snapshot;

  before(async () => {
    seed = tempDir('flowipam-structural-seed-');
    const ipam = await Ipam.open({ kind: 'embedded', directory: seed });
    await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
    await ipam.perform('block', 'add', { network: '10.0.0.0/16' });
    await ipam.perform('block', 'add', { network: '10.0.64.0/18' });
    await ipam.perform('range', 'add', { network: '10.0.0.0/21', description: 'wide' });
    await ipam.perform('range', 'add', { network: '10.0.8.0/24', managedByService: 'Non-MS DHCP', serviceInstance: 'Switch' });
    const header = 'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type';
    const rows = Array.from({ length: ADDRESSES }, (_, i) => `10.0.${Math.floor((i + 1) / 256)}.${(i + 1) % 256},IPAM,Localhost,Host,In-Use,Static`);
    // Unmapped (no range of their pair yet): the add-range operation takes them.
    rows.push(...Array.from({ length: ADDRESSES }, (_, i) => `10.0.${16 + Math.floor((i + 1) / 256)}.${(i + 1) % 256},Non-MS DHCP,Router,Host,In-Use,Static`));
    rows.push('10.0.8.7,Non-MS DHCP,Switch,Host,In-Use,Static', '10.0.70.1,IPAM,Localhost,Host,In-Use,Static');
    await ipam.perform('import', 'import', { entity: 'addresses', csv: [header, ...rows].join('\n') });
    initial = await snapshot(ipam);
    await ipam.close();
  });

  for (const name of Object.keys(OPERATIONS)) {
    it(`${name}: every kill point leaves the space as before or as after`, async () => {
      const uninterrupted = copyOf(seed);
      const writes = Number(/^writes (\d+)$/m.exec(await runChild(uninterrupted, name, 0))?.[1]);
      expect(writes, 'writes of the uninterrupted run').to.be.greaterThan(2);
      const after = await reopenedSnapshot(uninterrupted);
      expect(after, 'the operation changes the space').to.not.deep.equal(initial);
      const outcomes: ('before' | 'after')[] = [];
      for (let killAt = 1; killAt <= writes; killAt++) {
        const directory = copyOf(seed);
        await runChild(directory, name, killAt);
        const state = await reopenedSnapshot(directory);
        const outcome = isEqual(state, initial) ? 'before' : isEqual(state, after) ? 'after' : undefined;
        if (!outcome) expect(state, `killed before write ${killAt} of ${writes}: neither before nor after`).to.deep.equal(after);
        outcomes.push(outcome!);
        fs.rmSync(directory, { recursive: true, force: true });
      }
      expect(outcomes[0], 'killed before its first write').to.equal('before');
      const firstAfter = outcomes.indexOf('after');
      expect(firstAfter, 'some kill point is rolled forward').to.be.greaterThan(0);
      expect(outcomes.slice(firstAfter), `outcomes by kill point: ${outcomes.join(' ')}`).to.not.include('before');
      fs.rmSync(uninterrupted, { recursive: true, force: true });
    });
  }
});

interface Snapshot {
  blocks: Record<string, unknown>[];
  ranges: Record<string, unknown>[];
  addresses: string[];
}

function isEqual(a: Snapshot, b: Snapshot): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Opens the store (running the recovery pass), checks what recovery must leave, and snapshots the space. */
async function reopenedSnapshot(directory: string): Promise<Snapshot> {
  const ipam = await Ipam.open({ kind: 'embedded', directory });
  try {
    expect(ipam.recovery.structural.filter((entry) => entry.outcome !== 'completed'), 'recovery deferred nothing').to.deep.equal([]);
    expect(await ipam.store.collection('journal').count({}), 'journal entries left').to.equal(0);
    expect(await ipam.store.collection('locks').count({}), 'locks left').to.equal(0);
    return await snapshot(ipam);
  } finally {
    await ipam.close();
  }
}

/**
 * Blocks, ranges and addresses with ids replaced by the keys they name (a re-run creates new ids) and the
 * timestamps left out; every counter is checked against a recount here.
 */
async function snapshot(ipam: Ipam): Promise<Snapshot> {
  const read = (name: 'blocks' | 'ranges' | 'addresses') => ipam.store.collection(name).find({}, { sort: { key: 1 } });
  const [blocks, ranges, addresses] = await Promise.all([read('blocks'), read('ranges'), read('addresses')]);
  const keyOf = new Map<unknown, unknown>([...blocks, ...ranges].map((doc) => [doc.id, doc.key]));
  const ref = (id: unknown) => (id ? keyOf.get(id) ?? `missing ${String(id)}` : null);
  for (const [docs, field] of [[ranges, 'rangeId'], [blocks, 'blockId']] as const) {
    for (const doc of docs) {
      const counted = addresses.filter((address) => address[field] === doc.id).length;
      expect(doc.assignedCount, `${field === 'rangeId' ? 'range' : 'block'} ${String(doc.network)} counter`).to.equal(counted);
    }
  }
  const plain = (doc: Doc) => {
    const { id: _id, createdAt: _c, updatedAt: _u, parentId, blockId, ...rest } = doc;
    return { ...rest, ...(parentId !== undefined ? { parent: ref(parentId) } : {}), ...(blockId !== undefined ? { block: ref(blockId) } : {}) };
  };
  return {
    blocks: blocks.map(plain),
    ranges: ranges.map(plain),
    addresses: addresses.map((doc) => `${String(doc.address)} range=${String(ref(doc.rangeId))} block=${String(ref(doc.blockId))}`),
  };
}

function copyOf(directory: string): string {
  const copy = tempDir('flowipam-structural-');
  fs.cpSync(directory, copy, { recursive: true });
  return copy;
}

/** Runs the child; with `killAt` it must die by SIGKILL, without it end normally. Resolves with its output. */
function runChild(directory: string, name: string, killAt: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', CHILD, directory, name, String(killAt)], {
      cwd: path.join(__dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => {
      if (killAt > 0 ? signal === 'SIGKILL' : code === 0) resolve(stdout);
      else reject(new Error(`child ${name} (kill at ${killAt}) ended with ${code ?? signal}: ${stderr}`));
    });
  });
}
