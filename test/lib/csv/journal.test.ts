/**
 * Ownership of the import-and-update journal on a shared store (the MongoDB adapter over the fake
 * driver): fencing on every journal write, heartbeats on the server's clock, deferred journals reported
 * and retried.
 */
import { expect } from 'chai';
import { IpamError } from '../../../lib/errors';
import { Ipam } from '../../../lib/ipam';
import type { CsvOutcome, CsvRequest } from '../../../lib/csv';
import { fakeClientFactory, fakeDeployment, type FakeDeployment } from '../../support/fake-mongo';

const header = 'Network,Start IP address,End IP address,Managed by service,Service instance,Assignment type';
const pair = { managedByService: 'Non-MS DHCP', serviceInstance: 'Switch' };
const line = (third: number) => `10.2.${third}.0/24,10.2.${third}.1,10.2.${third}.254,Non-MS DHCP,Switch,Dynamic`;

function open(deployment: FakeDeployment): Promise<Ipam> {
  return Ipam.open({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:27017', database: 'test', createClient: fakeClientFactory(deployment) });
}

describe('import-and-update journal on a shared store', () => {
  it('an owner whose journal was taken over stops at its next journal write instead of writing on', async () => {
    const deployment = fakeDeployment();
    const ipam = await open(deployment);
    const file = [header, line(1), line(2), line(3)].join('\n');
    let taken = false;
    const onProgress = (_done: number, phase: string): void => {
      if (phase !== 'applying' || taken) return;
      taken = true;
      // Another instance judged this owner dead and took the journal over.
      const journal = deployment.databases.get('test')?.get('journal');
      for (const doc of journal?.docs ?? []) doc.owner = 'other-process';
    };
    const err = await ipam.perform('import', 'import-and-update', { csv: file, ...pair, onProgress } as CsvRequest).then(
      (outcome) => outcome as CsvOutcome,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(IpamError);
    expect((err as IpamError).code).to.equal('CONFLICT');
    expect((err as IpamError).message).to.contain('took over');
    const ranges = (await ipam.perform('range', 'list', {})) as unknown[];
    // The op in flight when it was taken over lands; its journal write then fails and nothing after it runs.
    expect(ranges, 'the third range is never written').to.have.length(2);
    const journal = await ipam.store.collection('journal').find({});
    expect(journal.map((d) => d.owner), 'the new owner keeps its journal').to.deep.equal(['other-process']);
    await ipam.close();
  });

  it('staleness is judged on the server clock, and a fresh journal is reported deferred, not skipped', async () => {
    // This process's clock is an hour ahead of the server's.
    const deployment = fakeDeployment({ clockOffsetMs: -3_600_000 });
    const ipam = await open(deployment);
    const serverNow = await ipam.store.now();
    await ipam.store.collection('journal').insertOne({
      id: 'j1',
      name: 'import-and-update|Non-MS DHCP|Switch',
      kind: 'import-and-update',
      pair,
      state: 'applying',
      ops: [],
      done: 0,
      owner: 'live-process',
      heartbeatAt: serverNow - 10_000,
      createdAt: new Date().toISOString(),
    });
    const outcomes = await ipam.recoverImports();
    expect(outcomes).to.have.length(1);
    expect(outcomes[0]).to.include({ name: 'import-and-update|Non-MS DHCP|Switch', outcome: 'deferred' });
    expect(outcomes[0].error).to.contain('retries in');
    expect((await ipam.store.collection('journal').findOne({ id: 'j1' }))?.owner, 'the live owner keeps it').to.equal('live-process');
    await ipam.close();
  });
});
