/** ipam-config's open runs the recovery pass: a structural change a dead process left is finished, and logged. */
import { expect } from 'chai';
import configModule = require('../../nodes/ipam-config');
import rangeModule = require('../../nodes/ipam-range');
import type { TestFlows } from 'node-red-node-test-helper';
import { Ipam } from '../../lib/ipam';
import type { RangeRecord } from '../../lib/record';
import { configNode, helper, nextMessage, onTab, useNodeRed } from '../support/node-red';

describe('ipam-config recovery pass', () => {
  useNodeRed();

  it('finishes a range delete a dead process left in the journal, and says so in the log', async () => {
    const config = configNode();
    const ipam = await Ipam.open({ kind: 'embedded', directory: config.directory as string });
    const range = (await ipam.perform('range', 'add', { network: '10.9.0.0/24' })) as RangeRecord;
    await ipam.perform('address', 'add', { address: '10.9.0.5' });
    const stored = await ipam.store.collection('ranges').findOne({ id: range.id });
    // What a process killed right after writing its intent leaves: the entry, naming a lock that is gone.
    await ipam.store.collection('journal').insertOne({
      id: 'left-behind',
      name: 'structural|default',
      kind: 'structural',
      addressSpace: 'default',
      change: { op: 'delete-range', range: stored },
      owner: 'dead-process',
      lockId: 'gone',
      createdAt: new Date().toISOString(),
    });
    await ipam.close();
    await helper.load([configModule, rangeModule], onTab([
      config,
      { id: 'n1', type: 'ipam-range', server: config.id, operation: 'list', wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]) as TestFlows);
    const listed = nextMessage('out');
    helper.getNode('n1').receive({ payload: {} });
    expect((await listed).payload).to.deep.equal([]);
    const logged = helper.log().args.map((args: unknown[]) => JSON.stringify(args));
    expect(logged.some((line: string) => line.includes('finished an interrupted delete-range in address space \\"default\\"'))).to.equal(true);
  });
});
