/**
 * Dialog fields (TypedInputs) in the operation nodes: evaluated per message from msg, flow, global, env,
 * str, num and json, merged with msg.payload by the one precedence rule (nodes/common mergeFields).
 */
import { expect } from 'chai';
import configModule = require('../../nodes/ipam-config');
import rangeModule = require('../../nodes/ipam-range');
import allocateModule = require('../../nodes/ipam-allocate');
import { mergeFields } from '../../nodes/common';
import { catchNode, catchNodes, configNode, helper, nextMessage, onTab, useNodeRed } from '../support/node-red';

describe('mergeFields: dialog fields and msg.payload', () => {
  const fields = new Map<string, unknown>([['range', '10.0.0.0/24'], ['count', 2]]);

  it('an object payload overrides field by field and keeps the fields it does not name', () => {
    expect(mergeFields(fields, { count: 5, deviceName: 'vm' })).to.deep.equal({ range: '10.0.0.0/24', count: 5, deviceName: 'vm' });
    expect(mergeFields(fields, { count: undefined })).to.deep.equal({ range: '10.0.0.0/24', count: 2 });
  });

  it('a payload that is not an object gives way to the fields; without fields the payload is used as is', () => {
    expect(mergeFields(fields, 1733000000000)).to.deep.equal({ range: '10.0.0.0/24', count: 2 });
    expect(mergeFields(fields, ['x'])).to.deep.equal({ range: '10.0.0.0/24', count: 2 });
    expect(mergeFields(new Map(), 'an-id')).to.equal('an-id');
  });

  it('keeps a field named __proto__ as data', () => {
    const merged = mergeFields(new Map([['__proto__', { polluted: true }]]), JSON.parse('{"__proto__": {"x": 1}}')) as object;
    expect(Object.getPrototypeOf(merged)).to.equal(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });
});

describe('operation nodes with dialog fields', () => {
  useNodeRed();
  afterEach(() => {
    delete process.env.FLOWIPAM_TEST_DEVICE;
  });

  async function load(fields: Record<string, { value: string; type: string }>, operation = 'allocate') {
    const config = configNode();
    const flow = onTab([
      config,
      { id: 'range', type: 'ipam-range', server: config.id, operation: 'add', fields: { network: { value: '10.70.0.0/24', type: 'str' } }, wires: [['rangeOut']] },
      { id: 'rangeOut', type: 'helper' },
      { id: 'n1', type: 'ipam-allocate', server: config.id, operation, fields, wires: [['out']] },
      { id: 'out', type: 'helper' },
      ...catchNodes(),
    ]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    await helper.load([configModule, rangeModule, allocateModule, catchNode], flow as any);
    const added = nextMessage('rangeOut');
    helper.getNode('range').receive({ payload: Date.now() }); // an inject timestamp: the dialog's network is used
    return (await added).payload as { id: string; network: string };
  }

  async function send(msg: Record<string, unknown>, to = 'out'): Promise<Record<string, unknown>> {
    const received = nextMessage(to);
    helper.getNode('n1').receive(msg);
    return received;
  }

  it('allocates from a range set in the dialog, with fields from msg, flow, env, num and json', async () => {
    process.env.FLOWIPAM_TEST_DEVICE = 'from-env';
    const range = await load({
      range: { value: '10.70.0.0/24', type: 'str' },
      count: { value: '2', type: 'num' },
      requestId: { value: 'job', type: 'msg' },
      deviceName: { value: 'FLOWIPAM_TEST_DEVICE', type: 'env' },
      description: { value: 'owner', type: 'flow' },
      customFields: { value: '', type: 'json' },
    });
    expect(range.network).to.equal('10.70.0.0/24');
    helper.getNode('n1').context().flow.set('owner', 'team blue');
    const out = (await send({ payload: 1, job: 'req-1' })).payload as Record<string, unknown>[];
    expect(out.map((a) => a.address)).to.deep.equal(['10.70.0.1', '10.70.0.2']);
    expect(out[0]).to.include({ deviceName: 'from-env', description: 'team blue', requestId: 'req-1' });
    // msg.payload overrides field by field: count and deviceName from the payload, the range from the dialog.
    const again = (await send({ payload: { count: 1, deviceName: 'override' }, job: 'req-2' })).payload as Record<string, unknown>;
    expect(again).to.include({ address: '10.70.0.3', deviceName: 'override', requestId: 'req-2' });
  });

  it('ignores the fields when msg.operation picks another operation', async () => {
    await load({ range: { value: '10.70.0.0/24', type: 'str' } });
    const listed = await send({ payload: {}, operation: 'list' });
    expect(listed.payload).to.deep.equal([]);
  });

  it('fails a message whose json field does not parse, naming the field', async () => {
    await load({ range: { value: '10.70.0.0/24', type: 'str' }, customFields: { value: '{not json', type: 'json' } });
    const caught = await send({ payload: {} }, 'caught');
    const error = caught.error as { message: string };
    expect(error.message).to.match(/customFields/);
  });
});
