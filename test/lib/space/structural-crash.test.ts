/**
 * Crash safety of structural changes (lib/space/structural.ts): for every structural operation, a child process is
 * killed (SIGKILL) just before its 1st, 2nd, ... write in turn, on a copy of one seeded embedded store; the
 * store is then reopened (Ipam.open runs the recovery pass) and must equal the state before the operation or
 * the state after it (blocks, ranges, every address's rangeId and blockId), with every counter equal to a
 * recount and no journal entry or lock left. Once a kill point gives the after state, every later one must.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ipam } from '../../../lib/ipam';
import { isEqual, seedSpace, snapshot, type Snapshot } from '../../support/space-snapshot';
import { tempDir } from '../../support/stores';
import { OPERATIONS } from './structural-crash-child';

const CHILD = path.join(__dirname, 'structural-crash-child.ts');
/** Addresses per pair: more than one re-map chunk (lib/space/counters.ts CHUNK = 1000), so a kill can land between two chunks. */
const ADDRESSES = 1200;

describe('structural changes crash safety (child killed at each write)', function () {
  this.timeout(600_000);
  let seed: string;
  let initial: Snapshot;

  before(async () => {
    seed = tempDir('flowipam-structural-seed-');
    const ipam = await Ipam.open({ kind: 'embedded', directory: seed });
    await seedSpace(ipam, ADDRESSES);
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
      const outcomes = await inParallel(writes, async (killAt) => {
        const directory = copyOf(seed);
        await runChild(directory, name, killAt);
        const state = await reopenedSnapshot(directory);
        fs.rmSync(directory, { recursive: true, force: true });
        const outcome = isEqual(state, initial) ? 'before' : isEqual(state, after) ? 'after' : undefined;
        if (!outcome) expect(state, `killed before write ${killAt} of ${writes}: neither before nor after`).to.deep.equal(after);
        return outcome!;
      });
      expect(outcomes[0], 'killed before its first write').to.equal('before');
      const firstAfter = outcomes.indexOf('after');
      expect(firstAfter, 'some kill point is rolled forward').to.be.greaterThan(0);
      expect(outcomes.slice(firstAfter), `outcomes by kill point: ${outcomes.join(' ')}`).to.not.include('before');
      fs.rmSync(uninterrupted, { recursive: true, force: true });
    });
  }
});

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

/** Runs `trial(1..count)`, two at a time (each is mostly a child process); results in order. */
async function inParallel<T>(count: number, trial: (n: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 1;
  const worker = async () => {
    for (let n = next++; n <= count; n = next++) results[n - 1] = await trial(n);
  };
  await Promise.all([worker(), worker()]);
  return results;
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
      cwd: path.join(__dirname, '../../..'),
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
