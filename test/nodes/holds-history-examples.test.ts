/** The holds and history example flows (examples/ipam-allocate-holds.json, examples/ipam-history.json) run step by step. */
import { expect } from 'chai';
import configModule = require('../../nodes/ipam-config');
import rangeModule = require('../../nodes/ipam-range');
import allocateModule = require('../../nodes/ipam-allocate');
import expiryModule = require('../../nodes/ipam-expiry');
import { catchNode, runExampleSteps, useNodeRed } from '../support/node-red';

const NODES = [configModule, rangeModule, allocateModule, expiryModule, catchNode];

/** The example's step results; a step that reached the Catch node fails the test. */
async function runExample(file: string): Promise<unknown[]> {
  const { results, failures } = await runExampleSteps(NODES, file);
  expect(failures).to.deep.equal([]);
  return results;
}

describe('holds and history example flows', () => {
  useNodeRed();

  it('ipam-allocate-holds: hold, same hold on retry, confirm', async () => {
    const [, held, retried, confirmed] = (await runExample('ipam-allocate-holds.json')) as Record<string, unknown>[];
    expect(held).to.include({ address: '10.21.0.1', ipAddressState: 'Reserved', requestId: 'build-42' });
    expect(retried).to.include({ id: held.id, holdUntil: held.holdUntil });
    expect(confirmed).to.include({ id: held.id, ipAddressState: 'In-Use' });
    expect(confirmed).to.not.have.property('holdUntil');
  });

  it('ipam-history: the address and range history', async () => {
    const [range, , , addressHistory, rangeHistory] = (await runExample('ipam-history.json')) as Record<string, unknown>[];
    const entries = (addressHistory as { entries: { operation: string; changes: Record<string, unknown> }[] }).entries;
    expect(entries.map((e) => e.operation)).to.deep.equal(['allocate', 'update']);
    expect(entries[1].changes).to.deep.equal({ deviceName: ['printer', 'printer-2'] });
    const rangeEntries = (rangeHistory as { entries: { operation: string; id: string }[] }).entries;
    expect(rangeEntries.map((e) => [e.operation, e.id])).to.deep.equal([['create', range.id]]);
  });
});
