/**
 * After concurrent work on a range, the next allocation gets its lowest free address (docs/allocation.md): the
 * hint and the kept free addresses (lib/allocation/search.ts) never skip one. Each case below is an
 * interleaving a review found skipping one (forced by a store wrapper that only delays calls), and the property
 * at the end mixes allocations (count, requestId, explicit address), releases, adds and moves at random.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AsyncLocalStorage } from 'node:async_hooks';
import { formatAddress, parseAddress } from '../../../lib/address';
import type { AllocatedRecord } from '../../../lib/allocation/allocate';
import { buildAddress, type AddressDoc } from '../../../lib/space';
import { Ipam } from '../../../lib/ipam';
import type { RangeRecord } from '../../../lib/record';
import { localState, openStore, type Store } from '../../../lib/store';

/** The lowest address of the range that is neither stored nor excluded, as a scan of the store finds it. */
async function lowestFree(store: Store, rangeId: string): Promise<string | undefined> {
  const range = (await store.collection('ranges').findOne({ id: rangeId })) as unknown as RangeRecord;
  const taken = new Set((await store.collection<AddressDoc>('addresses').find({})).map((doc) => parseAddress(doc.address).value));
  const excluded = (value: bigint) =>
    (range.exclusions ?? []).some((e) => parseAddress(e.startAddress).value <= value && value <= parseAddress(e.endAddress).value);
  for (let value = parseAddress(range.startAddress).value; value <= parseAddress(range.endAddress).value; value++) {
    if (!taken.has(value) && !excluded(value)) return formatAddress(4, value);
  }
  return undefined;
}

/** A promise and the function that settles it. */
function latch(): { reached: Promise<void>; open: () => void } {
  let open!: () => void;
  const reached = new Promise<void>((resolve) => (open = resolve));
  return { reached, open };
}

/** `store` with `delay` awaited before the calls it names (collection name and method, or 'atomic'). */
function delaying(store: Store, delay: (call: string, args: unknown[]) => Promise<void> | undefined): Store {
  return {
    kind: store.kind,
    transactional: store.transactional,
    now: () => store.now(),
    close: () => store.close(),
    atomic: async (writes) => {
      await delay('atomic', [writes]);
      return store.atomic(writes);
    },
    collection: (name) =>
      new Proxy(store.collection(name), {
        get(target, property, receiver) {
          const member = Reflect.get(target, property, receiver) as unknown;
          if (typeof member !== 'function') return member;
          return async (...args: unknown[]) => {
            await delay(`${name}.${String(property)}`, args);
            return (member as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        },
      }),
  } as Store;
}

describe('the lowest free address after concurrent work', () => {
  let ipam: Ipam;
  let store: Store;
  afterEach(() => ipam?.close());

  const allocate = (payload: Record<string, unknown>) => ipam.perform('address', 'allocate', payload) as Promise<AllocatedRecord>;

  it('an address let go by an allocation that lost its requestId race, while another searched past it', async () => {
    const real = await openStore({ kind: 'embedded' });
    const who = new AsyncLocalStorage<string>();
    const writes = latch();
    const cRead = latch();
    const cGoesOn = latch();
    let cReads = 0;
    store = delaying(real, (call) => {
      const caller = who.getStore();
      if (call === 'atomic' && (caller === 'A' || caller === 'B')) return writes.reached;
      if (call === 'addresses.values' && caller === 'C' && ++cReads === 1) {
        cRead.open();
        return cGoesOn.reached;
      }
      return undefined;
    });
    ipam = Ipam.over(store);
    const range = (await ipam.perform('range', 'add', { network: '10.5.0.0/22' })) as RangeRecord;
    // The first 300 addresses are used except .10 and .11: the kept list of that window holds only those two.
    const docs: AddressDoc[] = [];
    for (let value = parseAddress('10.5.0.1').value; value <= parseAddress('10.5.1.44').value; value++) {
      const address = formatAddress(4, value);
      if (address !== '10.5.0.10' && address !== '10.5.0.11') docs.push(await buildAddress(ipam, { address }));
    }
    expect((await real.collection<AddressDoc>('addresses').insertMany(docs)).failures).to.deep.equal([]);
    const as = (caller: string, payload: Record<string, unknown>) => who.run(caller, () => allocate({ range: range.id, ...payload }));
    // A and B (one requestId) claim .10 and .11; C finds nothing left to claim there and reads on.
    const a = as('A', { requestId: 'same' });
    const b = as('B', { requestId: 'same' });
    while (localState(store).claiming.size < 2) await new Promise((resolve) => setImmediate(resolve));
    const c = as('C', {});
    await cRead.reached;
    // A writes; B loses to it and lets its address go, while C is still searching past it.
    writes.open();
    const [first, second] = await Promise.all([a, b]);
    expect(second.address).to.equal(first.address);
    cGoesOn.open();
    expect((await c).address).to.equal('10.5.1.45');
    const lowest = await lowestFree(real, range.id);
    expect(['10.5.0.10', '10.5.0.11']).to.include(lowest);
    expect((await allocate({ range: range.id })).address).to.equal(lowest);
  });

  it('a retry whose own hold ends while it runs searches from the lowered hint', async () => {
    const real = await openStore({ kind: 'embedded' });
    const clock: number[] = [];
    store = { ...delaying(real, () => undefined), now: async () => clock.shift() ?? real.now() };
    ipam = Ipam.over(store);
    const range = (await ipam.perform('range', 'add', { network: '10.7.0.0/24' })) as RangeRecord;
    const held = await allocate({ range: range.id, requestId: 'hold', holdSeconds: 30 });
    for (let i = 0; i < 3; i++) await allocate({ range: range.id });
    // The hold has not ended when the allocation frees the range's expired holds, and has when the retry's own
    // record is read: the retry ends it itself.
    const end = Date.parse(held.holdUntil as string);
    clock.push(end - 1, end + 1);
    const retry = await allocate({ range: range.id, requestId: 'hold' });
    expect(retry.address).to.equal(held.address);
  });

  it('a range update with a release in the middle of it', async () => {
    const real = await openStore({ kind: 'embedded' });
    let gate: Promise<void> | undefined;
    const paused = latch();
    store = delaying(real, (call, args) => {
      if (gate && call === 'journal.insertOne' && (args[0] as { kind?: string }).kind === 'structural') {
        paused.open();
        return gate;
      }
      return undefined;
    });
    ipam = Ipam.over(store);
    const range = (await ipam.perform('range', 'add', { network: '10.6.0.0/24', exclusions: [{ startAddress: '10.6.0.10', endAddress: '10.6.0.20' }] })) as RangeRecord;
    for (let i = 0; i < 30; i++) await allocate({ range: range.id });
    const resume = latch();
    gate = resume.reached;
    // The update has read the range and waits to write; a release and an allocation come first.
    const update = ipam.perform('range', 'update', { id: range.id, exclusions: [] });
    await paused.reached;
    gate = undefined;
    await ipam.perform('address', 'release', { addresses: ['10.6.0.40'] });
    expect((await allocate({ range: range.id })).address).to.equal('10.6.0.40');
    resume.open();
    await update;
    expect((await allocate({ range: range.id })).address).to.equal('10.6.0.10');
  });

  it('an import-and-update that clears exclusions, with an allocation while it writes', async () => {
    const real = await openStore({ kind: 'embedded' });
    let during: (() => Promise<unknown>) | undefined;
    store = delaying(real, () => undefined);
    const atomic = store.atomic;
    // Right after the batch that writes the range, before the import goes on, an allocation runs.
    store.atomic = async (writes) => {
      await atomic(writes);
      const run = during;
      if (run && writes.some((write) => write.op === 'update' && write.collection === 'ranges')) {
        during = undefined;
        await run();
      }
    };
    ipam = Ipam.over(store);
    const pair = { managedByService: 'Non-MS DHCP', serviceInstance: 'Switch' };
    const range = (await ipam.perform('range', 'add', { network: '10.4.0.0/24', ...pair, assignmentType: 'Dynamic', exclusions: [{ startAddress: '10.4.0.1', endAddress: '10.4.0.20' }] })) as RangeRecord;
    await allocate({ range: range.id });
    const seen: string[] = [];
    during = async () => seen.push((await allocate({ range: range.id })).address);
    const csv = ['Network,Start IP address,End IP address,Managed by service,Service instance,Assignment type,Description', '10.4.0.0/24,10.4.0.1,10.4.0.254,Non-MS DHCP,Switch,Dynamic,from csv'].join('\n');
    await ipam.perform('import', 'import-and-update', { entity: 'ranges', csv, ...pair });
    expect(seen).to.have.length(1);
    const lowest = await lowestFree(real, range.id);
    expect((await allocate({ range: range.id })).address).to.equal(lowest);
  });

  // Up to 60 bursts of up to 21 concurrent calls on a /23 (two kept-list windows). With this seed it finds the
  // first case above in the code before its fix (shrunk to one burst of same-requestId allocations with counts
  // 1 and 3, then a release); runs of other seeds found it at about one seed in three.
  it('property: bursts of concurrent allocations, releases, adds and moves', async function () {
    this.timeout(120_000);
    const text = (offset: number) => formatAddress(4, parseAddress('10.9.0.0').value + BigInt(offset));
    const at = fc.integer({ min: 1, max: 509 });
    const operation = fc.oneof(
      {
        weight: 9,
        arbitrary: fc.record({
          kind: fc.constant('allocate' as const),
          requestId: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 2 }),
          count: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }),
        }),
      },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), at }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), at }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('given' as const), at }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(operation, { minLength: 2, maxLength: 21, size: 'max' }), { minLength: 1, maxLength: 60, size: 'max' }), async (bursts) => {
        const own = await openStore({ kind: 'embedded' });
        const run = Ipam.over(own);
        try {
          const range = (await run.perform('range', 'add', { network: '10.9.0.0/23' })) as RangeRecord;
          for (const [n, burst] of bursts.entries()) {
            const stored = await own.collection<AddressDoc>('addresses').find({}, { sort: { key: 1 } });
            const pick = (k: number) => stored[k % stored.length];
            await Promise.all(
              burst.map((op) => {
                const call = (entity: string, name: string, payload: unknown) => run.perform(entity as 'address', name, payload).catch(() => undefined);
                if (op.kind === 'allocate') return call('address', 'allocate', { range: range.id, count: op.count, ...(op.requestId === undefined ? {} : { requestId: `r${n}-${op.requestId}` }) });
                if (op.kind === 'add') return call('address', 'add', { address: text(op.at) });
                if (op.kind === 'given') return call('address', 'allocate', { range: range.id, address: text(op.at) });
                if (stored.length === 0) return undefined;
                if (op.kind === 'release') return call('address', 'release', { addresses: [pick(op.pick).address] });
                return call('address', 'update', { id: pick(op.pick).id, address: text(op.at) });
              }),
            );
            const lowest = await lowestFree(own, range.id);
            const next = await run.perform('address', 'allocate', { range: range.id }).then((r) => (r as AllocatedRecord).address, () => undefined);
            expect(next, `after burst ${n}`).to.equal(lowest);
          }
        } finally {
          await run.close();
        }
      }),
      { seed: 2, numRuns: 60 },
    );
  });
});
