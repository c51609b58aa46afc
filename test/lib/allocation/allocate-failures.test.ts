/**
 * Allocation and release when the store fails part-way (the MongoDB adapter over the fake driver, which
 * fails a chosen call with the driver's own error): nothing freed is hidden, nothing allocated is leaked
 * without a word.
 */
import { expect } from 'chai';
import { mock } from 'node:test';
import { MongoBulkWriteError, MongoNetworkError } from 'mongodb';
import { addressKey, parseAddress } from '../../../lib/address';
import { refreshHints } from '../../../lib/allocation';
import { IpamError } from '../../../lib/errors';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { FakeCollection, failNext, fakeClientFactory, fakeDeployment, type FakeDeployment } from '../../support/fake-mongo';

function open(deployment: FakeDeployment): Promise<Ipam> {
  return Ipam.open({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:27017', database: 'test', createClient: fakeClientFactory(deployment) });
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BulkWriteResult } = require('mongodb/lib/bulk/common') as { BulkWriteResult: new (r: unknown, o: boolean) => never };

/** The connection drops mid-allocation: the history insert fails, and so does the undo's delete of the address. */
function loseBatchAndUndo(deployment: FakeDeployment): void {
  failNext(deployment, 'insertOne', new MongoNetworkError('connection reset'), { collection: 'history' });
  failNext(deployment, 'deleteOne', new MongoNetworkError('connection reset'), { collection: 'addresses' });
}

/** Every journaled batch stale, as a minute without heartbeats (by the server's clock) leaves it. */
function ageBatches(deployment: FakeDeployment): void {
  for (const doc of deployment.databases.get('test')?.get('journal')?.docs ?? []) doc.heartbeatAt = new Date(0);
}

/**
 * Runs `around` in place of each hint-lowering write (a `$min` on `ranges`) the fake driver gets, numbered from 1,
 * with `write` to apply it; returns what puts the driver back.
 */
function aroundHintWrites(around: (n: number, write: () => Promise<unknown>) => Promise<unknown>): () => void {
  const updateOne = FakeCollection.prototype.updateOne;
  let n = 0;
  FakeCollection.prototype.updateOne = function (this: FakeCollection, ...args: Parameters<typeof updateOne>) {
    if (this.name !== 'ranges' || !(args[1] as { $min?: unknown }).$min) return updateOne.apply(this, args);
    return around(++n, () => updateOne.apply(this, args)) as ReturnType<typeof updateOne>;
  };
  return () => {
    FakeCollection.prototype.updateOne = updateOne;
  };
}

async function rejection(promise: Promise<unknown>): Promise<IpamError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).to.be.instanceOf(IpamError);
  return err as IpamError;
}

describe('allocation, release and CSV import under store failures', () => {
  it('a release that fails part-way never leaves a freed address unallocatable', async () => {
    const deployment = fakeDeployment();
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.5.0.0/29' })) as RangeRecord;
    const taken = (await ipam.perform('address', 'allocate', { range: range.id, count: 6 })) as AddressRecord[];
    expect(taken).to.have.length(6);
    expect((await rejection(ipam.perform('address', 'allocate', { range: range.id }))).code).to.equal('RANGE_FULL');
    failNext(deployment, 'updateOne', new MongoNetworkError('connection reset'), { collection: 'ranges' });
    const err = await rejection(ipam.perform('address', 'release', { addresses: ['10.5.0.3'] }));
    expect(err.code).to.equal('STORE_UNAVAILABLE');
    const still = await ipam.store.collection('addresses').count({ address: '10.5.0.3' });
    if (still === 0) {
      // Freed: then allocation must find it.
      const next = (await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord;
      expect(next.address).to.equal('10.5.0.3');
    }
    // Either way a retried release frees it for the next allocation.
    await ipam.perform('address', 'release', { addresses: ['10.5.0.3'] }).catch(() => undefined);
    const again = (await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord;
    expect(again.address).to.equal('10.5.0.3');
    await ipam.close();
  });

  for (const topology of ['replicaSet', 'standalone'] as const) {
    it(`a count > 1 allocation that fails part-way leaves none of its addresses (${topology})`, async () => {
      const deployment = fakeDeployment({ topology });
      const ipam = await open(deployment);
      const range = (await ipam.perform('range', 'add', { network: '10.6.0.0/29' })) as RangeRecord;
      await ipam.perform('address', 'add', { address: '10.6.0.3' });
      // The third insert and then every delete fail: the outage outlasts the call.
      let inserts = 0;
      deployment.faults.push((method, collection) => {
        if (collection !== 'addresses') return undefined;
        if (method === 'insertOne' && ++inserts === 3) return new MongoNetworkError('connection reset');
        if (method === 'deleteOne' && inserts >= 3) return new MongoNetworkError('connection reset');
        return undefined;
      });
      const err = await rejection(ipam.perform('address', 'allocate', { range: range.id, count: 4 }));
      expect(err.code).to.equal('STORE_UNAVAILABLE');
      deployment.faults = [];
      await ipam.close();
      // A standalone undoes the journaled batch at the next open once its heartbeat has lapsed.
      ageBatches(deployment);
      const reopened = await open(deployment);
      const left = (await reopened.store.collection<AddressRecord & { id: string }>('addresses').find({ rangeId: range.id })).map((doc) => doc.address);
      expect(left).to.deep.equal(['10.6.0.3']);
      await reopened.close();
    });
  }

  it('a batch a standalone undid lowers the hint and bumps the version, as a release does', async () => {
    // Its addresses were stored until the undo: another process may have met them taken and moved past them.
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.8.0.0/24' })) as RangeRecord;
    for (let i = 0; i < 4; i++) await ipam.perform('address', 'allocate', { range: range.id });
    await ipam.perform('address', 'release', { addresses: ['10.8.0.1', '10.8.0.2'] });
    const ranges = ipam.store.collection<RangeRecord & { id: string; hintVersion: number; freeHint: string }>('ranges');
    const before = (await ranges.findOne({ id: range.id }))!;
    // The count-2 batch stores .1 and .2, then its history entry fails (network) and the journal undoes it.
    failNext(deployment, 'insertOne', new MongoNetworkError('connection reset'), { collection: 'history' });
    expect((await rejection(ipam.perform('address', 'allocate', { range: range.id, count: 2 }))).code).to.equal('STORE_UNAVAILABLE');
    const after = (await ranges.findOne({ id: range.id }))!;
    expect(await ipam.store.collection('addresses').count({ rangeId: range.id })).to.equal(2);
    expect(after.hintVersion).to.be.greaterThan(before.hintVersion);
    expect(after.freeHint <= before.freeHint).to.equal(true);
    // Every process's own hint and kept list are valid for one version only: with it bumped, all start from .1.
    expect(((await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord).address).to.equal('10.8.0.1');
    await ipam.close();
  });

  it('a batch whose undo failed too lowers the hint when the recovery pass undoes it (standalone)', async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const first = await open(deployment);
    const range = (await first.perform('range', 'add', { network: '10.9.0.0/24' })) as RangeRecord;
    loseBatchAndUndo(deployment);
    expect((await rejection(first.perform('address', 'allocate', { range: range.id }))).code).to.equal('STORE_UNAVAILABLE');
    await first.close();
    // Meanwhile another process meets 10.9.0.1 stored and moves the stored hint past it.
    const second = await open(deployment);
    for (let i = 0; i < 80; i++) await second.perform('address', 'allocate', { range: range.id });
    await second.close();
    // Once the batch's heartbeat has lapsed, the next open undoes it: 10.9.0.1 is free, and found.
    ageBatches(deployment);
    const third = await open(deployment);
    expect(await third.store.collection('addresses').count({ address: '10.9.0.1' })).to.equal(0);
    expect(((await third.perform('address', 'allocate', { range: range.id })) as AddressRecord).address).to.equal('10.9.0.1');
    await third.close();
  });

  it('an address insert whose reply was lost is undone with its batch (standalone)', async () => {
    // The server stored the address, then the connection dropped before its answer: a standalone does not retry.
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.10.0.0/24' })) as RangeRecord;
    let lost = false;
    deployment.lostReplies = [(method, collection) => (method === 'insertOne' && collection === 'addresses' && !lost ? ((lost = true), new MongoNetworkError('connection reset')) : undefined)];
    expect((await rejection(ipam.perform('address', 'allocate', { range: range.id, requestId: 'r1' }))).code).to.equal('STORE_UNAVAILABLE');
    expect(await ipam.store.collection('addresses').count({})).to.equal(0);
    expect(await ipam.store.collection('history').count({ entity: 'address' })).to.equal(0);
    expect(await ipam.store.collection('journal').count({})).to.equal(0);
    expect(((await ipam.perform('address', 'allocate', { range: range.id, requestId: 'r1' })) as AddressRecord).address).to.equal('10.10.0.1');
    await ipam.close();
  });

  it('a batch whose undo failed is taken up by its own process once stale (standalone)', async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const store = ipam.store as unknown as { recoverBatches(): Promise<unknown>; recoveryTimer?: NodeJS.Timeout };
    const range = (await ipam.perform('range', 'add', { network: '10.11.0.0/24' })) as RangeRecord;
    loseBatchAndUndo(deployment);
    expect((await rejection(ipam.perform('address', 'allocate', { range: range.id }))).code).to.equal('STORE_UNAVAILABLE');
    // The recovery pass is due once the entry is stale (BATCH_STALE_MS); here it runs as that timer would run it.
    expect(store.recoveryTimer, 'recovery scheduled').to.not.equal(undefined);
    ageBatches(deployment);
    await store.recoverBatches();
    expect(await ipam.store.collection('addresses').count({})).to.equal(0);
    expect(((await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord).address).to.equal('10.11.0.1');
    await ipam.close();
  });

  it('the recovery timer runs the pass by itself once the batch is stale, and again after a pass that failed (standalone)', async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const store = ipam.store as unknown as { recoveryTimer?: NodeJS.Timeout };
    const range = (await ipam.perform('range', 'add', { network: '10.12.0.0/24' })) as RangeRecord;
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    // BATCH_STALE_MS + BATCH_HEARTBEAT_MS (lib/store/mongodb.ts): the pass waits a heartbeat past staleness.
    const delay = 70_000;
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      loseBatchAndUndo(deployment);
      expect((await rejection(ipam.perform('address', 'allocate', { range: range.id }))).code).to.equal('STORE_UNAVAILABLE');
      expect(await ipam.store.collection('addresses').count({}), 'left by the failed undo').to.equal(1);
      ageBatches(deployment);
      mock.timers.tick(delay - 1);
      await settle();
      expect(await ipam.store.collection('addresses').count({}), 'no pass before it is due').to.equal(1);
      failNext(deployment, 'find', new MongoNetworkError('connection reset'), { collection: 'journal' });
      mock.timers.tick(1);
      await settle();
      expect(await ipam.store.collection('addresses').count({}), 'the first pass failed').to.equal(1);
      expect(store.recoveryTimer, 'another pass scheduled').to.not.equal(undefined);
      mock.timers.tick(delay);
      await settle();
      expect(await ipam.store.collection('journal').count({})).to.equal(0);
      expect(await ipam.store.collection('addresses').count({})).to.equal(0);
      expect(store.recoveryTimer, 'nothing left to retry').to.equal(undefined);
    } finally {
      mock.timers.reset();
    }
    expect(((await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord).address).to.equal('10.12.0.1');
    await ipam.close();
  });

  it("an undone release does not take back another process's lower hint (standalone)", async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.13.0.0/24' })) as RangeRecord;
    await ipam.perform('address', 'allocate', { range: range.id, count: 100 });
    const collection = (name: string) => deployment.databases.get('test')!.get(name)!;
    const rangeDoc = () => collection('ranges').docs.find((doc) => doc._id === range.id)!;
    const keyOf = (address: string) => addressKey('Default', 4, parseAddress(address).value);
    rangeDoc().freeHint = keyOf('10.13.0.101');
    // While this release of 10.13.0.50 runs, another process releases 10.13.0.30 (lowering the hint, with a new
    // version); then this release's delete fails, and its batch is undone.
    let done = false;
    deployment.faults.push((method, name) => {
      if (done || method !== 'deleteOne' || name !== 'addresses') return undefined;
      done = true;
      collection('addresses').docs = collection('addresses').docs.filter((doc) => doc.address !== '10.13.0.30');
      rangeDoc().freeHint = keyOf('10.13.0.30');
      rangeDoc().hintVersion = (rangeDoc().hintVersion as number) + 1;
      return new MongoNetworkError('connection reset');
    });
    expect((await rejection(ipam.perform('address', 'release', { addresses: ['10.13.0.50'] }))).code).to.equal('STORE_UNAVAILABLE');
    expect(await ipam.store.collection('addresses').count({ address: '10.13.0.50' }), 'the release was undone').to.equal(1);
    expect(rangeDoc().freeHint).to.equal(keyOf('10.13.0.30'));
    expect(((await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord).address).to.equal('10.13.0.30');
    await ipam.close();
  });

  it('an undone address move lowers the hint of the range it had moved into (standalone)', async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const from = (await ipam.perform('range', 'add', { network: '10.14.0.0/24' })) as RangeRecord;
    const into = (await ipam.perform('range', 'add', { network: '10.14.1.0/24' })) as RangeRecord;
    const moving = (await ipam.perform('address', 'allocate', { range: from.id })) as AddressRecord & { id: string };
    await ipam.perform('address', 'allocate', { range: into.id, count: 5 });
    const rangeDoc = () => deployment.databases.get('test')!.get('ranges')!.docs.find((doc) => doc._id === into.id)!;
    // The move stores 10.14.1.6; another process meets it taken and moves the hint past it; then the move's
    // counter write fails and its batch is undone.
    let done = false;
    deployment.faults.push((method, name) => {
      if (done || method !== 'updateOne' || name !== 'counters') return undefined;
      done = true;
      rangeDoc().freeHint = addressKey('Default', 4, parseAddress('10.14.1.7').value);
      return new MongoNetworkError('connection reset');
    });
    const moved = ipam.perform('address', 'update', { id: moving.id, address: '10.14.1.6' });
    expect((await rejection(moved)).code).to.equal('STORE_UNAVAILABLE');
    expect(done, 'the fault was met').to.equal(true);
    expect(((await ipam.perform('address', 'get', { id: moving.id })) as AddressRecord).address, 'the move was undone').to.equal('10.14.0.1');
    expect(((await ipam.perform('address', 'allocate', { range: into.id })) as AddressRecord).address).to.equal('10.14.1.6');
    await ipam.close();
  });

  it('an allocation between a release\'s hint write and its delete does not hide the freed address (standalone)', async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.20.0.0/24' })) as RangeRecord;
    await ipam.perform('address', 'allocate', { range: range.id, count: 10 });
    // Right after the release's first hint write, before its delete, an allocation of this process runs: it
    // still meets 10.20.0.5 taken, and moves its hint past it under the version the release set.
    const between: string[] = [];
    const restore = aroundHintWrites(async (n, write) => {
      const result = await write();
      if (n === 1) between.push(((await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord).address);
      return result;
    });
    try {
      await ipam.perform('address', 'release', { addresses: ['10.20.0.5'] });
    } finally {
      restore();
    }
    expect(between).to.deep.equal(['10.20.0.11']);
    expect(((await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord).address).to.equal('10.20.0.5');
    await ipam.close();
  });

  it('a release whose second hint write fails is undone whole, and its retry frees the address for find (standalone)', async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.30.0.0/29' })) as RangeRecord;
    await ipam.perform('address', 'allocate', { range: range.id, count: 6 });
    // After the first hint write an allocation finds the range full and parks the hint past its end, under the
    // version that write set; the second hint write, just before the commit, fails.
    const between: string[] = [];
    const restore = aroundHintWrites(async (n, write) => {
      if (n === 2) throw new MongoNetworkError('connection reset');
      const result = await write();
      between.push((await rejection(ipam.perform('address', 'allocate', { range: range.id }))).code);
      return result;
    });
    try {
      expect((await rejection(ipam.perform('address', 'release', { addresses: ['10.30.0.3'] }))).code).to.equal('STORE_UNAVAILABLE');
    } finally {
      restore();
    }
    expect(between).to.deep.equal(['RANGE_FULL']);
    expect(await ipam.store.collection('addresses').count({ address: '10.30.0.3' }), 'the failed release is undone').to.equal(1);
    expect(await ipam.store.collection('journal').count({})).to.equal(0);
    await ipam.perform('address', 'release', { addresses: ['10.30.0.3'] });
    expect(await ipam.perform('address', 'find', { range: range.id })).to.deep.equal(['10.30.0.3']);
    await ipam.close();
  });

  it("hints refreshed after an import do not take back another process's lower hint when one write fails (standalone)", async () => {
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const first = (await ipam.perform('range', 'add', { network: '10.23.0.0/24' })) as RangeRecord;
    const second = (await ipam.perform('range', 'add', { network: '10.23.1.0/24' })) as RangeRecord;
    await ipam.perform('address', 'allocate', { range: first.id, count: 100 });
    await ipam.perform('address', 'allocate', { range: second.id, count: 10 });
    const collection = (name: string) => deployment.databases.get('test')!.get(name)!;
    const rangeDoc = (id: string) => collection('ranges').docs.find((doc) => doc._id === id)!;
    const keyOf = (address: string) => addressKey('Default', 4, parseAddress(address).value);
    rangeDoc(first.id).freeHint = keyOf('10.23.0.60'); // lagging, as an import leaves it
    rangeDoc(second.id).freeHint = keyOf('10.23.1.1');
    // After the first range's hint write, another process releases 10.23.0.50; then the second write fails.
    let writes = 0;
    deployment.faults.push((method, name) => {
      if (method !== 'updateOne' || name !== 'ranges' || ++writes !== 2) return undefined;
      collection('addresses').docs = collection('addresses').docs.filter((doc) => doc.address !== '10.23.0.50');
      rangeDoc(first.id).freeHint = keyOf('10.23.0.50');
      rangeDoc(first.id).hintVersion = (rangeDoc(first.id).hintVersion as number) + 1;
      return new MongoNetworkError('connection reset');
    });
    expect((await rejection(refreshHints(ipam, [first.id, second.id]))).code).to.equal('STORE_UNAVAILABLE');
    expect(rangeDoc(first.id).freeHint).to.equal(keyOf('10.23.0.50'));
    expect(((await ipam.perform('address', 'allocate', { range: first.id })) as AddressRecord).address).to.equal('10.23.0.50');
    await ipam.close();
  });

  it('a CSV import whose bulk insert lost the server counts no rows as written', async () => {
    // A standalone imports in bulk (insertMany); a replica set in one transaction per batch.
    const deployment = fakeDeployment({ topology: 'standalone' });
    const ipam = await open(deployment);
    const csv = [
      'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type',
      '10.7.0.1,IPAM,Localhost,Host,In-Use,Static',
      '10.7.0.2,IPAM,Localhost,Host,In-Use,Static',
    ].join('\n');
    const empty = new BulkWriteResult(
      { ok: 1, writeErrors: [], writeConcernErrors: [], insertedIds: [], nInserted: 0, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [] },
      false,
    );
    failNext(deployment, 'insertMany', new MongoBulkWriteError(new MongoNetworkError('connection reset') as never, empty), { collection: 'addresses' });
    const outcome = await ipam.perform('import', 'import', { entity: 'addresses', csv }).then(
      (done) => ({ done }),
      (err: unknown) => ({ err }),
    );
    if ('done' in outcome) {
      const result = (outcome.done as { payload: { created: number } }).payload;
      expect(result.created, 'rows reported as created').to.equal(await ipam.store.collection('addresses').count({}));
    } else {
      expect((outcome.err as IpamError).code).to.equal('STORE_UNAVAILABLE');
    }
    expect(await ipam.store.collection('addresses').count({})).to.equal(0);
    await ipam.close();
  });
});
