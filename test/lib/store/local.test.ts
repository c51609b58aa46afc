/**
 * Process state per store (lib/store/local.ts): two stores that both use the address space `Default`
 * share no claims and no lock queues; handles on one embedded directory share theirs.
 */
import { expect } from 'chai';
import { parseAddress, addressKey } from '../../../lib/address';
import type { AllocatedRecord } from '../../../lib/allocation';
import { Ipam } from '../../../lib/ipam';
import { withLock } from '../../../lib/space';
import type { RangeRecord } from '../../../lib/record';
import { openStore } from '../../../lib/store';
import { localState } from '../../../lib/store/local';
import type { Store } from '../../../lib/store/port';
import { tempDir } from '../../support/stores';

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
});
