/** The holds and history example flows (examples/ipam-allocate-holds.json, examples/ipam-history.json) run step by step. */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import configModule = require('../../nodes/ipam-config');
import rangeModule = require('../../nodes/ipam-range');
import allocateModule = require('../../nodes/ipam-allocate');
import expiryModule = require('../../nodes/ipam-expiry');
import { catchNode, configNode, helper } from '../support/node-red';

const NODES = [configModule, rangeModule, allocateModule, expiryModule, catchNode];

async function runExample(file: string): Promise<unknown[]> {
  const example = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples', file), 'utf8')) as Record<string, unknown>[];
  const config = example.find((n) => n.type === 'ipam-config') as Record<string, unknown>;
  Object.assign(config, { directory: configNode().directory });
  const nodes = example.map((n) => (n.type === 'inject' || n.type === 'debug' ? { ...n, type: 'helper' } : n));
  nodes.push({ id: 'catch', type: 'catch', z: example[0].id, x: 100, y: 600, scope: null, uncaught: false, wires: [['caught']] });
  nodes.push({ id: 'caught', type: 'helper', z: example[0].id, x: 300, y: 600 });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  await helper.load(NODES, nodes as any);
  const failures: unknown[] = [];
  (helper.getNode('caught') as unknown as NodeJS.EventEmitter).on('input', (msg: { error: unknown }) => failures.push(msg.error));
  const results: unknown[] = [];
  for (const inject of example.filter((n) => n.type === 'inject')) {
    const target = (inject.wires as string[][])[0][0];
    const targetNode = example.find((n) => n.id === target) as Record<string, unknown>;
    const debug = (targetNode.wires as string[][])[0][0];
    if (targetNode.type === 'ipam-expiry') {
      // Nothing expired: the check sends no message; wait for its status instead.
      helper.getNode(target).receive({ payload: JSON.parse(inject.payload as string) });
      await new Promise((resolve) => setTimeout(resolve, 300));
      continue;
    }
    const received = new Promise<{ payload: unknown }>((resolve) => helper.getNode(debug).once('input', resolve));
    helper.getNode(target).receive({ payload: JSON.parse(inject.payload as string) });
    results.push((await received).payload);
  }
  expect(failures).to.deep.equal([]);
  return results;
}

describe('holds and history example flows', () => {
  beforeEach((done) => {
    helper.startServer(done);
  });
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
  });

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
