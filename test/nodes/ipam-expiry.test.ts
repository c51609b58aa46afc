import { expect } from 'chai';
import { listCustomFields } from '../../lib/record';
import { lastExpiryRun, listRangeGroups } from '../../lib/lifecycle';
import { Ipam } from '../../lib/ipam';
import { openStore } from '../../lib/store';
import configModule = require('../../nodes/ipam-config');
import expiryModule = require('../../nodes/ipam-expiry');
import type { IpamConfigNode } from '../../nodes/common';
import { catchNode, catchNodes, configNode, helper, useNodeRed } from '../support/node-red';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const completeNode = require('@node-red/nodes/core/common/24-complete.js');
/** Receives from the moment the flow starts (a helper node is only reachable after load returns). */
const collected: Msg[] = [];
let onCollect = (): unknown => undefined;
function collectorModule(RED: { nodes: { createNode(n: unknown, c: unknown): void; registerType(t: string, f: unknown): void } }): void {
  RED.nodes.registerType('collector', function (this: { on(e: string, f: (m: Msg) => void): void }, config: unknown) {
    RED.nodes.createNode(this, config);
    this.on('input', (msg) => {
      collected.push(msg);
      onCollect();
    });
  });
}
const NODES = [configModule, expiryModule, catchNode, completeNode, collectorModule];
const DAY = 86_400_000;

type Msg = Record<string, unknown> & { payload: Record<string, unknown> };

function day(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);
}

function flow(node: Record<string, unknown>, config = configNode()): Record<string, unknown>[] {
  const at = { z: 'flow', x: 100, y: 100 };
  return [
    { id: 'flow', type: 'tab' },
    config,
    { id: 'n1', type: 'ipam-expiry', server: config.id, logging: 'transitions', intervalHours: 0, wires: [['out']], ...at, ...node },
    { id: 'out', type: 'helper', ...at },
    { id: 'collector', type: 'collector', ...at },
    { id: 'complete', type: 'complete', scope: ['n1'], uncaught: false, wires: [['completed']], ...at },
    { id: 'completed', type: 'helper', ...at },
    ...catchNodes(at),
  ];
}

/** Sends one message into n1; resolves with what went out once n1 has called done(). */
async function trigger(msg: Record<string, unknown> = {}): Promise<Msg[]> {
  const received: Msg[] = [];
  const out = helper.getNode('out');
  const collect = (m: Msg): void => void received.push(m);
  out.on('input', collect as never);
  const completed = new Promise((resolve) => helper.getNode('completed').once('input', resolve));
  helper.getNode('n1').receive(msg);
  await completed;
  out.removeListener('input', collect as never);
  return received;
}

async function ipamOf(): Promise<Ipam> {
  return (helper.getNode('cfg') as unknown as IpamConfigNode).ipam();
}

async function seed(ipam: Ipam): Promise<void> {
  await ipam.perform('address', 'add', { address: '10.0.0.1', expiryDate: day(-5) });
  await ipam.perform('address', 'add', { address: '10.0.0.2', expiryDate: day(3) });
  await ipam.perform('address', 'add', { address: '10.0.0.3', expiryDate: day(100) });
}

describe('ipam-expiry node', () => {
  useNodeRed();

  it('on input: one message per transition, copies of the input message; then nothing more', async () => {
    await helper.load(NODES, flow({}) as never);
    await seed(await ipamOf());
    const first = await trigger({ topic: 'daily', payload: 1234 });
    expect(first.map((m) => [m.topic, m.payload.address, m.payload.previousStatus, m.payload.expiryStatus])).to.deep.equal([
      ['daily', '10.0.0.1', null, 'Expired'],
      ['daily', '10.0.0.2', null, 'Expiry Due'],
    ]);
    expect(first[0].payload).to.include.keys('id', 'expiryDate');
    expect(await trigger({})).to.deep.equal([]);
  });

  it('sends one hold-expired message per expired hold, after the expiry events, once; prunes history by the retention', async () => {
    await helper.load(NODES, flow({}, { ...configNode(), historyRetentionDays: 1 }) as never);
    const ipam = await ipamOf();
    expect(ipam.historyRetentionDays).to.equal(1);
    await seed(ipam);
    const range = (await ipam.perform('range', 'add', { network: '10.1.0.0/29' })) as { id: string };
    const held = (await ipam.perform('address', 'allocate', { range: range.id, holdSeconds: 1, requestId: 'pipeline-1' })) as { id: string };
    const old = new Date(Date.now() - 3 * DAY).toISOString();
    await ipam.store.collection('history').insertOne({ id: 'old', recordId: 'x', entity: 'address', key: '10.9.9.9', addressSpace: 'Default', at: old, order: `${old}|old`, operation: 'update', changes: {}, source: {} });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const messages = await trigger({ topic: 't' });
    expect(messages.map((m) => m.payload.event ?? m.payload.expiryStatus)).to.deep.equal(['Expired', 'Expiry Due', 'hold-expired']);
    expect(messages[2].payload).to.include({ event: 'hold-expired', id: held.id, address: '10.1.0.1', requestId: 'pipeline-1' });
    expect(messages[2].topic).to.equal('t');
    expect(await ipam.store.collection('history').findOne({ id: 'old' })).to.equal(null);
    expect(await ipam.store.collection('addresses').findOne({ id: held.id })).to.equal(null);
    expect(await trigger({})).to.deep.equal([]);
  });

  it('periodic: every input reports every Due or Expired address', async () => {
    await helper.load(NODES, flow({ logging: 'periodic' }) as never);
    await seed(await ipamOf());
    for (let run = 0; run < 2; run++) {
      expect((await trigger({})).map((m) => m.payload.expiryStatus)).to.deep.equal(['Expired', 'Expiry Due']);
    }
  });

  it('takes the threshold from ipam-config', async () => {
    await helper.load(NODES, flow({}, { ...configNode(), expiryThresholdDays: 2 }) as never);
    await seed(await ipamOf());
    expect((await trigger({})).map((m) => m.payload.address)).to.deep.equal(['10.0.0.1']);
  });

  it('checks on its own schedule: right after start when it never ran, recording the run in the store', async () => {
    const config = configNode();
    const seeded = Ipam.over(await openStore({ kind: 'embedded', directory: config.directory as string }));
    await seed(seeded);
    await seeded.close();
    const arrived = new Promise<Msg[]>((resolve) => {
      collected.length = 0;
      onCollect = () => collected.length === 2 && resolve([...collected]);
    });
    await helper.load(NODES, flow({ intervalHours: 24, wires: [['collector']] }, config) as never);
    const messages = await arrived;
    expect(messages.map((m) => m.payload.address)).to.deep.equal(['10.0.0.1', '10.0.0.2']);
    expect(await lastExpiryRun(await ipamOf(), 'n1')).to.be.a('string');
  });

  it('an unknown operation goes to a Catch node with msg.error.code', async () => {
    await helper.load(NODES, flow({}) as never);
    const caught = new Promise<Record<string, unknown>>((resolve) => helper.getNode('caught').once('input', resolve));
    helper.getNode('n1').receive({ operation: 'purge' } as never);
    expect(await caught).to.nested.include({ 'error.code': 'VALIDATION' });
  });
});

describe('ipam-config custom fields and range groups', () => {
  useNodeRed();

  it('makes the store agree with the definitions on start', async () => {
    const config = {
      ...configNode(),
      customFields: [{ name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] }],
      rangeGroups: [{ name: 'Sites', criteria: ['AD Site'] }],
    };
    await helper.load(NODES, flow({}, config) as never);
    const ipam = await ipamOf();
    expect((await listCustomFields(ipam)).map((f) => f.name)).to.deep.equal(['AD Site']);
    expect((await listRangeGroups(ipam)).map((g) => g.name)).to.deep.equal(['Managed by Service', 'Sites']);
  });
});
