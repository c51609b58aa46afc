/**
 * Allocation holds (issue 15): held addresses are not offered before their end and are after it, without any
 * timer; confirm; idempotent holds by requestId; ipam-expiry's hold-expired events; a confirm racing an expiry
 * ends one way only; holds survive a restart.
 */
import { expect } from 'chai';
import type { AllocatedRecord } from '../../../lib/allocation/allocate';
import type { AddressDoc } from '../../../lib/space';
import type { ExpiryReport } from '../../../lib/lifecycle';
import type { HoldExpiredEvent } from '../../../lib/allocation/holds';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { openStore, type Store } from '../../../lib/store';
import { failure } from '../../support/failure';
import { availableStores, tempDir } from '../../support/stores';

/** The store with its clock moved by `clock.ms` (holds end by the store's clock). */
function clocked(store: Store, clock: { ms: number }): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'now') return async () => Date.now() + clock.ms;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

for (const factory of availableStores()) {
  describe(`holds: ${factory.name}`, () => {
    let store: Store;
    let ipam: Ipam;
    const clock = { ms: 0 };
    let range: RangeRecord;
    beforeEach(async () => {
      clock.ms = 0;
      store = await factory.open();
      ipam = Ipam.over(clocked(store, clock));
      range = (await ipam.perform('range', 'add', { network: '10.9.0.0/29' })) as RangeRecord;
    });
    afterEach(() => ipam.close());
    after(async () => factory.shutdown?.());

    const allocate = (payload: Record<string, unknown>) =>
      ipam.perform('address', 'allocate', { range: range.id, ...payload }) as Promise<AllocatedRecord>;
    const find = (count = 1) => ipam.perform('address', 'find', { range: range.id, count }) as Promise<string[]>;
    const confirm = (payload: unknown) => ipam.perform('address', 'confirm', payload) as Promise<AddressRecord>;
    const check = () => ipam.perform('expiry', 'check', {}) as Promise<ExpiryReport>;
    const stored = () => store.collection<AddressDoc>('addresses').find({}, { sort: { key: 1 } });
    const assigned = async () => (await store.collection<{ id: string; assignedCount?: number }>('counters').findOne({ id: range.id }))?.assignedCount;

    it('stores a hold as Reserved with holdUntil by the store clock, and says so in the result', async () => {
      clock.ms = 5000;
      const before = Date.now() + clock.ms;
      const held = await allocate({ holdSeconds: 30, deviceName: 'vm-1' });
      expect(held.address).to.equal('10.9.0.1');
      expect(held.ipAddressState).to.equal('Reserved');
      const until = Date.parse(held.holdUntil as string);
      expect(until - before).to.be.within(30_000, 31_000);
      const [doc] = await stored();
      expect(doc.holdUntil).to.equal(held.holdUntil);
    });

    it('takes holdUntil as an instant and refuses bad hold input by name', async () => {
      const at = new Date(Date.now() + 60_000).toISOString();
      expect((await allocate({ holdUntil: at })).holdUntil).to.equal(at);
      for (const [payload, field] of [
        [{ holdSeconds: 0 }, 'holdSeconds'],
        [{ holdSeconds: 'soon' }, 'holdSeconds'],
        [{ holdSeconds: 1.5 }, 'holdSeconds'],
        [{ holdUntil: 'tomorrow' }, 'holdUntil'],
        [{ holdUntil: new Date(Date.now() - 1000).toISOString() }, 'holdUntil'],
        [{ holdSeconds: 10, holdUntil: at }, 'holdUntil'],
      ] as const) {
        const err = await failure(allocate(payload));
        expect(err.code, JSON.stringify(payload)).to.equal('VALIDATION');
        expect(err.field).to.equal(field);
      }
      expect(await stored()).to.have.length(1);
    });

    it('does not offer a held address before its end, and offers it (and allocates it) after, with no expiry run', async () => {
      const held = await allocate({ holdSeconds: 30 });
      expect(await find(2)).to.deep.equal(['10.9.0.2', '10.9.0.3']);
      expect((await allocate({})).address).to.equal('10.9.0.2');
      clock.ms = 31_000;
      expect(await find(2)).to.deep.equal(['10.9.0.1', '10.9.0.3']);
      // find wrote nothing: the expired hold is still stored.
      expect((await stored()).map((doc) => doc.id)).to.include(held.id);
      const again = await allocate({ deviceName: 'next' });
      expect(again.address).to.equal('10.9.0.1');
      expect(again.id).to.not.equal(held.id);
      expect(again.holdUntil).to.equal(undefined);
      expect((await stored()).map((doc) => doc.address)).to.deep.equal(['10.9.0.1', '10.9.0.2']);
      expect(await assigned()).to.equal(2);
    });

    it('an explicit address that is an expired hold can be allocated', async () => {
      await allocate({ address: '10.9.0.4', holdSeconds: 10 });
      expect((await failure(allocate({ address: '10.9.0.4' }))).code).to.equal('DUPLICATE');
      clock.ms = 11_000;
      expect((await allocate({ address: '10.9.0.4' })).ipAddressState).to.equal('In-Use');
    });

    it('confirm by id, address or requestId makes a normal allocation in the requested state', async () => {
      const a = await allocate({ holdSeconds: 30 });
      const b = await allocate({ holdSeconds: 30 });
      const c = await allocate({ holdSeconds: 30, requestId: 'build-7' });
      const byId = await confirm({ id: a.id });
      expect(byId.ipAddressState).to.equal('In-Use');
      expect(byId.holdUntil).to.equal(undefined);
      expect((await confirm({ address: b.address, ipAddressState: 'inactive' })).ipAddressState).to.equal('Inactive');
      expect((await confirm({ requestId: 'build-7' })).id).to.equal(c.id);
      clock.ms = 60_000;
      await allocate({});
      await check();
      const docs = await stored();
      expect(docs.map((doc) => [doc.address, doc.ipAddressState, doc.holdUntil ?? null])).to.deep.equal([
        ['10.9.0.1', 'In-Use', null],
        ['10.9.0.2', 'Inactive', null],
        ['10.9.0.3', 'In-Use', null],
        ['10.9.0.4', 'In-Use', null],
      ]);
      // A repeated confirm is harmless: the address is returned as it is.
      expect((await confirm({ id: b.id })).ipAddressState).to.equal('Inactive');
    });

    it('confirm after expiry fails with CONFLICT, before and after the hold was removed', async () => {
      const a = await allocate({ holdSeconds: 10 });
      const b = await allocate({ holdSeconds: 10, requestId: 'r-b' });
      clock.ms = 11_000;
      const early = await failure(confirm({ id: a.id }));
      expect(early.code).to.equal('CONFLICT');
      expect(early.message).to.match(/10\.9\.0\.1.*hold expired/);
      await check();
      for (const selector of [{ id: a.id }, { id: b.id }, { address: b.address }, { requestId: 'r-b' }]) {
        const late = await failure(confirm(selector));
        expect(late.code, JSON.stringify(selector)).to.equal('CONFLICT');
      }
      expect(await stored()).to.deep.equal([]);
      expect((await failure(confirm({ requestId: 'never' }))).code).to.equal('NOT_FOUND');
    });

    it('repeating allocate with the same requestId returns the same hold, and after expiry allocates afresh', async () => {
      const first = await allocate({ holdSeconds: 20, requestId: 'vm-42' });
      const repeat = await allocate({ holdSeconds: 20, requestId: 'vm-42' });
      expect(repeat.id).to.equal(first.id);
      expect(repeat.holdUntil).to.equal(first.holdUntil);
      await allocate({}); // 10.9.0.2, so the fresh hold cannot land on the old address by chance of order alone
      clock.ms = 21_000;
      const fresh = await allocate({ holdSeconds: 20, requestId: 'vm-42' });
      expect(fresh.id).to.not.equal(first.id);
      expect(Date.parse(fresh.holdUntil as string)).to.be.greaterThan(Date.parse(first.holdUntil as string));
      const docs = await stored();
      expect(docs.filter((doc) => doc.requestId === 'vm-42').map((doc) => doc.id)).to.deep.equal([fresh.id]);
      expect(await assigned()).to.equal(2);
    });

    it('concurrent same-requestId holds give one hold', async () => {
      const results = await Promise.all(Array.from({ length: 4 }, () => allocate({ holdSeconds: 30, requestId: 'same' })));
      expect(new Set(results.map((r) => r.id)).size).to.equal(1);
      expect(await stored()).to.have.length(1);
    });

    it("ipam-expiry deletes expired holds and reports each once, also those an allocation removed", async () => {
      const a = await allocate({ holdSeconds: 10, requestId: 'job-a', deviceName: 'web-1' });
      const b = await allocate({ holdSeconds: 10 });
      await allocate({ holdSeconds: 100 });
      expect((await check()).holdEvents).to.deep.equal([]);
      clock.ms = 11_000;
      await allocate({ address: b.address }); // ends b's hold on the way
      const report = await check();
      const events = report.holdEvents.map((e: HoldExpiredEvent) => [e.event, e.address, e.requestId ?? null, e.id, e.holdUntil]);
      expect(events).to.have.deep.members([
        ['hold-expired', a.address, 'job-a', a.id, a.holdUntil],
        ['hold-expired', b.address, null, b.id, b.holdUntil],
      ]);
      expect(report.holdEvents.find((e) => e.id === a.id)?.deviceName).to.equal('web-1');
      expect((await stored()).map((doc) => doc.address)).to.deep.equal(['10.9.0.2', '10.9.0.3']);
      expect((await check()).holdEvents).to.deep.equal([]);
      expect(await assigned()).to.equal(2);
    });

    it('a confirm whose hold expires before it writes loses to the expiry, and the reverse order keeps the confirm', async () => {
      const lose = await allocate({ holdSeconds: 10 });
      const win = await allocate({ holdSeconds: 10 });
      const late = { ms: 11_000 };
      const expirer = Ipam.over(clocked(store, late));
      // The confirm has checked its hold (not expired by its clock); the expiry ends it before the confirm writes.
      let raced = false;
      const racing = Ipam.over(
        new Proxy(clocked(store, clock), {
          get(target, property) {
            if (property !== 'atomic') return Reflect.get(target, property, target) as unknown;
            return async (writes: Parameters<Store['atomic']>[0]) => {
              if (!raced) {
                raced = true;
                await expirer.perform('expiry', 'check', {});
              }
              return target.atomic(writes);
            };
          },
        }),
      );
      const err = await failure(racing.perform('address', 'confirm', { id: lose.id }));
      expect(err.code).to.equal('CONFLICT');
      expect(await store.collection('addresses').findOne({ id: lose.id })).to.equal(null);
      // win's hold was expired by the same run too; confirm a fresh one first, then expire.
      expect(await store.collection('addresses').findOne({ id: win.id })).to.equal(null);
      const kept = await allocate({ holdSeconds: 10 });
      await confirm({ id: kept.id });
      clock.ms = late.ms + 20_000;
      const report = (await Ipam.over(clocked(store, { ms: 40_000 })).perform('expiry', 'check', {})) as ExpiryReport;
      expect(report.holdEvents.map((e) => e.id)).to.not.include(kept.id);
      expect((await store.collection<AddressDoc>('addresses').findOne({ id: kept.id }))?.ipAddressState).to.equal('In-Use');
    });

    it('confirms racing expiries settle once each: confirmed and kept, or expired, reported and gone', async () => {
      const holds: AllocatedRecord[] = [];
      for (let i = 0; i < 6; i++) holds.push(await allocate({ holdSeconds: 10 }));
      const expirer = Ipam.over(clocked(store, { ms: 11_000 }));
      const outcomes = await Promise.all([
        Promise.all(holds.map((h) => confirm({ id: h.id }).then(() => 'confirmed', (err: { code?: string }) => err.code))),
        expirer.perform('expiry', 'check', {}) as Promise<ExpiryReport>,
        expirer.perform('address', 'allocate', { range: range.id }).catch((err: { code?: string }) => err.code),
      ]);
      const [confirms, report] = outcomes as [string[], ExpiryReport, unknown];
      const laterEvents = ((await expirer.perform('expiry', 'check', {})) as ExpiryReport).holdEvents;
      const expiredIds = new Set([...report.holdEvents, ...laterEvents].map((e) => e.id));
      for (const [i, hold] of holds.entries()) {
        const doc = await store.collection<AddressDoc>('addresses').findOne({ id: hold.id });
        if (confirms[i] === 'confirmed') {
          expect(doc?.ipAddressState, hold.address).to.equal('In-Use');
          expect(expiredIds.has(hold.id), hold.address).to.equal(false);
        } else {
          expect(confirms[i]).to.equal('CONFLICT');
          expect(doc, hold.address).to.equal(null);
          expect(expiredIds.has(hold.id), hold.address).to.equal(true);
        }
      }
      const live = await store.collection('addresses').count({});
      expect(await assigned()).to.equal(live);
    });
  });
}

describe('holds across a restart (embedded file)', () => {
  it('a hold and its requestId survive a restart; after its end a restarted process reports and frees it once', async () => {
    const directory = tempDir();
    const clock = { ms: 0 };
    const open = async () => Ipam.over(clocked(await openStore({ kind: 'embedded', directory }), clock));
    let ipam = await open();
    const range = (await ipam.perform('range', 'add', { network: '10.8.0.0/30' })) as RangeRecord;
    const held = (await ipam.perform('address', 'allocate', { range: range.id, holdSeconds: 15, requestId: 'boot' })) as AllocatedRecord;
    await ipam.close();
    ipam = await open();
    const repeat = (await ipam.perform('address', 'allocate', { range: range.id, holdSeconds: 15, requestId: 'boot' })) as AllocatedRecord;
    expect(repeat.id).to.equal(held.id);
    clock.ms = 16_000;
    await ipam.close();
    ipam = await open();
    const report = (await ipam.perform('expiry', 'check', {})) as ExpiryReport;
    expect(report.holdEvents.map((e) => [e.id, e.requestId])).to.deep.equal([[held.id, 'boot']]);
    await ipam.close();
    ipam = await open();
    expect(((await ipam.perform('expiry', 'check', {})) as ExpiryReport).holdEvents).to.deep.equal([]);
    expect(await ipam.store.collection('addresses').count({})).to.equal(0);
    await ipam.close();
  });
});
