/**
 * Allocation and release when the store fails part-way (the MongoDB adapter over the fake driver, which
 * fails a chosen call with the driver's own error): nothing freed is hidden, nothing allocated is leaked
 * without a word.
 */
import { expect } from 'chai';
import { MongoNetworkError } from 'mongodb';
import { IpamError } from '../../lib/errors';
import { Ipam } from '../../lib/ipam';
import type { AddressRecord, RangeRecord } from '../../lib/records';
import { failNext, fakeClientFactory, fakeDeployment, type FakeDeployment } from '../support/fake-mongo';

function open(deployment: FakeDeployment): Promise<Ipam> {
  return Ipam.open({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:27017', database: 'test', createClient: fakeClientFactory(deployment) });
}

async function rejection(promise: Promise<unknown>): Promise<IpamError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).to.be.instanceOf(IpamError);
  return err as IpamError;
}

describe('allocation under store failures', () => {
  it('a release that fails part-way never leaves a freed address unallocatable', async () => {
    const deployment = fakeDeployment();
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.5.0.0/29' })) as RangeRecord;
    const taken = (await ipam.perform('address', 'allocate', { range: range.id, count: 6 })) as AddressRecord[];
    expect(taken).to.have.length(6);
    expect((await rejection(ipam.perform('address', 'allocate', { range: range.id }))).code).to.equal('RANGE_FULL');
    failNext(deployment, 'updateOne', new MongoNetworkError('connection reset'), { collection: 'ranges' });
    const err = await rejection(ipam.perform('address', 'release', { addresses: ['10.5.0.3'] }));
    expect(err.code).to.equal('STORE_UNAVAILABLE');
    const still = await ipam.store.collection('addresses').count({ address: '10.5.0.3' });
    if (still === 0) {
      // Freed: then allocation must find it.
      const next = (await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord;
      expect(next.address).to.equal('10.5.0.3');
    }
    // Either way a retried release frees it for the next allocation.
    await ipam.perform('address', 'release', { addresses: ['10.5.0.3'] }).catch(() => undefined);
    const again = (await ipam.perform('address', 'allocate', { range: range.id })) as AddressRecord;
    expect(again.address).to.equal('10.5.0.3');
    await ipam.close();
  });

  it('a count > 1 allocation whose undo fails in the same outage names the addresses left behind', async () => {
    const deployment = fakeDeployment();
    const ipam = await open(deployment);
    const range = (await ipam.perform('range', 'add', { network: '10.6.0.0/29' })) as RangeRecord;
    await ipam.perform('address', 'add', { address: '10.6.0.3' });
    // The third insert and then every delete fail: the outage outlasts the call.
    let inserts = 0;
    deployment.faults.push((method, collection) => {
      if (collection !== 'addresses') return undefined;
      if (method === 'insertOne' && ++inserts === 3) return new MongoNetworkError('connection reset');
      if (method === 'deleteOne' && inserts >= 3) return new MongoNetworkError('connection reset');
      return undefined;
    });
    const err = await rejection(ipam.perform('address', 'allocate', { range: range.id, count: 4 }));
    expect(err.code).to.equal('STORE_UNAVAILABLE');
    deployment.faults = [];
    const left = (await ipam.store.collection<AddressRecord & { id: string }>('addresses').find({ rangeId: range.id }))
      .map((doc) => doc.address)
      .filter((address) => address !== '10.6.0.3');
    expect(left).to.have.length(2);
    expect(err.value).to.deep.equal(left);
    for (const address of left) expect(err.message).to.contain(address);
    await ipam.close();
  });
});
