/**
 * The space lock on the store's clock, with its holder told when it lost the lock, and a failed release
 * that does not undo a committed change. Runs on the MongoDB adapter over the fake driver (server clock).
 */
import { expect } from 'chai';
import { IpamError } from '../../../lib/errors';
import { withLock, type Lease } from '../../../lib/space/lock';
import { openMongoStore, type Store } from '../../../lib/store';
import { failNext, fakeClientFactory, fakeDeployment, type FakeDeployment } from '../../support/fake-mongo';
import { MongoNetworkError } from 'mongodb';

function open(deployment: FakeDeployment): Promise<Store> {
  return openMongoStore({ uri: 'mongodb://127.0.0.1:27017', database: 'test', createClient: fakeClientFactory(deployment) });
}

describe('space lock', () => {
  const realNow = Date.now;
  afterEach(() => {
    Date.now = realNow;
  });

  it('a process whose clock runs 5 minutes fast does not take a live holder\'s lock', async () => {
    const skew = 5 * 60_000;
    // The server keeps true time while this process's clock jumps ahead.
    const deployment = fakeDeployment({ clockOffsetMs: -skew });
    const store = await open(deployment);
    Date.now = () => realNow() + skew;
    // Another instance, whose clock agrees with the server's, holds the lock for another minute.
    await store.collection('locks').insertOne({ id: 'other-holder', name: 'space|A', expiresAt: realNow() + 60_000 });
    let ran = false;
    const err = await withLock(store, 'space|A', async () => {
      ran = true;
    }, { waitMs: 50 }).catch((e: unknown) => e);
    expect(ran, 'the work must not run while another holder has the lock').to.equal(false);
    expect((err as IpamError).code).to.equal('CONFLICT');
    expect(await store.collection('locks').count({ id: 'other-holder' })).to.equal(1);
  });

  it('the holder learns that its lock was taken over, and check() stops it', async () => {
    const store = await open(fakeDeployment());
    let seen: Lease | undefined;
    const err = await withLock(store, 'space|B', async (lease) => {
      seen = lease;
      // Another process decides the lock expired and takes it.
      await store.collection('locks').deleteMany({ name: 'space|B' });
      await store.collection('locks').insertOne({ id: 'thief', name: 'space|B', expiresAt: (await store.now()) + 60_000 });
      for (let i = 0; i < 50 && !lease.lost; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      lease.check();
    }, { ttlMs: 30 }).catch((e: unknown) => e);
    expect(seen?.lost).to.equal(true);
    expect((err as IpamError).code).to.equal('CONFLICT');
    expect((err as IpamError).message).to.contain('taken over');
    expect(await store.collection('locks').count({ id: 'thief' }), 'the new holder keeps its lock').to.equal(1);
  });

  it('a release that fails after the work committed reports the work\'s result, not a failure', async () => {
    const deployment = fakeDeployment();
    const store = await open(deployment);
    const result = await withLock(store, 'space|C', async () => {
      await store.collection('ranges').insertOne({ id: 'r1', key: 'K1' });
      failNext(deployment, 'deleteOne', new MongoNetworkError('connection reset'), { collection: 'locks' });
      return 'committed';
    });
    expect(result).to.equal('committed');
    expect(await store.collection('ranges').count({ id: 'r1' })).to.equal(1);
  });

  it('a lock whose holder died is taken once it expired on the store clock', async () => {
    const store = await open(fakeDeployment());
    await store.collection('locks').insertOne({ id: 'dead', name: 'space|D', expiresAt: (await store.now()) - 1 });
    expect(await withLock(store, 'space|D', async () => 'mine', { waitMs: 1000 })).to.equal('mine');
  });
});
