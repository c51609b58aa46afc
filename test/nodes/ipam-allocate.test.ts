import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import blockModule = require('../../nodes/ipam-block');
import configModule = require('../../nodes/ipam-config');
import rangeModule = require('../../nodes/ipam-range');
import allocateModule = require('../../nodes/ipam-allocate');
import { catchNode, catchNodes, configNode, helper, nextMessage, onTab, runExampleSteps, sendToN1, useNodeRed } from '../support/node-red';

const NODES = [configModule, blockModule, rangeModule, allocateModule, catchNode];

function flow(operation: string): Record<string, unknown>[] {
  const config = configNode();
  return onTab([
    config,
    { id: 'range', type: 'ipam-range', server: config.id, operation: 'add', wires: [['rangeOut']] },
    { id: 'rangeOut', type: 'helper' },
    { id: 'n1', type: 'ipam-allocate', server: config.id, operation, wires: [['out']] },
    { id: 'out', type: 'helper' },
    ...catchNodes(),
  ]);
}


async function addRange(payload: unknown): Promise<Record<string, unknown>> {
  const received = nextMessage('rangeOut');
  helper.getNode('range').receive({ payload });
  return (await received).payload as Record<string, unknown>;
}

describe('ipam-allocate node', () => {
  useNodeRed();

  it('runs every operation, the configured one or msg.operation, and keeps other msg properties', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await helper.load(NODES, flow('allocate') as any);
    const range = await addRange({ network: '10.60.0.0/24' });
    const allocated = await sendToN1({ range: range.id, deviceName: 'web1', requestId: 'job-7' }, { topic: 'kept' });
    expect(allocated.topic).to.equal('kept');
    expect(allocated.payload).to.include({ address: '10.60.0.1', deviceName: 'web1', rangeId: range.id });
    expect((allocated.payload as { checks: string[] }).checks).to.deep.equal(['store', 'reservations', 'exclusions']);
    const repeated = await sendToN1({ range: range.id, requestId: 'job-7' });
    expect(repeated.payload).to.include({ address: '10.60.0.1' });
    const batch = (await sendToN1({ range: '10.60.0.0/24', count: 2 })).payload as { address: string }[];
    expect(batch.map((r) => r.address)).to.deep.equal(['10.60.0.2', '10.60.0.3']);
    expect((await sendToN1({ range: range.id, count: 2 }, { operation: 'find' })).payload).to.deep.equal(['10.60.0.4', '10.60.0.5']);
    expect((await sendToN1({ address: '10.60.0.9' }, { operation: 'add' })).payload).to.include({ address: '10.60.0.9', rangeId: range.id });
    expect((await sendToN1({ address: '10.60.0.9', deviceName: 'db' }, { operation: 'update' })).payload).to.include({ deviceName: 'db' });
    expect((await sendToN1({ address: '10.60.0.9' }, { operation: 'get' })).payload).to.include({ deviceName: 'db' });
    expect((await sendToN1({ rangeId: range.id }, { operation: 'list' })).payload).to.have.length(4);
    const released = (await sendToN1({ addresses: ['10.60.0.9', '10.60.0.2'] }, { operation: 'release' })).payload as { released: { address: string }[] };
    expect(released.released.map((r) => r.address).sort()).to.deep.equal(['10.60.0.2', '10.60.0.9']);
    expect((await sendToN1({ rangeId: range.id }, { operation: 'list' })).payload).to.have.length(2);
  });

  it('holds, confirms, and reads history with the node, flow and requestId as the source', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await helper.load(NODES, flow('allocate') as any);
    const range = await addRange({ network: '10.61.0.0/24' });
    const held = (await sendToN1({ range: range.id, holdSeconds: 300, requestId: 'vm-9' })).payload as Record<string, unknown>;
    expect(held).to.include({ address: '10.61.0.1', ipAddressState: 'Reserved' });
    expect(held.holdUntil).to.be.a('string');
    expect((await sendToN1({ range: range.id }, { operation: 'find' })).payload).to.deep.equal(['10.61.0.2']);
    const confirmed = (await sendToN1({ requestId: 'vm-9' }, { operation: 'confirm' })).payload as Record<string, unknown>;
    expect(confirmed).to.include({ id: held.id, ipAddressState: 'In-Use' });
    expect(confirmed).to.not.have.property('holdUntil');
    const page = (await sendToN1({ id: held.id }, { operation: 'history' })).payload as { entries: { operation: string; source: Record<string, unknown> }[] };
    expect(page.entries.map((e) => e.operation)).to.deep.equal(['allocate', 'confirm']);
    const n1 = helper.getNode('n1') as unknown as { id: string; z: string };
    expect(page.entries[0].source).to.deep.equal({ nodeId: n1.id, flowId: n1.z, requestId: 'vm-9' });
    // release runs in batches outside Ipam.perform: its entries still name the operation and the node.
    await sendToN1({ addresses: [String(held.address)] }, { operation: 'release' });
    const after = (await sendToN1({ id: held.id }, { operation: 'history' })).payload as { entries: { operation: string; source: Record<string, unknown> }[] };
    expect(after.entries.map((e) => e.operation)).to.deep.equal(['allocate', 'confirm', 'release']);
    expect(after.entries[2].source).to.deep.equal({ nodeId: n1.id, flowId: n1.z });
  });

  it('fails with err.code for a Catch node: RANGE_FULL, DUPLICATE, OUT_OF_RANGE', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await helper.load(NODES, flow('allocate') as any);
    const range = await addRange({ network: '10.61.0.0/30' });
    const caught = async (payload: unknown) => {
      const received = nextMessage('caught');
      helper.getNode('n1').receive({ payload });
      return (await received).error as { message: string; code: string };
    };
    await sendToN1({ range: range.id, count: 2 });
    const full = await caught({ range: range.id });
    expect(full.code).to.equal('RANGE_FULL');
    expect(full.message).to.contain('10.61.0.0/30');
    expect((await caught({ range: range.id, address: '10.61.0.1' })).code).to.equal('DUPLICATE');
    expect((await caught({ range: range.id, address: '10.61.0.3' })).code).to.equal('OUT_OF_RANGE');
  });

  it('the example flow runs step by step without errors', async () => {
    const { results, failures } = await runExampleSteps(NODES, 'ipam-allocate.json');
    expect(failures).to.deep.equal([]);
    expect(results[1]).to.deep.equal(['10.20.0.10', '10.20.0.11', '10.20.0.12']);
    expect(results[2]).to.include({ address: '10.20.0.10', deviceName: 'web1' });
    expect(results[6]).to.include({ network: '10.30.0.0/26' });
    expect((results[7] as { released: unknown[] }).released).to.have.length(2);
  });

  it('a list filter with a "__proto__" key (as JSON.parse makes it) reaches the Catch node, never the whole inventory', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await helper.load(NODES, flow('list') as any);
    await sendToN1({ address: '10.70.0.1', deviceName: 'h1' }, { operation: 'add' });
    await sendToN1({ address: '10.70.0.2', deviceName: 'h2' }, { operation: 'add' });
    const caught = nextMessage('caught');
    helper.getNode('n1').receive({ payload: JSON.parse('{"__proto__": {"deviceName": "h1"}}') });
    expect((await caught).error).to.deep.include({ code: 'VALIDATION', message: 'filter.__proto__ {"deviceName":"h1"}: is not an address field' });
    expect(((await sendToN1({ deviceName: 'h1' })).payload as { address: string }[]).map((a) => a.address)).to.deep.equal(['10.70.0.1']);
  });
});
