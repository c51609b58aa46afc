/**
 * Crash safety of import-and-update: a child process applying a large plan on a file-backed embedded
 * store is killed (SIGKILL); reopening the store (whose recovery pass finishes its journals) leaves the pair exactly as the file says
 * (killed while applying) or exactly as it was (killed before the first change), never a mix.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { tempDir } from '../../support/stores';

const PAIR = { managedByService: 'Non-MS DHCP', serviceInstance: 'Switch' };
const OTHER = { managedByService: 'Non-MS DHCP', serviceInstance: 'Router' };
const CHILD = path.join(__dirname, 'crash-child.ts');

/** Stored: ranges 10.<a>.<b>.0/24 for i in [0, 400) of the pair. File: i in [200, 700), a third of them changed. */
const network = (i: number) => `10.${20 + Math.floor(i / 256)}.${i % 256}.0/24`;
const fileRow = (i: number) => {
  const [a, b] = [20 + Math.floor(i / 256), i % 256];
  const changed = i % 3 === 0;
  return `10.${a}.${b}.0/24,10.${a}.${b}.1,10.${a}.${b}.254,${changed ? 'Static' : 'Dynamic'},${changed ? `changed ${i}` : ''}`;
};

describe('import-and-update crash safety (child process killed)', function () {
  this.timeout(120_000);
  let directory: string;
  let filename: string;

  beforeEach(async () => {
    directory = tempDir('flowipam-crash-');
    filename = path.join(directory, 'ranges.csv');
    const ipam = await Ipam.open({ kind: 'embedded', directory });
    for (let i = 0; i < 400; i++) {
      await ipam.perform('range', 'add', { network: network(i), ...PAIR, assignmentType: 'Dynamic' });
    }
    for (let i = 0; i < 20; i++) await ipam.perform('range', 'add', { network: `10.90.${i}.0/24`, ...OTHER });
    await ipam.perform('address', 'add', { address: '10.20.5.9', ...PAIR });
    await ipam.perform('address', 'add', { address: '10.21.200.9', ...PAIR });
    await ipam.close();
    const rows = Array.from({ length: 500 }, (_, k) => fileRow(200 + k));
    fs.writeFileSync(filename, ['Network,Start IP address,End IP address,Assignment type,Description', ...rows].join('\n'));
  });

  it('rolls an interrupted apply forward on the next start: the pair is exactly the file', async () => {
    const seen = await runChildUntil(directory, filename, /^applying (\d+)$/, (n) => n >= 120);
    expect(seen).to.be.within(120, 699);
    const ipam = await reopen(directory);
    try {
      expect(ipam.recovery.imports, 'finished by the recovery pass of open').to.deep.equal([
        { name: 'import-and-update|Non-MS DHCP|Switch', outcome: 'completed' },
      ]);
      await expectPairIsFile(ipam);
    } finally {
      await ipam.close();
    }
  });

  it('leaves the pair as it was when killed before the first change', async () => {
    await runChildUntil(directory, filename, /^checking (\d+)$/, () => true, 'checking');
    const ipam = await reopen(directory);
    try {
      expect(await ipam.store.collection('journal').count({})).to.equal(0);
      expect(ipam.recovery).to.deep.equal({ structural: [], imports: [] });
      const ranges = (await ipam.perform('range', 'list', PAIR)) as RangeRecord[];
      expect(ranges.map((r) => r.network)).to.deep.equal(Array.from({ length: 400 }, (_, i) => network(i)));
      expect(ranges.every((r) => r.assignmentType === 'Dynamic' && r.description === undefined)).to.equal(true);
    } finally {
      await ipam.close();
    }
  });
});

async function expectPairIsFile(ipam: Ipam): Promise<void> {
  const ranges = (await ipam.perform('range', 'list', PAIR)) as RangeRecord[];
  const expected = Array.from({ length: 500 }, (_, k) => fileRow(200 + k).split(','));
  expect(ranges.map((r) => [r.network, r.startAddress, r.endAddress, r.assignmentType, r.description ?? ''])).to.deep.equal(expected);
  expect(await ipam.perform('range', 'list', OTHER)).to.have.length(20);
  expect(await ipam.store.collection('journal').count({})).to.equal(0);
  const addresses = (await ipam.perform('address', 'list', {})) as AddressRecord[];
  const byAddress = new Map(addresses.map((a) => [a.address, a.rangeId]));
  expect(byAddress.get('10.20.5.9'), 'address of a deleted range').to.equal(null);
  const kept = ranges.find((r) => r.network === '10.21.200.0/24')!;
  expect(byAddress.get('10.21.200.9'), 'address of a kept range').to.equal(kept.id);
}

/** Opens the store the killed child held: the recovery pass releases its space lock and finishes its journals. */
function reopen(directory: string): Promise<Ipam> {
  return Ipam.open({ kind: 'embedded', directory });
}

/** Runs the child and SIGKILLs it once a progress line matches `until`; returns the number it saw. */
function runChildUntil(
  directory: string,
  filename: string,
  pattern: RegExp,
  until: (n: number) => boolean,
  stallIn = '',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', CHILD, directory, filename, PAIR.managedByService, PAIR.serviceInstance, stallIn], {
      cwd: path.join(__dirname, '../../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    let stderr = '';
    let killedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const match = pattern.exec(line);
        if (killedAt === undefined && match && until(Number(match[1]))) {
          killedAt = Number(match[1]);
          child.kill('SIGKILL');
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killedAt !== undefined) resolve(killedAt);
      else reject(new Error(`child ended (${code ?? signal}) before it was killed: ${stderr}`));
    });
  });
}
