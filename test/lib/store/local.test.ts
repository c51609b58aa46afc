/**
 * Process state per store (lib/store/local.ts): two stores that both use the address space `Default`
 * share no claims, no lock queues and no structural-journal state; handles on one embedded directory share theirs.
 */
import { expect } from 'chai';
import { parseAddress, addressKey } from '../../../lib/address';
import type { AllocatedRecord } from '../../../lib/allocation';
import { Ipam } from '../../../lib/ipam';
import { recoverStructural, withLock } from '../../../lib/space';
import type { RangeRecord } from '../../../lib/record';
import { openStore } from '../../../lib/store';
import { KEPT_HINTS, keepBounded, localState } from '../../../lib/store/local';
import type { Doc, Store } from '../../../lib/store/port';
import { tempDir } from '../../support/stores';

/** A structural journal entry of a range delete in `Default`, as `owner` (holding `<owner>-lock`) leaves it. */
function deleteRangeEntry(id: string, range: Doc, owner: string): Doc {
  const change = { op: 'delete-range', range };
  return { id, name: 'structural|Default', kind: 'structural', addressSpace: 'Default', change, owner, lockId: `${owner}-lock`,
    createdAt: new Date().toISOString() };
}

describe('process state per store', () => {
  const opened: Store[] = [];
  const open = async (directory?: string): Promise<Store> => {
    const store = await openStore({ kind: 'embedded', ...(directory ? { directory } : {}) });
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });

  it('a claim in one store does not hold back an allocation in another store with the same space', async () => {
    const [a, b] = [Ipam.over(await open()), Ipam.over(await open())];
    for (const ipam of [a, b]) await ipam.perform('range', 'add', { network: '10.9.0.0/24' });
    // An allocator of store A is still probing 10.9.0.1.
    const key = addressKey('Default', 4, parseAddress('10.9.0.1').value);
    let settle!: () => void;
    localState(a.store).claiming.set(key, new Promise<void>((resolve) => (settle = resolve)));
    try {
      const range = (ipam: Ipam) => ipam.perform('range', 'get', { network: '10.9.0.0/24' }) as Promise<RangeRecord>;
      const inA = (await a.perform('address', 'allocate', { range: (await range(a)).id })) as AllocatedRecord;
      const inB = (await b.perform('address', 'allocate', { range: (await range(b)).id })) as AllocatedRecord;
      expect(inA.address, 'store A steps over its own claim').to.equal('10.9.0.2');
      expect(inB.address, 'store B knows nothing of store A\'s claim').to.equal('10.9.0.1');
    } finally {
      settle();
      localState(a.store).claiming.delete(key);
    }
  });

  it('a lock held on one store does not queue a holder of the same lock name on another store', async () => {
    const [a, b] = [await open(), await open()];
    let releaseA!: () => void;
    const heldA = new Promise<void>((resolve) => (releaseA = resolve));
    let startedA!: () => void;
    const aStarted = new Promise<void>((resolve) => (startedA = resolve));
    const workA = withLock(a, 'space:Default', async () => {
      startedA();
      await heldA;
    });
    await aStarted;
    let ranB = false;
    await withLock(b, 'space:Default', async () => {
      ranB = true;
    });
    expect(ranB, 'B ran while A still held its own store\'s lock').to.equal(true);
    releaseA();
    await workA;
  });

  it('handles on one embedded directory share one state; other stores have their own', async () => {
    const directory = tempDir();
    const [first, second, other] = [await open(directory), await open(directory), await open()];
    expect(first).to.not.equal(second);
    expect(localState(first)).to.equal(localState(second));
    expect(localState(first)).to.not.equal(localState(other));
    expect(localState(first).importOwner).to.not.equal(localState(other).importOwner);
  });

  it('structural journal state: an entry being applied on one store does not hold back recovery of the same entry on another', async () => {
    const [a, b] = [await open(), await open()];
    const leftover = async (store: Store) => {
      await Ipam.over(store).perform('range', 'add', { network: '10.8.0.0/24' });
      const range = await store.collection('ranges').findOne({ network: '10.8.0.0/24' });
      // Left by an owner that is gone (no lock names it): recovery rolls it forward.
      await store.collection('journal').insertOne(deleteRangeEntry('entry-1', range!, 'gone'));
    };
    await leftover(a);
    await leftover(b);
    expect(localState(a).structuralOwner).to.not.equal(localState(b).structuralOwner);
    // This process is applying entry-1 on store A.
    localState(a).activeStructural.add('entry-1');
    try {
      expect(await recoverStructural(Ipam.over(a)), 'A leaves the entry it is applying').to.deep.equal([]);
      expect(await recoverStructural(Ipam.over(b))).to.deep.equal([{ addressSpace: 'Default', op: 'delete-range', outcome: 'completed' }]);
      expect(await a.collection('journal').count({}), 'still on A').to.equal(1);
      expect(await b.collection('journal').count({})).to.equal(0);
      expect(await b.collection('ranges').count({ network: '10.8.0.0/24' }), 'B rolled the delete forward').to.equal(0);
    } finally {
      localState(a).activeStructural.delete('entry-1');
    }
  });

  it('structural journal state: a deferred recovery schedules its retry on its own store only', async () => {
    const [a, b] = [await open(), await open()];
    await Ipam.over(a).perform('range', 'add', { network: '10.8.0.0/24' });
    const range = await a.collection('ranges').findOne({ network: '10.8.0.0/24' });
    // As a live process leaves them while it applies a delete on A: its lock, and its entry naming that lock.
    await a.collection('locks').insertOne({ id: 'live-lock', name: 'space:Default', expiresAt: (await a.now()) + 60_000 });
    await a.collection('journal').insertOne(deleteRangeEntry('entry-2', range!, 'live'));
    try {
      const [outcome] = await recoverStructural(Ipam.over(a));
      expect(outcome).to.include({ outcome: 'deferred' });
      expect(localState(a).structuralRetry, 'A retries later').to.not.equal(undefined);
      expect(await recoverStructural(Ipam.over(b))).to.deep.equal([]);
      expect(localState(b).structuralRetry, 'B has nothing to retry').to.equal(undefined);
    } finally {
      clearTimeout(localState(a).structuralRetry);
      localState(a).structuralRetry = undefined;
    }
  });

  it('keepBounded keeps the newest entries: setting a key again makes it the newest, past the limit the oldest goes', () => {
    const map = new Map<string, number>();
    for (const key of ['a', 'b', 'c']) keepBounded(map, key, 1, 3);
    keepBounded(map, 'a', 2, 3);
    keepBounded(map, 'd', 1, 3);
    expect([...map]).to.deep.equal([['c', 1], ['a', 2], ['d', 1]]);
  });

  it("a range's hint is kept for at most KEPT_HINTS ranges; a range whose hint went still allocates its lowest free address", async () => {
    const ipam = Ipam.over(await open());
    const range = (await ipam.perform('range', 'add', { network: '10.9.0.0/24' })) as RangeRecord;
    const { localHints } = localState(ipam.store);
    for (let i = 0; i < KEPT_HINTS; i++) localHints.set(`other-${i}`, { version: 0, value: 0n, moves: 0 });
    const allocated = [];
    for (let i = 0; i < 3; i++) allocated.push(((await ipam.perform('address', 'allocate', { range: range.id })) as AllocatedRecord).address);
    expect(allocated).to.deep.equal(['10.9.0.1', '10.9.0.2', '10.9.0.3']);
    expect(localHints.size).to.equal(KEPT_HINTS);
    expect(localHints.has('other-0')).to.equal(false);
    expect(localHints.get(range.id)?.value).to.equal(parseAddress('10.9.0.4').value);
    for (let i = 0; i < KEPT_HINTS; i++) keepBounded(localHints, `newer-${i}`, { version: 0, value: 0n, moves: 0 }, KEPT_HINTS);
    expect(localHints.has(range.id)).to.equal(false);
    expect(((await ipam.perform('address', 'allocate', { range: range.id })) as AllocatedRecord).address).to.equal('10.9.0.4');
  });
});
