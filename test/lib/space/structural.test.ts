/**
 * The structural journal on MongoDB without transactions (a standalone, over the fake driver): every structural
 * operation is cut off at each of its writes in turn (from that write on the store is unreachable, as for a process
 * that died there), then a recovery pass over the same deployment must leave the space as before or as after.
 * Also: an entry whose owner still holds its space lock is deferred, not taken.
 */
import { expect } from 'chai';
import { Ipam } from '../../../lib/ipam';
import { openMongoStore, type Store } from '../../../lib/store';
import { recoverStructural } from '../../../lib/space/structural';
import { fakeClientFactory, fakeDeployment, type FakeDeployment } from '../../support/fake-mongo';
import { countingWrites, isEqual, seedSpace, snapshot, type Snapshot } from '../../support/space-snapshot';
import { OPERATIONS } from './structural-crash-child';

function openOn(deployment: FakeDeployment): Promise<Store> {
  return openMongoStore({ uri: 'mongodb://127.0.0.1:27017', database: 'structural', createClient: fakeClientFactory(deployment) });
}

async function seeded(): Promise<{ deployment: FakeDeployment; store: Store }> {
  const deployment = fakeDeployment({ topology: 'standalone' });
  const store = await openOn(deployment);
  await seedSpace(Ipam.over(store), 30);
  return { deployment, store };
}

async function perform(store: Store, name: string): Promise<void> {
  const ipam = Ipam.over(store);
  const { kind, operation, payload } = OPERATIONS[name];
  await ipam.perform(kind, operation, typeof payload === 'function' ? await payload(ipam) : payload);
}

describe('structural journal on a MongoDB standalone (fake driver)', function () {
  this.timeout(120_000);

  for (const name of Object.keys(OPERATIONS)) {
    it(`${name}: cut off at each write, a recovery pass leaves the space as before or as after`, async () => {
      const reference = await seeded();
      const initial = await snapshot(Ipam.over(reference.store));
      const counted = countingWrites(reference.store, () => undefined);
      await perform(counted.store, name);
      const after = await snapshot(Ipam.over(reference.store));
      await reference.store.close();
      const outcomes: string[] = [];
      for (let cutAt = 1; cutAt <= counted.writes(); cutAt++) {
        const { deployment, store } = await seeded();
        const cut = countingWrites(store, (n) => {
          if (n >= cutAt) throw new Error(`cut off at write ${cutAt}`);
        });
        // Cut off at its last write (the lock's release, which may fail), the operation itself succeeds.
        await perform(cut.store, name).catch((err: Error) => expect(err.message).to.contain('cut off'));
        await store.close();
        const reopened = await openOn(deployment);
        // The dead owner's lock expires after its ttl; on MongoDB recovery waits for that, so the test expires it.
        await reopened.collection('locks').updateMany({}, { $set: { expiresAt: 0 } });
        const recovered = await recoverStructural(Ipam.over(reopened));
        expect(recovered.every((entry) => entry.outcome === 'completed'), JSON.stringify(recovered)).to.equal(true);
        expect(await reopened.collection('journal').count({ kind: 'structural' })).to.equal(0);
        const state: Snapshot = await snapshot(Ipam.over(reopened));
        await reopened.close();
        const outcome = isEqual(state, initial) ? 'before' : isEqual(state, after) ? 'after' : undefined;
        if (!outcome) expect(state, `cut off at write ${cutAt}: neither before nor after`).to.deep.equal(after);
        outcomes.push(outcome!);
      }
      expect(outcomes[0]).to.equal('before');
      expect(outcomes.slice(outcomes.indexOf('after')), outcomes.join(' ')).to.not.include('before');
    });
  }

  it('an entry whose owner still holds its space lock is deferred; once the lock expired it is rolled forward', async () => {
    const { deployment, store } = await seeded();
    const range = await store.collection('ranges').findOne({ network: '10.0.0.0/21' });
    // As another live process leaves them while it applies a delete: its lock, and its entry naming that lock.
    await store.collection('locks').insertOne({ id: 'other-lock', name: 'space:default', expiresAt: (await store.now()) + 60_000 });
    await store.collection('journal').insertOne({
      id: 'other-entry',
      name: 'structural|default',
      kind: 'structural',
      addressSpace: 'default',
      change: { op: 'delete-range', range },
      owner: 'other-process',
      lockId: 'other-lock',
      createdAt: new Date().toISOString(),
    });
    await store.close();
    const reopened = await openOn(deployment);
    try {
      const first = await recoverStructural(Ipam.over(reopened));
      expect(first).to.have.length(1);
      expect(first[0]).to.include({ addressSpace: 'default', op: 'delete-range', outcome: 'deferred' });
      expect(await reopened.collection('journal').count({}), 'left to its owner').to.equal(1);
      expect(await reopened.collection('ranges').count({ id: range!.id })).to.equal(1);
      await reopened.collection('locks').updateOne({ id: 'other-lock' }, { $set: { expiresAt: 0 } });
      expect(await recoverStructural(Ipam.over(reopened))).to.deep.equal([{ addressSpace: 'default', op: 'delete-range', outcome: 'completed' }]);
      expect(await reopened.collection('journal').count({})).to.equal(0);
      expect(await reopened.collection('ranges').count({ id: range!.id })).to.equal(0);
      expect(await reopened.collection('addresses').count({ rangeId: range!.id }), 'its addresses re-mapped').to.equal(0);
    } finally {
      await reopened.close();
    }
  });
});
