/**
 * One-time conversion of an nedb ipam-data directory (test/fixtures/nedb-ipam-data, written by the nedb
 * adapter before SQLite) into ipam.sqlite, the old files kept as a backup.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../../lib/record';
import { migrateRequests } from '../../../lib/space';
import { openEmbeddedStore } from '../../../lib/store/embedded';
import { tempDir } from '../../support/stores';

const FIXTURE = path.join(__dirname, '../../fixtures/nedb-ipam-data');
const NEDB_FILES = ['addresses.db', 'blocks.db', 'journal.db', 'locks.db', 'ranges.db', 'settings.db'];

function copyFixture(): string {
  const directory = tempDir('flowipam-nedb-');
  for (const file of NEDB_FILES) fs.copyFileSync(path.join(FIXTURE, file), path.join(directory, file));
  return directory;
}

describe('conversion of an nedb directory', () => {
  it('converts every record once, keeps the old files in a backup folder and says so', async () => {
    const directory = copyFixture();
    const log: string[] = [];
    const store = await openEmbeddedStore({ directory, log: (line) => log.push(line) });
    // What Ipam.open does after opening a store: old request keys move to the requests collection.
    await migrateRequests({ store });
    const ipam = Ipam.over(store);
    try {
      const ranges = (await ipam.perform('range', 'list', {})) as RangeRecord[];
      expect(ranges.map((r) => [r.network, r.description])).to.deep.equal([
        ['10.1.0.0/24', 'servers'],
        ['10.2.0.0/24', undefined],
      ]);
      const addresses = (await ipam.perform('address', 'list', {})) as AddressRecord[];
      expect(addresses.map((a) => a.address)).to.deep.equal(['10.1.0.1', '10.1.0.2', '10.1.0.4', '10.1.0.5', '10.1.0.6', '10.2.0.9']);
      expect(addresses.find((a) => a.address === '10.1.0.2')?.deviceName, 'the update line wins').to.equal('renamed');
      expect(addresses.filter((a) => a.requestId === 'fixture-req')).to.have.length(4);
      expect(addresses.find((a) => a.deviceName === 'db1')?.expiryDate).to.equal('2030-01-01T00:00:00.000Z');
      expect(await ipam.store.collection('locks').count({}), 'old locks are not carried over').to.equal(0);
      // The converted store works: the requestId index holds (a repeat returns the same addresses).
      const again = (await ipam.perform('address', 'allocate', { range: ranges[0].id, count: 5, requestId: 'fixture-req' })) as AddressRecord[];
      expect(again.filter((a) => addresses.some((b) => b.id === a.id))).to.have.length(4);
    } finally {
      await ipam.close();
    }
    const entries = fs.readdirSync(directory);
    expect(entries.filter((f) => f.endsWith('.db'))).to.deep.equal([]);
    const backup = entries.find((f) => f.startsWith('nedb-backup-'))!;
    expect(fs.readdirSync(path.join(directory, backup)).sort()).to.deep.equal(NEDB_FILES);
    expect(log.join('\n')).to.match(/converted the nedb store .* 6 addresses/).and.match(/kept in .*nedb-backup-/);

    const reopenLog: string[] = [];
    const reopened = await openEmbeddedStore({ directory, log: (line) => reopenLog.push(line) });
    expect(await reopened.collection('addresses').count({})).to.equal(7);
    await reopened.close();
    expect(reopenLog, 'converted once').to.deep.equal([]);
  });

  it('opens a directory whose last nedb line was torn, counting the unreadable line', async () => {
    const directory = copyFixture();
    const file = path.join(directory, 'addresses.db');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.slice(0, text.trimEnd().length - 10));
    const log: string[] = [];
    const store = await openEmbeddedStore({ directory, log: (line) => log.push(line) });
    try {
      expect(await store.collection('ranges').count({})).to.equal(2);
      expect(await store.collection('addresses').count({})).to.be.within(6, 7);
    } finally {
      await store.close();
    }
    expect(log.join('\n')).to.match(/1 unreadable line/);
  });
});
