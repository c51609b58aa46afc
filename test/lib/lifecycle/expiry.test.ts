/**
 * Expiry: state computation at the threshold boundaries and across time zones, transitions reported
 * once (also across a restart and between concurrent runs), periodic mode, paging.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { IpamError } from '../../../lib/errors';
import { checkExpiry, lastExpiryRun, type ExpiryEvent, type ExpiryReport } from '../../../lib/lifecycle/expiry';
import { expiryStatusOf } from '../../../lib/record';
import { Ipam } from '../../../lib/ipam';
import { openStore } from '../../../lib/store';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores, tempDir } from '../../support/stores';

const DAY = 86_400_000;

describe('expiry state computation', () => {
  const at = (iso: string) => new Date(iso);

  it('a date-only expiryDate is valid through that UTC day; Due from threshold days before it', () => {
    const date = '2026-12-31';
    expect(expiryStatusOf(date, at('2026-12-20T23:59:59.999Z'))).to.equal('Not expired');
    expect(expiryStatusOf(date, at('2026-12-21T00:00:00.000Z'))).to.equal('Expiry Due');
    expect(expiryStatusOf(date, at('2026-12-31T23:59:59.999Z'))).to.equal('Expiry Due');
    expect(expiryStatusOf(date, at('2027-01-01T00:00:00.000Z'))).to.equal('Expired');
  });

  it('a date-time expiryDate is an instant; Due from threshold x 24 h before it', () => {
    const instant = '2026-12-31T18:00:00.000Z';
    expect(expiryStatusOf(instant, at('2026-12-21T17:59:59.999Z'))).to.equal('Not expired');
    expect(expiryStatusOf(instant, at('2026-12-21T18:00:00.000Z'))).to.equal('Expiry Due');
    expect(expiryStatusOf(instant, at('2026-12-31T17:59:59.999Z'))).to.equal('Expiry Due');
    expect(expiryStatusOf(instant, at('2026-12-31T18:00:00.000Z'))).to.equal('Expired');
  });

  it('the threshold moves the Due boundary; 0 makes only the day itself Due', () => {
    expect(expiryStatusOf('2026-03-10', at('2026-03-05T12:00:00Z'), 5)).to.equal('Expiry Due');
    expect(expiryStatusOf('2026-03-10', at('2026-03-04T23:59:59Z'), 5)).to.equal('Not expired');
    expect(expiryStatusOf('2026-03-10', at('2026-03-09T23:59:59Z'), 0)).to.equal('Not expired');
    expect(expiryStatusOf('2026-03-10', at('2026-03-10T00:00:00Z'), 0)).to.equal('Expiry Due');
    expect(expiryStatusOf('2026-03-10', at('2026-03-11T00:00:00Z'), 0)).to.equal('Expired');
  });

  it('gives the same states whatever the process time zone (child processes with TZ set)', function () {
    this.timeout(120_000);
    const lib = path.resolve(__dirname, '../../../lib');
    // Dates around midnight UTC and a DST change in Europe and America; `now` instants near day edges.
    const script = `
      const { expiryStatusOf } = require(${JSON.stringify(path.join(lib, 'record/index.ts'))});
      const { Ipam } = require(${JSON.stringify(path.join(lib, 'ipam.ts'))});
      const { openStore } = require(${JSON.stringify(path.join(lib, 'store/index.ts'))});
      const dates = ['2026-03-29', '2026-03-08', '2026-11-01', '2026-12-31', '2026-03-29T01:30:00.000Z', '2026-12-31T23:30:00.000Z'];
      const nows = ['2026-03-19T00:30:00Z', '2026-03-18T23:30:00Z', '2026-03-29T23:59:00Z', '2026-03-30T00:00:00Z',
        '2026-10-22T13:00:00Z', '2026-12-21T00:00:00Z', '2026-12-20T23:00:00Z', '2027-01-01T00:10:00Z'];
      (async () => {
        const states = nows.map((now) => dates.map((d) => expiryStatusOf(d, new Date(now), 10)));
        const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
        for (const [i, d] of dates.entries()) await ipam.perform('address', 'add', { address: '10.0.0.' + (i + 1), expiryDate: d });
        const report = await ipam.perform('expiry', 'check', { now: '2026-03-19T00:30:00Z' });
        console.log(JSON.stringify({ tz: Intl.DateTimeFormat().resolvedOptions().timeZone, offset: new Date('2026-03-19T00:30:00Z').getTimezoneOffset(), states, counts: report.counts, events: report.events.map((e) => e.expiryStatus) }));
        await ipam.close();
      })();`;
    const zones = ['UTC', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Asia/Kolkata'];
    const results = zones.map((tz) => {
      const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
        env: { ...process.env, TZ: tz },
        cwd: path.resolve(__dirname, '../../..'),
        encoding: 'utf8',
      });
      return JSON.parse(out.trim().split('\n').pop()!) as { tz: string; offset: number; states: string[][]; counts: unknown; events: string[] };
    });
    // The child processes really ran in different zones (offsets from +14 h to -11 h) ...
    expect(new Set(results.map((r) => r.offset)).size).to.equal(zones.length);
    // ... and agree on every state, with what this process computes, and with the hand-checked ones.
    for (const result of results.slice(1)) {
      expect(result.states, result.tz).to.deep.equal(results[0].states);
      expect(result.counts, result.tz).to.deep.equal(results[0].counts);
      expect(result.events, result.tz).to.deep.equal(results[0].events);
    }
    // now 2026-03-19T00:30Z: 03-29 is 10 days ahead (Due); 03-29T01:30Z is 10 days + 1 h ahead (not yet Due).
    expect(results[0].states[0]).to.deep.equal(['Expiry Due', 'Expired', 'Not expired', 'Not expired', 'Not expired', 'Not expired']);
    // now 2026-03-18T23:30Z (already the 19th in Kolkata or Kiritimati): 03-29 is 11 UTC days ahead.
    expect(results[0].states[1]).to.deep.equal(['Not expired', 'Expired', 'Not expired', 'Not expired', 'Not expired', 'Not expired']);
    expect(results[0].states[2]).to.deep.equal(['Expiry Due', 'Expired', 'Not expired', 'Not expired', 'Expired', 'Not expired']);
    expect(results[0].states[3]).to.deep.equal(['Expired', 'Expired', 'Not expired', 'Not expired', 'Expired', 'Not expired']);
    expect(results[0].counts).to.deep.equal({ expired: 1, expiryDue: 1, notExpired: 4 });
    expect(results[0].events).to.deep.equal(['Expired', 'Expiry Due']);
  });
});

for (const factory of availableStores()) {
  describe(`expiry check: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const check = (options: Record<string, unknown>) => ipam.perform('expiry', 'check', options) as Promise<ExpiryReport>;
    const address = (a: string, expiryDate?: string) => ipam.perform('address', 'add', { address: a, ...(expiryDate ? { expiryDate } : {}) });
    /** The state the check stored (internal: reads derive expiryStatus themselves). */
    const reported = () => ipam.store.collection<{ id: string; address: string; expiryReported?: string }>('addresses').find({}, { sort: { key: 1 } });
    const summary = (events: ExpiryEvent[]) => events.map((e) => `${e.address} ${e.previousStatus} -> ${e.expiryStatus}`);

    it('reports each transition once, with the message shape of the spec, and stores the state', async () => {
      await address('10.0.0.1', '2026-06-30');
      await address('10.0.0.2', '2026-06-10');
      await address('10.0.0.3', '2026-08-01');
      await address('10.0.0.4');
      const first = await check({ now: '2026-06-20T08:00:00Z' });
      expect(summary(first.events)).to.deep.equal(['10.0.0.2 null -> Expired', '10.0.0.1 null -> Expiry Due']);
      expect(first.events[0]).to.have.all.keys('id', 'address', 'addressSpace', 'expiryDate', 'previousStatus', 'expiryStatus');
      expect(first.events[0]).to.include({ address: '10.0.0.2', expiryDate: '2026-06-10', addressSpace: 'Default' });
      expect(first.counts).to.deep.equal({ expired: 1, expiryDue: 1, notExpired: 1 });
      expect(first.changed).to.equal(3); // the first-seen Not expired is stored, not reported
      expect((await reported()).map((a) => a.expiryReported)).to.deep.equal(['Expiry Due', 'Expired', 'Not expired', undefined]);

      expect((await check({ now: '2026-06-20T09:00:00Z' })).events).to.deep.equal([]);
      const later = await check({ now: '2026-07-01T00:00:00Z' });
      expect(summary(later.events)).to.deep.equal(['10.0.0.1 Expiry Due -> Expired']);
      const dueAgain = await check({ now: '2026-07-22T00:00:00Z' });
      expect(summary(dueAgain.events)).to.deep.equal(['10.0.0.3 Not expired -> Expiry Due']);
    });

    it('a renewed address (expiryDate moved later) reports its way back to Not expired', async () => {
      await address('10.0.0.1', '2026-01-01');
      await check({ now: '2026-02-01T00:00:00Z' });
      await ipam.perform('address', 'update', { address: '10.0.0.1', expiryDate: '2027-01-01' });
      const renewed = await check({ now: '2026-02-01T01:00:00Z' });
      expect(summary(renewed.events)).to.deep.equal(['10.0.0.1 Expired -> Not expired']);
    });

    it('periodic: every run reports every Due or Expired address, never the Not expired ones', async () => {
      await address('10.0.0.1', '2026-06-30');
      await address('10.0.0.2', '2026-06-10T12:00:00Z');
      await address('10.0.0.3', '2026-09-01');
      for (const hour of ['08', '09']) {
        const run = await check({ now: `2026-06-25T${hour}:00:00Z`, logging: 'periodic' });
        expect(summary(run.events).sort()).to.deep.equal([
          `10.0.0.1 ${hour === '08' ? 'null' : 'Expiry Due'} -> Expiry Due`,
          `10.0.0.2 ${hour === '08' ? 'null' : 'Expired'} -> Expired`,
        ]);
      }
      // The states it stored mean a switch back to transitions reports nothing new.
      expect((await check({ now: '2026-06-25T10:00:00Z' })).events).to.deep.equal([]);
    });

    it('agrees with expiryStatusOf for a few hundred dates and instants around now (index conditions)', async () => {
      const now = new Date('2026-05-15T10:20:30.000Z');
      const expected: Record<string, string> = {};
      let n = 0;
      for (let offset = -15 * DAY; offset <= 15 * DAY; offset += DAY / 4) {
        const instant = new Date(now.getTime() + offset + 3_600_000).toISOString();
        const date = instant.slice(0, 10);
        for (const value of [instant, date]) {
          const a = `10.1.${Math.floor(n / 250)}.${(n % 250) + 1}`;
          n++;
          await address(a, value);
          expected[a] = expiryStatusOf(value, now, 7)!;
        }
      }
      const report = await check({ now: now.toISOString(), thresholdDays: 7, pageSize: 7 });
      expect(Object.fromEntries((await reported()).map((a) => [a.address, a.expiryReported]))).to.deep.equal(expected);
      const values = Object.values(expected);
      expect(report.counts).to.deep.equal({
        expired: values.filter((v) => v === 'Expired').length,
        expiryDue: values.filter((v) => v === 'Expiry Due').length,
        notExpired: values.filter((v) => v === 'Not expired').length,
      });
      expect(report.reported).to.equal(values.filter((v) => v !== 'Not expired').length);
    });

    it('pages through runs of equal dates without skipping or repeating an address', async () => {
      for (let i = 1; i <= 23; i++) await address(`10.2.0.${i}`, '2026-01-01');
      for (let i = 1; i <= 5; i++) await address(`10.2.1.${i}`, '2026-01-02');
      const run = await check({ now: '2026-03-01T00:00:00Z', pageSize: 4, logging: 'periodic' });
      const ids = run.events.map((e) => e.id);
      expect(ids).to.have.length(28);
      expect(new Set(ids).size).to.equal(28);
    });

    it('records the time of a run under a key, so a schedule survives a restart', async () => {
      expect(await lastExpiryRun(ipam, 'node-1')).to.equal(null);
      await check({ now: '2026-02-01T00:00:00Z', runKey: 'node-1' });
      await check({ now: '2026-02-02T00:00:00Z', runKey: 'node-1' });
      await check({ now: '2026-02-03T00:00:00Z' });
      expect(await lastExpiryRun(ipam, 'node-1')).to.equal('2026-02-02T00:00:00.000Z');
    });

    it('concurrent runs report each transition once between them', async () => {
      for (let i = 1; i <= 30; i++) await address(`10.3.0.${i}`, '2026-01-01');
      const runs = await Promise.all([1, 2, 3].map(() => check({ now: '2026-02-01T00:00:00Z', pageSize: 5 })));
      const all = runs.flatMap((r) => r.events.map((e) => e.address));
      expect(all).to.have.length(30);
      expect(new Set(all).size).to.equal(30);
    });

    it('a batch whose compare-and-set another run partly won reports only what this run moved', async () => {
      for (let i = 1; i <= 6; i++) await address(`10.4.0.${i}`, '2026-01-01');
      const addresses = ipam.store.collection('addresses');
      let raced = false;
      // Another run moves 10.4.0.2 between this run's read and its bulk write.
      const racing = Object.create(addresses) as typeof addresses;
      racing.updateMany = async (filter, update) => {
        if (!raced) {
          raced = true;
          await addresses.updateOne({ address: '10.4.0.2' }, { $set: { expiryReported: 'Expired' } });
        }
        return addresses.updateMany(filter, update);
      };
      const store = Object.assign(Object.create(ipam.store) as typeof ipam.store, {
        collection: (name: string) => (name === 'addresses' ? racing : ipam.store.collection(name as 'addresses')),
      });
      const report = await checkExpiry(Ipam.over(store), { now: '2026-02-01T00:00:00Z' });
      expect(raced).to.equal(true);
      expect(report.events.map((e) => e.address).sort()).to.deep.equal(['10.4.0.1', '10.4.0.3', '10.4.0.4', '10.4.0.5', '10.4.0.6']);
      expect(report.changed).to.equal(5);
      expect((await reported()).every((doc) => doc.expiryReported === 'Expired')).to.equal(true);
    });

    it('streams events through onEvent and validates its options', async () => {
      await address('10.0.0.1', '2026-01-01');
      const seen: ExpiryEvent[] = [];
      const report = await checkExpiry(ipam, { now: '2026-02-01T00:00:00Z', onEvent: (e: ExpiryEvent) => void seen.push(e) });
      expect(seen.map((e) => e.address)).to.deep.equal(['10.0.0.1']);
      expect(report.events).to.deep.equal([]);
      expect(report.reported).to.equal(1);
      for (const options of [{ thresholdDays: -1 }, { thresholdDays: 1.5 }, { logging: 'hourly' }, { now: 'yesterday' }]) {
        const err = await check(options).then(() => undefined, (e: IpamError) => e);
        expect(err?.code, JSON.stringify(options)).to.equal('VALIDATION');
      }
    });
  });
}

describe('expiry check across a restart (file store)', () => {
  it('a transition reported before the restart is not reported again after it', async () => {
    const directory = tempDir();
    const first = Ipam.over(await openStore({ kind: 'embedded', directory }));
    await first.perform('address', 'add', { address: '10.0.0.1', expiryDate: '2026-01-01' });
    await first.perform('address', 'add', { address: '10.0.0.2', expiryDate: '2026-01-20' });
    const before = (await first.perform('expiry', 'check', { now: '2026-01-05T00:00:00Z' })) as ExpiryReport;
    expect(before.events.map((e) => e.expiryStatus)).to.deep.equal(['Expired']);
    await first.close();
    const second = Ipam.over(await openStore({ kind: 'embedded', directory }));
    try {
      const after = (await second.perform('expiry', 'check', { now: '2026-01-05T00:00:00Z' })) as ExpiryReport;
      expect(after.events).to.deep.equal([]);
      const next = (await second.perform('expiry', 'check', { now: '2026-01-10T00:00:00Z' })) as ExpiryReport;
      expect(next.events.map((e) => `${e.address} ${e.previousStatus} -> ${e.expiryStatus}`)).to.deep.equal([
        '10.0.0.2 Not expired -> Expiry Due',
      ]);
    } finally {
      await second.close();
    }
  });
});
