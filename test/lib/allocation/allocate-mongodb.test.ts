/**
 * Allocation across store connections on MongoDB: two MongoClients in this process, and a second
 * Node.js process, allocate from one range at once. Only the unique index can keep them apart (the
 * in-process candidate set is not shared with another process). Needs a server (see test/support/stores.ts:
 * MONGOMS_SYSTEM_BINARY or IPAM_TEST_MONGODB_URI); skipped, and counted as skipped, without one.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { mongoSkipReason, mongodb, mongoUri, NEEDS_MONGOD } from '../../support/stores';

let uri = '';

/** Runs `count` allocations (with `requestId` prefix, when given) in a separate Node.js process. */
function allocateInChild(database: string, rangeId: string, count: number, requestPrefix?: string): Promise<string[]> {
  const root = path.resolve(__dirname, '../../..');
  const script = `
    const { Ipam } = require(${JSON.stringify(path.join(root, 'lib/ipam.ts'))});
    (async () => {
      const ipam = await Ipam.open({ kind: 'mongodb', uri: process.env.IPAM_TEST_MONGODB_URI, database: ${JSON.stringify(database)} });
      const jobs = Array.from({ length: ${count} }, (_, i) => ipam.perform('address', 'allocate', {
        range: ${JSON.stringify(rangeId)}, ${requestPrefix ? `requestId: ${JSON.stringify(requestPrefix)} + (i % 10),` : ''}
      }));
      const records = await Promise.all(jobs);
      process.stdout.write(JSON.stringify(records.map((r) => r.address)));
      await ipam.close();
    })().catch((err) => { console.error(err); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, IPAM_TEST_MONGODB_URI: uri },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child failed: ${err}`))));
  });
}

describe(`allocation across MongoDB connections ${NEEDS_MONGOD}`, function () {
  this.timeout(60_000);
  const database = `flowipam_alloc_${randomUUID().slice(0, 8)}`;
  let first: Ipam;
  let second: Ipam;

  before(async function () {
    if (mongoSkipReason()) return; // each test is skipped by test/support/mongo-hooks.ts, with the reason
    uri = await mongoUri();
    first = await Ipam.open({ kind: 'mongodb', uri, database });
    second = await Ipam.open({ kind: 'mongodb', uri, database });
  });

  after(async () => {
    for (const name of ['blocks', 'ranges', 'addresses', 'locks'] as const) await first?.store.collection(name).deleteMany({});
    await first?.close();
    await second?.close();
    await mongodb.shutdown?.();
  });

  it('200 allocations split across two MongoClients give 200 distinct addresses', async () => {
    const range = (await first.perform('range', 'add', { network: '10.50.0.0/24' })) as RangeRecord;
    const records = (await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? first : second).perform('address', 'allocate', { range: range.id })),
    )) as AddressRecord[];
    expect(new Set(records.map((r) => r.address)).size).to.equal(200);
    expect(await first.store.collection('addresses').count({ rangeId: range.id })).to.equal(200);
  });

  it('200 allocations split across two processes give 200 distinct addresses', async () => {
    const range = (await first.perform('range', 'add', { network: '10.51.0.0/24' })) as RangeRecord;
    const [child, local] = await Promise.all([
      allocateInChild(database, range.id, 100),
      Promise.all(Array.from({ length: 100 }, () => first.perform('address', 'allocate', { range: range.id }))),
    ]);
    const all = [...child, ...(local as AddressRecord[]).map((r) => r.address)];
    expect(new Set(all).size).to.equal(200);
    expect(await first.store.collection('addresses').count({ rangeId: range.id })).to.equal(200);
  });

  it('the same requestIds from two processes at once give one address each', async () => {
    const range = (await first.perform('range', 'add', { network: '10.52.0.0/24' })) as RangeRecord;
    const [child, local] = await Promise.all([
      allocateInChild(database, range.id, 30, 'req-'),
      Promise.all(Array.from({ length: 30 }, (_, i) => second.perform('address', 'allocate', { range: range.id, requestId: `req-${i % 10}` }))),
    ]);
    expect(new Set([...child, ...(local as AddressRecord[]).map((r) => r.address)]).size).to.equal(10);
    expect(await first.store.collection('addresses').count({ rangeId: range.id })).to.equal(10);
  });
});
