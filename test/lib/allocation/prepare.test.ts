/**
 * Statements readied when a store opens (lib/allocation/prepare.ts): the first allocation on an embedded store
 * opened afresh prepares no SQL statement of its own, so it does not pay for them.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { Ipam } from '../../../lib/ipam';
import { ALLOCATION_CALLS } from '../../../lib/allocation/prepare';
import { openStore } from '../../../lib/store';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { tempDir } from '../../support/stores';
import { fakeClientFactory, fakeDeployment } from '../../support/fake-mongo';

/** The SQL texts better-sqlite3 prepares while `work` runs (on any connection of this process). */
async function preparedDuring(work: () => Promise<unknown>): Promise<string[]> {
  const original = Database.prototype.prepare;
  const texts: string[] = [];
  Database.prototype.prepare = function (this: Database.Database, sql: string) {
    texts.push(sql);
    return original.call(this, sql);
  } as typeof original;
  try {
    await work();
  } finally {
    Database.prototype.prepare = original;
  }
  return texts;
}

describe('statements prepared when a store opens', () => {
  const directories: string[] = [];
  after(() => {
    for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
  });

  /** A store with a block, a range in it and a few addresses, closed; its directory and the range. */
  async function usedStore(network: string): Promise<{ directory: string; range: RangeRecord }> {
    const directory = tempDir();
    directories.push(directory);
    const ipam = await Ipam.open({ kind: 'embedded', directory });
    try {
      await ipam.perform('block', 'add', { network: network.includes(':') ? '2001:db8::/32' : '10.0.0.0/8' });
      const range = (await ipam.perform('range', 'add', { network })) as RangeRecord;
      for (let i = 0; i < 3; i++) await ipam.perform('address', 'allocate', { range: range.id, deviceName: `before${i}` });
      return { directory, range };
    } finally {
      await ipam.close();
    }
  }

  for (const [network, extra] of [['10.1.0.0/16', { requestId: 'first' }], ['2001:db8:1::/64', {}]] as const) {
    it(`the first allocation from ${network} (${JSON.stringify(extra)}) on a store opened again prepares nothing`, async () => {
      const { directory, range } = await usedStore(network);
      const ipam = await Ipam.open({ kind: 'embedded', directory });
      try {
        let record: AddressRecord | undefined;
        const prepared = await preparedDuring(async () => {
          record = (await ipam.perform('address', 'allocate', { range: range.id, deviceName: 'first', ...extra })) as AddressRecord;
        });
        expect(prepared, 'statements the first allocation prepared: add their calls to ALLOCATION_CALLS').to.deep.equal([]);
        expect(record?.deviceName).to.equal('first');
        expect(record?.rangeId).to.equal(range.id);
      } finally {
        await ipam.close();
      }
    });
  }

  it('without the prepared statements, the same first allocation prepares one per call', async () => {
    // The test above could pass because the allocation prepares nothing anyway: opened by `over` (no prepare),
    // the store prepares them in the first allocation.
    const { directory, range } = await usedStore('10.2.0.0/16');
    const ipam = Ipam.over(await openStore({ kind: 'embedded', directory }));
    try {
      const prepared = await preparedDuring(() => ipam.perform('address', 'allocate', { range: range.id, requestId: 'r' }));
      expect(prepared).to.have.length(ALLOCATION_CALLS.length);
    } finally {
      await ipam.close();
    }
  });

  it('prepares each call once: opening again over a store in use prepares nothing', async () => {
    const { directory } = await usedStore('10.3.0.0/16');
    const first = await Ipam.open({ kind: 'embedded', directory });
    try {
      // The second open shares the first one's connection (lib/store/index.ts), whose statements exist.
      const prepared = await preparedDuring(async () => (await Ipam.open({ kind: 'embedded', directory })).close());
      expect(prepared).to.deep.equal([]);
    } finally {
      await first.close();
    }
  });

  it('a store without prepare (MongoDB, fake driver) opens and allocates as before', async () => {
    const ipam = await Ipam.open({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:27017', database: 'prepare', createClient: fakeClientFactory(fakeDeployment()) });
    expect(ipam.store.prepare).to.equal(undefined);
    try {
      const range = (await ipam.perform('range', 'add', { network: '10.4.0.0/24' })) as RangeRecord;
      const record = (await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord;
      expect(record.address).to.equal('10.4.0.1');
    } finally {
      await ipam.close();
    }
  });
});
