/**
 * Assigned counters (lib/space/counters.ts): after any mix of allocate, release, add, update (re-map), import,
 * and range/block add/update/delete, every counter equals a full recount, and utilization equals what a
 * count of the addresses gives. `reconcile` finds and repairs drift.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { release } from '../../../lib/allocation';
import { COUNT_FIELD, DELETE_CHUNK } from '../../../lib/space/counters';
import { jsonCount, unionSize } from '../../../lib/address';
import { Ipam } from '../../../lib/ipam';
import { coverOf, RANGED_FIELD, STRADDLING_FIELD } from '../../../lib/space/range-cover';
import { intervalOfKeys } from '../../../lib/space/bounds';
import type { Utilization } from '../../../lib/space/utilization';
import type { Store, Write } from '../../../lib/store';
import { availableStores, tempDir } from '../../support/stores';

type Step =
  | { kind: 'allocate'; range: number; count: number }
  | { kind: 'release-some'; picks: number[] }
  | { kind: 'release-range'; range: number }
  | { kind: 'add-address'; host: number; service: 'IPAM' | 'Other' }
  | { kind: 'move-address'; pick: number; host: number }
  | { kind: 'import'; hosts: number[] }
  | { kind: 'add-range'; slot: number }
  | { kind: 'resize-range'; range: number; slot: number }
  | { kind: 'delete-range'; range: number }
  | { kind: 'add-block'; slot: number }
  | { kind: 'delete-block'; pick: number };

/** Addresses live in 10.0.0.0/22: small enough for collisions, nested blocks and overlapping ranges to happen. */
const HOSTS = 1022;
const RANGE_SLOTS = ['10.0.0.0/26', '10.0.0.0/25', '10.0.0.64/26', '10.0.1.0/24', '10.0.2.0/25', '10.0.0.0/23', '10.0.3.0/28'];
const BLOCK_SLOTS = ['10.0.0.0/24', '10.0.0.0/25', '10.0.2.0/23', '10.0.1.0/26'];

function hostAddress(host: number): string {
  const value = 1 + (host % HOSTS);
  return `10.0.${value >> 8}.${value & 255}`;
}

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('allocate' as const), range: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release-some' as const), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release-range' as const), range: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add-address' as const), host: fc.nat(), service: fc.constantFrom('IPAM' as const, 'Other' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move-address' as const), pick: fc.nat(), host: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('import' as const), hosts: fc.array(fc.nat(), { minLength: 1, maxLength: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add-range' as const), slot: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize-range' as const), range: fc.nat(), slot: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-range' as const), range: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add-block' as const), slot: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-block' as const), pick: fc.nat() }) },
);

type Row = { id: string; network: string; [field: string]: unknown };

async function all(ipam: Ipam, collection: 'ranges' | 'blocks' | 'addresses' | 'counters'): Promise<Row[]> {
  return (await ipam.store.collection(collection).find({}, { sort: { id: 1 } })) as Row[];
}

function pick<T>(list: T[], n: number): T | undefined {
  return list.length === 0 ? undefined : list[n % list.length];
}

/** Runs one step; refusals (full range, duplicate, overlap, nothing to pick) are part of the mix. */
async function apply(ipam: Ipam, s: Step): Promise<void> {
  const ranges = await all(ipam, 'ranges');
  const addresses = await all(ipam, 'addresses');
  const run = async (kind: 'block' | 'range' | 'address' | 'import', operation: string, payload: unknown) => {
    try {
      await ipam.perform(kind, operation, payload);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err)) throw err;
    }
  };
  switch (s.kind) {
    case 'allocate': {
      const range = pick(ranges, s.range);
      if (range) await run('address', 'allocate', { range: range.id, count: s.count });
      return;
    }
    case 'release-some': {
      const chosen = [...new Set(s.picks.map((n) => pick(addresses, n)).filter((a) => a && a.rangeId).map((a) => (a as Row).id))];
      if (chosen.length) await run('address', 'release', { addresses: chosen });
      return;
    }
    case 'release-range': {
      const range = pick(ranges, s.range);
      if (range) await run('address', 'release', { range: range.id });
      return;
    }
    case 'add-address':
      await run('address', 'add', { address: hostAddress(s.host), managedByService: s.service });
      return;
    case 'move-address': {
      const address = pick(addresses, s.pick);
      if (address) await run('address', 'update', { id: address.id, address: hostAddress(s.host) });
      return;
    }
    case 'import': {
      const lines = [...new Set(s.hosts.map(hostAddress))].map((a) => `${a},IPAM,Localhost,Host,In-Use,Static`);
      const csv = ['address,managedByService,serviceInstance,deviceType,ipAddressState,assignmentType', ...lines].join('\n');
      await run('import', 'import', { entity: 'addresses', csv });
      return;
    }
    case 'add-range':
      await run('range', 'add', { network: RANGE_SLOTS[s.slot % RANGE_SLOTS.length] });
      return;
    case 'resize-range': {
      const range = pick(ranges, s.range);
      if (range) await run('range', 'update', { id: range.id, network: RANGE_SLOTS[s.slot % RANGE_SLOTS.length] });
      return;
    }
    case 'delete-range': {
      const range = pick(ranges, s.range);
      if (range) await run('range', 'delete', { id: range.id });
      return;
    }
    case 'add-block':
      await run('block', 'add', { network: BLOCK_SLOTS[s.slot % BLOCK_SLOTS.length] });
      return;
    case 'delete-block': {
      const block = pick(await all(ipam, 'blocks'), s.pick);
      if (block) await run('block', 'delete', { id: block.id });
      return;
    }
  }
}

/** The store, with every atomic batch recorded in `batches`. */
function recordingAtomic(store: Store, batches: Write[][]): Store {
  return {
    kind: store.kind,
    transactional: store.transactional,
    collection: (name) => store.collection(name),
    atomic: (writes) => {
      batches.push(writes);
      return store.atomic(writes);
    },
    now: () => store.now(),
    close: () => store.close(),
  };
}

/**
 * A block's cover by brute force, without lib's code: the summed size of the ranges mapped to it, and how many
 * of them overlap one of its child blocks.
 */
async function independentCover(ipam: Ipam, blockId: string): Promise<{ rangedSize: string; straddling: number }> {
  const interval = (doc: Row) => intervalOfKeys(doc as unknown as { startKey: string; endKey: string });
  const mine = (await all(ipam, 'ranges')).filter((r) => r.blockId === blockId).map(interval);
  const children = (await all(ipam, 'blocks')).filter((b) => b.parentId === blockId).map(interval);
  const size = mine.reduce((sum, r) => sum + (r.last - r.first + 1n), 0n);
  const straddling = mine.filter((r) => children.some((c) => c.first <= r.last && r.first <= c.last)).length;
  return { rangedSize: size.toString(), straddling };
}

/**
 * Every counter against a recount; every block's utilization against a count of the addresses inside it, and
 * its range size against the union of the ranges inside it.
 */
async function expectCountersExact(ipam: Ipam): Promise<{ straddled: number }> {
  let straddled = 0;
  const addresses = ipam.store.collection('addresses');
  const counters = new Map((await all(ipam, 'counters')).map((doc) => [doc.id, doc[COUNT_FIELD]]));
  const records = new Set([...(await all(ipam, 'ranges')), ...(await all(ipam, 'blocks'))].map((doc) => doc.id));
  expect([...counters.keys()].filter((id) => !records.has(id)), 'counters of deleted ranges and blocks').to.deep.equal([]);
  for (const range of await all(ipam, 'ranges')) {
    expect(counters.get(range.id), `range ${range.network}`).to.equal(await addresses.count({ rangeId: range.id }));
    const utilization = (await ipam.perform('range', 'utilization', { id: range.id })) as Utilization;
    expect(utilization.assigned).to.equal(counters.get(range.id));
  }
  for (const block of await all(ipam, 'blocks')) {
    expect(counters.get(block.id), `block ${block.network}`).to.equal(await addresses.count({ blockId: block.id }));
    const inside = await addresses.count({ key: { $gte: block.startKey as string, $lte: block.endKey as string } });
    const utilization = (await ipam.perform('block', 'utilization', { id: block.id })) as Utilization;
    expect(utilization.assigned, `block ${block.network} utilization`).to.equal(inside);
    const cover = await independentCover(ipam, block.id);
    expect({ rangedSize: block[RANGED_FIELD], straddling: block[STRADDLING_FIELD] }, `block ${block.network} cover`).to.deep.equal(cover);
    expect(await coverOf(ipam, block.id), `block ${block.network} coverOf`).to.deep.equal(cover);
    const ranges = (await all(ipam, 'ranges')).filter((r) => (r.startKey as string) >= (block.startKey as string) && (r.endKey as string) <= (block.endKey as string));
    const union = unionSize(ranges.map((r) => intervalOfKeys(r as unknown as { startKey: string; endKey: string })));
    expect(utilization.rangeSize, `block ${block.network} rangeSize`).to.equal(jsonCount(union));
    if (cover.straddling > 0) straddled++;
  }
  return { straddled };
}

/** A file store written by `write`, closed and opened again (so `Ipam.open`'s migrations run), then `check`ed. */
async function afterReopen<T>(write: (ipam: Ipam) => Promise<T>, check: (ipam: Ipam, written: T) => Promise<void>): Promise<void> {
  const directory = tempDir();
  const first = await Ipam.open({ kind: 'embedded', directory });
  let written: T;
  try {
    written = await write(first);
  } finally {
    await first.close();
  }
  const again = await Ipam.open({ kind: 'embedded', directory });
  try {
    await check(again, written);
  } finally {
    await again.close();
  }
}

describe('a store written by an earlier version, opened', () => {
  it('fills in the range covers of blocks stored before covers existed, and leaves exact ones alone', async () => {
    await afterReopen(
      async (ipam) => {
        const old = (await ipam.perform('block', 'add', { network: '10.4.0.0/16' })) as Row;
        const kept = (await ipam.perform('block', 'add', { network: '10.5.0.0/16' })) as Row;
        await ipam.perform('range', 'add', { network: '10.4.0.0/24' });
        await ipam.perform('range', 'add', { network: '10.5.0.0/24' });
        await ipam.store.collection('blocks').updateOne({ id: old.id }, { $unset: { [RANGED_FIELD]: true, [STRADDLING_FIELD]: true } });
        await ipam.store.collection('blocks').updateOne({ id: kept.id }, { $set: { [STRADDLING_FIELD]: 7 } });
        return { old, kept };
      },
      async (ipam, { old, kept }) => {
        const blocks = ipam.store.collection('blocks');
        expect(await blocks.findOne({ id: old.id }, { fields: [RANGED_FIELD, STRADDLING_FIELD] })).to.deep.include({ [RANGED_FIELD]: '254', [STRADDLING_FIELD]: 0 });
        // Only missing covers are filled at open; a wrong one waits for `reconcile`, which reports it.
        expect((await blocks.findOne({ id: kept.id }))?.[STRADDLING_FIELD]).to.equal(7);
      },
    );
  });

  it('recounts, once, the counters missing from their own collection, and removes the old count field from the records', async () => {
    await afterReopen(
      async (ipam) => {
        const block = (await ipam.perform('block', 'add', { network: '10.6.0.0/16' })) as Row;
        const range = (await ipam.perform('range', 'add', { network: '10.6.0.0/24' })) as Row;
        await ipam.perform('address', 'allocate', { range: range.id, count: 3 });
        // As the previous version stored it: the count a field of the record (here stale), no counter document.
        // The range's counter stands for one another process opening the store created meanwhile (7, not a recount).
        await ipam.store.collection('counters').deleteOne({ id: block.id });
        await ipam.store.collection('counters').updateOne({ id: range.id }, { $set: { [COUNT_FIELD]: 7 } });
        await ipam.store.collection('ranges').updateOne({ id: range.id }, { $set: { [COUNT_FIELD]: 99 } });
        await ipam.store.collection('blocks').updateOne({ id: block.id }, { $set: { [COUNT_FIELD]: 99 } });
        await ipam.store.collection('settings').deleteMany({ name: 'migration:counters-collection' });
        return { block, range };
      },
      async (ipam, { block, range }) => {
        const counters = new Map((await all(ipam, 'counters')).map((doc) => [doc.id, doc[COUNT_FIELD]]));
        expect(Object.fromEntries(counters), 'the missing one recounted, the present one left').to.deep.equal({ [range.id]: 7, [block.id]: 3 });
        for (const collection of ['ranges', 'blocks']) {
          expect(await ipam.store.collection(collection as 'ranges').count({ [COUNT_FIELD]: { $exists: true } }), collection).to.equal(0);
        }
        await ipam.store.collection('counters').updateOne({ id: range.id }, { $set: { [COUNT_FIELD]: 3 } });
        expect(((await ipam.perform('range', 'utilization', { id: range.id })) as Utilization).assigned).to.equal(3);
        await ipam.perform('address', 'allocate', { range: range.id });
        expect((await ipam.store.collection('counters').findOne({ id: range.id }))?.[COUNT_FIELD]).to.equal(4);
      },
    );
  });
});

for (const factory of availableStores().filter((f) => f.name.includes('memory'))) {
  describe(`assigned counters: ${factory.name}`, () => {
    after(async () => factory.shutdown?.());

    it('equal a full recount after a randomized mix of writes (fast-check, fixed seed)', async function () {
      this.timeout(180_000);
      let checked = 0;
      let straddled = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 10, maxLength: 40 }), async (steps) => {
          const ipam = Ipam.over(await factory.open());
          try {
            await ipam.perform('block', 'add', { network: '10.0.0.0/16' });
            await ipam.perform('range', 'add', { network: '10.0.0.0/26' });
            for (const s of steps) await apply(ipam, s);
            straddled += (await expectCountersExact(ipam)).straddled;
            checked += (await all(ipam, 'addresses')).length;
            const report = (await ipam.perform('range', 'reconcile', {})) as { drift: unknown[] };
            expect(report.drift).to.deep.equal([]);
          } finally {
            await ipam.close();
          }
        }),
        { seed: 1313, numRuns: 25 },
      );
      expect(checked, 'the mix wrote addresses').to.be.greaterThan(0);
      expect(straddled, 'the mix made ranges that straddle a nested block').to.be.greaterThan(0);
    });

    it('reconcile never sets a cover counted before a range add that committed meanwhile', async () => {
      const store = await factory.open();
      let pending: Promise<unknown> | undefined;
      let reconciling = false;
      // A store that starts a range add just before reconcile writes a block's cover, and gives it 30 ms:
      // without the space lock the add commits its cover in that gap and reconcile's stale count overwrites it.
      const racing = new Proxy(store, {
        get(target, property, receiver) {
          if (property !== 'collection') return Reflect.get(target, property, receiver);
          return (name: string) => {
            const collection = target.collection(name as 'blocks');
            if (name !== 'blocks') return collection;
            return new Proxy(collection, {
              get(inner, method, innerReceiver) {
                if (method !== 'updateOne' || pending || !reconciling) return Reflect.get(inner, method, innerReceiver);
                return async (...args: Parameters<typeof collection.updateOne>) => {
                  pending = ipam.perform('range', 'add', { network: '10.2.1.0/24' });
                  await new Promise((resolve) => setTimeout(resolve, 30));
                  return inner.updateOne(...args);
                };
              },
            });
          };
        },
      });
      const ipam = Ipam.over(racing);
      try {
        const block = (await ipam.perform('block', 'add', { network: '10.2.0.0/16' })) as Row;
        await ipam.perform('range', 'add', { network: '10.2.0.0/24' });
        await store.collection('blocks').updateOne({ id: block.id }, { $set: { [RANGED_FIELD]: '1' } });
        reconciling = true;
        await ipam.perform('range', 'reconcile', { addressSpace: 'Default' });
        reconciling = false;
        await pending;
        const stored = await store.collection('blocks').findOne({ id: block.id });
        const recount = await coverOf(ipam, block.id);
        expect(recount.rangedSize, 'both ranges, counted now').to.equal(String(2 * 254));
        expect({ rangedSize: stored?.[RANGED_FIELD], straddling: stored?.[STRADDLING_FIELD] }).to.deep.equal(recount);
      } finally {
        await ipam.close();
      }
    });

    it('reconcile reports and repairs drift, and leaves exact counters alone', async () => {
      const ipam = Ipam.over(await factory.open());
      try {
        const block = (await ipam.perform('block', 'add', { network: '10.1.0.0/16' })) as Row;
        const range = (await ipam.perform('range', 'add', { network: '10.1.0.0/24' })) as Row;
        await ipam.perform('address', 'allocate', { range: range.id, count: 5 });
        await ipam.store.collection('counters').updateOne({ id: range.id }, { $set: { [COUNT_FIELD]: 42 } });
        await ipam.store.collection('counters').deleteOne({ id: block.id });
        const report = (await ipam.perform('range', 'reconcile', { addressSpace: 'Default' })) as {
          ranges: number;
          blocks: number;
          drift: { entity: string; id: string; stored: number | null; counted: number }[];
        };
        expect(report.ranges).to.equal(1);
        expect(report.blocks).to.equal(1);
        expect(report.drift.map(({ entity, id, stored, counted }) => ({ entity, id, stored, counted }))).to.deep.equal([
          { entity: 'range', id: range.id, stored: 42, counted: 5 },
          { entity: 'block', id: block.id, stored: null, counted: 5 },
        ]);
        expect(((await ipam.perform('range', 'utilization', { id: range.id })) as Utilization).assigned).to.equal(5);
        expect(((await ipam.perform('range', 'reconcile', {})) as { drift: unknown[] }).drift).to.deep.equal([]);
      } finally {
        await ipam.close();
      }
    });

    it('release of a whole range leaves the addresses in its span that map elsewhere', async () => {
      const ipam = Ipam.over(await factory.open());
      try {
        const range = (await ipam.perform('range', 'add', { network: '10.3.0.0/24' })) as Row;
        await ipam.perform('address', 'add', { address: '10.3.0.2', managedByService: 'Other' });
        await ipam.perform('address', 'allocate', { range: range.id, count: 3 });
        const { released } = (await ipam.perform('address', 'release', { range: range.id })) as { released: { address: string }[] };
        expect(released.map((r) => r.address)).to.deep.equal(['10.3.0.1', '10.3.0.3', '10.3.0.4']);
        const left = (await all(ipam, 'addresses')).map((doc) => doc.address);
        expect(left).to.deep.equal(['10.3.0.2']);
      } finally {
        await ipam.close();
      }
    });

    it('release of a whole range deletes in batches and zeroes its counter', async () => {
      const batches: Write[][] = [];
      const ipam = Ipam.over(recordingAtomic(await factory.open(), batches));
      try {
        const range = (await ipam.perform('range', 'add', { network: '10.2.0.0/20' })) as Row;
        for (let i = 0; i < 3; i++) await ipam.perform('address', 'allocate', { range: range.id, count: 1000 });
        batches.length = 0;
        let ticks = 0;
        const ticker = setInterval(() => ticks++, 0);
        const progress: number[] = [];
        const { released } = await release(ipam, { range: range.id }, { onProgress: (n) => progress.push(n) });
        clearInterval(ticker);
        expect(progress).to.deep.equal([1000, 2000, 3000]);
        expect(released).to.have.length(3000);
        // One deleteMany of at most DELETE_CHUNK addresses per batch, each with its history entries, the range's
        // hint lowered to the batch's lowest address, and the counter decrement.
        const deletes = batches.filter((batch) => batch.some((w) => w.op === 'delete'));
        expect(deletes).to.have.length(3000 / DELETE_CHUNK);
        for (const [index, whole] of deletes.entries()) {
          const history = whole.filter((w) => w.collection === 'history');
          expect(history).to.have.length(DELETE_CHUNK);
          expect(history.every((w) => w.op === 'insert' && w.doc.operation === 'release')).to.equal(true);
          const batch = whole.filter((w) => w.collection !== 'history');
          const lowest = (index * DELETE_CHUNK + 1) as number;
          expect(batch[0]).to.include({ op: 'delete', collection: 'addresses', many: true });
          expect(batch.slice(1)).to.deep.equal([
            { op: 'update', collection: 'counters', filter: { id: range.id }, update: { $inc: { [COUNT_FIELD]: -DELETE_CHUNK } } },
            {
              op: 'update',
              collection: 'ranges',
              filter: { id: range.id },
              update: { $min: { freeHint: `Default|4|${(0x0a020000 + lowest).toString(16).padStart(8, '0')}` }, $inc: { hintVersion: 1 } },
            },
          ]);
        }
        expect(ticks, 'timers ran while releasing').to.be.greaterThan(0);
        expect(await ipam.store.collection('addresses').count({})).to.equal(0);
        expect(((await ipam.perform('range', 'utilization', { id: range.id })) as Utilization).assigned).to.equal(0);
        const next = (await ipam.perform('address', 'allocate', { range: range.id })) as { address: string };
        expect(next.address).to.equal('10.2.0.1');
      } finally {
        await ipam.close();
      }
    });
  });
}
