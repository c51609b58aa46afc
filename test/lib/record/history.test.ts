/**
 * History (issue 15): an entry for each kind of write of blocks, ranges and addresses with exact before/after
 * values and its source, read by record, by address or network and by time window, paged, across a restart;
 * retention pruning.
 */
import { expect } from 'chai';
import { expireHolds, type AllocatedRecord, type HoldExpiredEvent } from '../../../lib/allocation';
import type { CsvOutcome } from '../../../lib/csv';
import fc from 'fast-check';
import type { Context } from '../../../lib/record';
import { changesOf, changesOfEntry, historyWrites, pruneHistory, type HistoryDoc, type HistoryEntry, type HistoryPage } from '../../../lib/record/history';
import { Ipam } from '../../../lib/ipam';
import type { BlockRecord, RangeRecord } from '../../../lib/record/records';
import { openStore } from '../../../lib/store';
import { failure } from '../../support/failure';
import { freshIpamEachTest } from '../../support/ipam';
import { availableStores, tempDir } from '../../support/stores';

const SOURCE = { nodeId: 'n1', nodeName: 'allocator', flowId: 'f1' };

describe('history changes of a create and of a delete', () => {
  it('are the changes from an empty record: every tracked field it sets, from null', () => {
    const created = {
      id: 'a1', key: 'k', address: '10.0.0.1', deviceName: 'host', description: '', rangeId: null, blockId: undefined,
      customFields: { site: ['a', 'b'] }, iaid: 0, weird: Number.NaN, far: Number.POSITIVE_INFINITY, updatedAt: 'x', dns: { name: 'h' },
    };
    const changes = changesOf(null, created);
    expect(changes).to.deep.equal(changesOf({}, created));
    expect(Object.keys(changes).sort()).to.deep.equal(['address', 'customFields', 'description', 'deviceName', 'dns', 'iaid']);
    expect(changes.iaid).to.deep.equal([null, 0]);
  });

  it('of a delete are the changes to an empty record: every tracked field it had, to null', () => {
    const deleted = {
      id: 'a1', key: 'k', address: '10.0.0.1', deviceName: 'host', description: '', rangeId: null, blockId: undefined,
      customFields: { site: ['a', 'b'] }, iaid: 0, weird: Number.NaN, far: Number.NEGATIVE_INFINITY, updatedAt: 'x', dns: { name: 'h' },
    };
    const changes = changesOf(deleted, null);
    expect(changes).to.deep.equal(changesOf(deleted, {}));
    expect(Object.keys(changes).sort()).to.deep.equal(['address', 'customFields', 'description', 'deviceName', 'dns', 'iaid']);
    expect(changes.dns).to.deep.equal([{ name: 'h' }, null]);
  });
});

describe('history changes of fields named like Object.prototype members', () => {
  it('are the fields themselves: never an inherited member, and __proto__ stays a field', () => {
    const before = JSON.parse('{"id":"a1","address":"10.0.0.1","__proto__":{"x":1}}') as Record<string, unknown>;
    const after = JSON.parse('{"id":"a1","address":"10.0.0.1","toString":"t","constructor":"c"}') as Record<string, unknown>;
    const changes = changesOf(before, after);
    expect(Object.keys(changes).sort()).to.deep.equal(['__proto__', 'constructor', 'toString']);
    expect(changes.__proto__).to.deep.equal([{ x: 1 }, null]);
    expect(changes.toString).to.deep.equal([null, 't']);
    expect(Object.getPrototypeOf(changes)).to.equal(Object.prototype);
    expect(changesOf(before, null).__proto__).to.deep.equal([{ x: 1 }, null]);
    expect(Object.keys(changesOf(null, { id: 'a1' }))).to.deep.equal([]);
  });
});

describe('history entries as stored', () => {
  const ctx = { history: { source: {} } } as unknown as Context;
  const stored = (before: Record<string, unknown> | null, after: Record<string, unknown> | null) =>
    (historyWrites(ctx, 'address', before as never, after as never)[0] as unknown as { doc: HistoryDoc }).doc;
  const address = { id: 'a1', key: 'k', address: '10.0.0.1', addressSpace: 'Default', deviceName: 'host', rangeId: null, iaid: 0 };

  it('keep a create as its created fields and a delete as its removed fields, an update as changes', () => {
    const create = stored(null, address);
    expect(create).to.include.keys('created').and.not.have.any.keys('changes', 'removed');
    expect(create.created).to.deep.equal({ address: '10.0.0.1', addressSpace: 'Default', deviceName: 'host', iaid: 0 });
    const remove = stored(address, null);
    expect(remove).to.include.keys('removed').and.not.have.any.keys('changes', 'created');
    expect(remove.removed).to.deep.equal({ address: '10.0.0.1', addressSpace: 'Default', deviceName: 'host', iaid: 0 });
    const update = stored(address, { ...address, deviceName: 'other' });
    expect(update.changes).to.deep.equal({ deviceName: ['host', 'other'] });
    expect(update).to.not.have.any.keys('created', 'removed');
  });

  it('read back as the changes of the write, whatever the fields (property)', () => {
    const nested = fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.double(), fc.constant(undefined), fc.constant(null)));
    const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), nested, fc.array(fc.double()));
    // Names of Object.prototype members too: they are ordinary fields, never read from the prototype.
    const name = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'toString', 'constructor', 'valueOf', 'hasOwnProperty'));
    const record = fc.dictionary(name, value).map((fields) => ({ ...fields, id: 'r1', address: '10.0.0.1' }));
    const json = (value: unknown) => JSON.parse(JSON.stringify(value));
    fc.assert(
      fc.property(record, record, fc.constantFrom('create', 'update', 'delete'), (before, after, kind) => {
        const [was, now] = kind === 'create' ? [null, after] : kind === 'delete' ? [before, null] : [before, after];
        const doc = json(stored(was, now)) as HistoryDoc;
        // The oracle compares with an empty record: changesOf's field-by-field path, not the one-sided one the writer uses.
        expect(changesOfEntry(doc)).to.deep.equal(json(changesOf(was ?? {}, now ?? {})));
      }),
    );
  });

  it('written in the earlier form (changes only) read as before', () => {
    const old = { changes: { deviceName: [null, 'x'] } } as unknown as HistoryDoc;
    expect(changesOfEntry(old)).to.deep.equal({ deviceName: [null, 'x'] });
  });

  it('keep a hold-expired delete in the full form, which ipam-expiry and confirm read (also in an earlier version)', () => {
    const held = { ...address, holdUntil: '2026-12-02T10:00:00.000Z' };
    const expired = (historyWrites(ctx, 'address', held as never, null, 'hold-expired')[0] as unknown as { doc: HistoryDoc }).doc;
    expect(expired).to.not.have.any.keys('removed', 'created');
    expect(expired.changes?.holdUntil).to.deep.equal(['2026-12-02T10:00:00.000Z', null]);
    expect(expired.unreported).to.equal(true);
  });
});

for (const factory of availableStores()) {
  describe(`history: ${factory.name}`, () => {
    let ipam: Ipam;
    freshIpamEachTest(factory, (opened) => (ipam = opened));

    const run = <T>(kind: 'block' | 'range' | 'address' | 'import', operation: string, payload: unknown) =>
      ipam.withSource(SOURCE).perform(kind, operation, payload) as Promise<T>;
    const history = (kind: 'block' | 'range' | 'address', payload: unknown) => ipam.perform(kind, 'history', payload) as Promise<HistoryPage>;
    const ops = (page: HistoryPage) => page.entries.map((e) => e.operation);

    it('records allocate, update, confirm and release of an address with exact before/after values and the source', async () => {
      const range = await run<RangeRecord>('range', 'add', { network: '10.3.0.0/29' });
      const held = await run<AllocatedRecord>('address', 'allocate', { range: range.id, holdSeconds: 60, deviceName: 'a', requestId: 'job-1' });
      await run('address', 'update', { id: held.id, deviceName: 'b' });
      await run('address', 'confirm', { id: held.id, ipAddressState: 'Inactive' });
      await run('address', 'release', { addresses: [held.address] });
      const { entries } = await history('address', { id: held.id });
      expect(entries.map((e) => e.operation)).to.deep.equal(['allocate', 'update', 'confirm', 'release']);
      const [allocated, updated, confirmed, released] = entries;
      expect(allocated.changes).to.deep.include({
        address: [null, '10.3.0.1'],
        deviceName: [null, 'a'],
        ipAddressState: [null, 'Reserved'],
        holdUntil: [null, held.holdUntil],
        requestId: [null, 'job-1'],
        rangeId: [null, range.id],
      });
      expect(updated.changes).to.deep.equal({ deviceName: ['a', 'b'] });
      expect(confirmed.changes).to.deep.equal({ ipAddressState: ['Reserved', 'Inactive'], holdUntil: [held.holdUntil, null] });
      expect(released.changes).to.deep.include({ address: ['10.3.0.1', null], deviceName: ['b', null], ipAddressState: ['Inactive', null] });
      for (const entry of entries) {
        expect(entry).to.include({ entity: 'address', id: held.id, key: '10.3.0.1', addressSpace: 'Default' });
        expect(entry.source).to.deep.equal(SOURCE);
        expect(Date.parse(entry.at)).to.be.closeTo(Date.now(), 60_000);
      }
      // By address, the same entries.
      expect(ops(await history('address', { address: '10.3.0.1' }))).to.deep.equal(ops({ entries, next: null }));
    });

    it('records block and range create, update and delete, and the re-mapping of addresses beneath', async () => {
      const block = await run<BlockRecord>('block', 'add', { network: '10.4.0.0/16', description: 'one' });
      await run('block', 'update', { id: block.id, description: 'two' });
      const range = await run<RangeRecord>('range', 'add', { network: '10.4.1.0/24' });
      const address = await run<AllocatedRecord>('address', 'allocate', { range: range.id });
      await run('range', 'update', { id: range.id, description: 'r' });
      await run('range', 'delete', { id: range.id });
      await run('block', 'delete', { id: block.id });
      const blockEntries = (await history('block', { network: '10.4.0.0/16' })).entries;
      expect(blockEntries.map((e) => [e.operation, e.changes.description])).to.deep.equal([
        ['create', [null, 'one']],
        ['update', ['one', 'two']],
        ['delete', ['two', null]],
      ]);
      const rangeEntries = (await history('range', { id: range.id })).entries;
      expect(rangeEntries.map((e) => e.operation)).to.deep.equal(['create', 'update', 'delete']);
      expect(rangeEntries[1].changes).to.deep.equal({ description: [null, 'r'] });
      expect(rangeEntries[0].changes.blockId).to.deep.equal([null, block.id]);
      const addressEntries = (await history('address', { id: address.id })).entries;
      const remaps = addressEntries.filter((e) => e.operation === 'remap').map((e) => e.changes);
      expect(remaps).to.deep.include({ rangeId: [range.id, null] });
      expect(remaps).to.deep.include({ blockId: [block.id, null] });
    });

    it('keeps the source and operation of each of several concurrent calls apart', async () => {
      const range = await run<RangeRecord>('range', 'add', { network: '10.6.0.0/24' });
      const callers = Array.from({ length: 8 }, (_, i) => ({ nodeId: `node-${i}`, flowId: 'f', requestId: `r-${i}` }));
      // A call without a source, running among them, records none.
      const [plain, ...records] = await Promise.all([
        ipam.perform('address', 'allocate', { range: range.id }) as Promise<AllocatedRecord>,
        ...callers.map((source, i) =>
          i % 2 === 0
            ? (ipam.withSource(source).perform('address', 'allocate', { range: range.id }) as Promise<AllocatedRecord>)
            : (ipam.withSource(source).perform('address', 'add', { address: `10.6.0.${200 + i}` }) as Promise<AllocatedRecord>),
        ),
      ]);
      for (const [i, record] of records.entries()) {
        const [entry] = (await history('address', { id: record.id })).entries;
        expect(entry.source, `call ${i}`).to.deep.equal(callers[i]);
        expect(entry.operation, `call ${i}`).to.equal(i % 2 === 0 ? 'allocate' : 'create');
      }
      expect((await history('address', { id: plain.id })).entries[0].source).to.deep.equal({});
    });

    it('records CSV imports as import', async () => {
      await run('range', 'add', { network: '10.5.0.0/24' });
      const outcome = await run<CsvOutcome>('import', 'import', { entity: 'addresses', csv: 'IP Address,Managed by service,Service instance,Device type,IP address state,Assignment type,Device Name\n10.5.0.9,IPAM,Localhost,Host,In-Use,Static,printer\n' });
      expect((outcome.payload as { created: number }).created).to.equal(1);
      const { entries } = await history('address', { address: '10.5.0.9' });
      expect(entries.map((e) => [e.operation, e.changes.deviceName])).to.deep.equal([['import', [null, 'printer']]]);
    });

    it("exports entries as CSV with entity 'history', filtered by entity", async () => {
      const range = await run<RangeRecord>('range', 'add', { network: '10.2.0.0/29' });
      const address = await run<AllocatedRecord>('address', 'allocate', { range: range.id, deviceName: 'csv' });
      const all = (await ipam.perform('import', 'export', { entity: 'history' })) as CsvOutcome;
      const lines = String(all.payload).trim().split('\n');
      expect(lines[0]).to.equal('at,entity,id,key,addressSpace,operation,changes,source');
      expect(lines).to.have.length(3);
      const only = String(((await ipam.perform('import', 'export', { entity: 'History', filter: { entity: 'address' } })) as CsvOutcome).payload);
      const row = only.trim().split('\n')[1];
      expect(row).to.contain(`address,${address.id},10.2.0.1,Default,allocate,`);
      expect(row).to.contain('""deviceName"":[null,""csv""]');
      expect((await failure(ipam.perform('import', 'export', { entity: 'history', filter: { entity: 'vlan' } }))).field).to.equal('filter.entity');
    });

    it('pages by limit and after, and windows by from/to', async () => {
      const range = await run<RangeRecord>('range', 'add', { network: '10.6.0.0/24' });
      const address = await run<AllocatedRecord>('address', 'allocate', { range: range.id });
      for (let i = 0; i < 6; i++) await run('address', 'update', { id: address.id, deviceName: `d${i}` });
      const seen: HistoryEntry[] = [];
      let after: string | null | undefined;
      let pages = 0;
      do {
        const page = await history('address', { id: address.id, limit: 3, ...(after ? { after } : {}) });
        seen.push(...page.entries);
        after = page.next;
        pages++;
      } while (after);
      expect(pages).to.equal(3);
      expect(seen.map((e) => e.changes.deviceName?.[1] ?? null)).to.deep.equal([null, 'd0', 'd1', 'd2', 'd3', 'd4', 'd5']);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      expect((await history('address', { id: address.id, from: future })).entries).to.deep.equal([]);
      expect((await history('address', { id: address.id, to: future })).entries).to.have.length(7);
      expect((await failure(history('address', { limit: 0 }))).field).to.equal('limit');
      expect((await failure(history('address', { from: 'yesterday' }))).field).to.equal('from');
      expect((await failure(history('address', { id: { $ne: null } }))).field).to.equal('id');
    });

    it('reads entries stored in the earlier form: the history operation and ipam-expiry reports', async () => {
      const at = new Date().toISOString();
      const entry = (id: string, operation: string, changes: Record<string, [unknown, unknown]>, extra = {}) => ({
        id, recordId: 'old-address', entity: 'address' as const, key: '10.9.0.7', addressSpace: 'Default', at, order: `${at}|${id}`, operation, changes, source: {}, ...extra,
      });
      await ipam.store.collection<HistoryDoc>('history').insertMany([
        entry('old-1', 'allocate', { address: [null, '10.9.0.7'], deviceName: [null, 'printer'], holdUntil: [null, at] }),
        entry('old-2', 'hold-expired', { address: ['10.9.0.7', null], deviceName: ['printer', null], holdUntil: [at, null], requestId: ['job-9', null] }, { unreported: true }),
      ]);
      const page = await history('address', { id: 'old-address' });
      expect(page.entries.map((e) => [e.operation, e.changes.deviceName])).to.deep.equal([['allocate', [null, 'printer']], ['hold-expired', ['printer', null]]]);
      const events: HoldExpiredEvent[] = [];
      expect(await expireHolds(ipam, async (event) => void events.push(event))).to.equal(1);
      expect(events.map((e) => [e.id, e.address, e.holdUntil, e.deviceName, e.requestId])).to.deep.equal([['old-address', '10.9.0.7', at, 'printer', 'job-9']]);
    });

    it('prunes entries older than the retention in batches, keeping newer ones', async () => {
      const range = await run<RangeRecord>('range', 'add', { network: '10.7.0.0/24' });
      const entries = ipam.store.collection<HistoryDoc>('history');
      const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
      const stale = Array.from({ length: 1500 }, (_, i) => ({
        id: `old-${i}`, recordId: 'x', entity: 'address' as const, key: '10.7.0.1', addressSpace: 'Default', at: old,
        order: `${old}|old-${i}`, operation: 'update', changes: {}, source: {},
      }));
      await entries.insertMany(stale);
      const pruned = await pruneHistory(ipam, 30, Date.now(), async () => undefined);
      expect(pruned).to.equal(1500);
      expect((await history('range', { id: range.id })).entries).to.have.length(1);
      expect(await pruneHistory(ipam, undefined, Date.now(), async () => undefined)).to.equal(0);
    });
  });
}

describe('history across a restart (embedded file)', () => {
  it('entries written before a restart are read after it', async () => {
    const directory = tempDir();
    let ipam = Ipam.over(await openStore({ kind: 'embedded', directory }));
    const range = (await ipam.perform('range', 'add', { network: '10.1.0.0/24' })) as RangeRecord;
    const address = (await ipam.perform('address', 'allocate', { range: range.id, deviceName: 'x' })) as AllocatedRecord;
    await ipam.close();
    ipam = Ipam.over(await openStore({ kind: 'embedded', directory }));
    await ipam.perform('address', 'update', { id: address.id, deviceName: 'y' });
    const page = (await ipam.perform('address', 'history', { id: address.id })) as HistoryPage;
    expect(page.entries.map((e) => [e.operation, e.changes.deviceName])).to.deep.equal([
      ['allocate', [null, 'x']],
      ['update', ['x', 'y']],
    ]);
    await ipam.close();
  });
});
