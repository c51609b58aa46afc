/**
 * ipam-config with a MongoDB that is down at start (a closed port on loopback): retried with backoff,
 * shown in the operation nodes' status, messages fail fast meanwhile; bad policy settings name the field.
 */
import { expect } from 'chai';
import configModule = require('../../nodes/ipam-config');
import blockModule = require('../../nodes/ipam-block');
import type { TestFlows } from 'node-red-node-test-helper';
import type { IpamConfigNode, StoreState } from '../../nodes/common';
import { catchNode, catchNodes, helper, nextMessage, onTab, useNodeRed, withCatalogs } from '../support/node-red';

// Status texts from the message catalogs, as a user sees them.
const NODES = [withCatalogs(configModule), withCatalogs(blockModule), catchNode];

function flow(config: Record<string, unknown>): TestFlows {
  return onTab([
    { id: 'cfg', type: 'ipam-config', store: 'mongodb', database: 'x', ...config },
    { id: 'n1', type: 'ipam-block', server: 'cfg', operation: 'list', wires: [['out']] },
    { id: 'out', type: 'helper' },
    ...catchNodes(),
  ] as never);
}

function nextState(server: IpamConfigNode, wanted: StoreState['state']): Promise<StoreState> {
  return new Promise((resolve) => {
    const listen = (state: StoreState): void => {
      if (state.state !== wanted) return;
      server.storeEvents.off('state', listen);
      resolve(state);
    };
    server.storeEvents.on('state', listen);
  });
}

describe('ipam-config on MongoDB', () => {
  useNodeRed();

  it('a MongoDB down at start is retried with backoff, shown in the status; messages fail fast meanwhile', async () => {
    await helper.load(NODES, flow({ uri: 'mongodb://127.0.0.1:1/?directConnection=true', serverSelectionTimeoutMs: '150', connectTimeoutMs: '150' }));
    const server = helper.getNode('cfg') as unknown as IpamConfigNode;
    const state = server.storeState.state === 'reconnecting' ? server.storeState : await nextState(server, 'reconnecting');
    expect(state).to.include({ state: 'reconnecting', attempt: 1, retryInMs: 1000 });
    const statuses: { text?: string }[] = [];
    const block = helper.getNode('n1') as unknown as { status(s: { text?: string }): void };
    block.status = (s) => void statuses.push(s);
    server.storeEvents.emit('state', server.storeState);
    expect(statuses.at(-1)?.text).to.match(/^store unavailable, retry 1 in 1 s/);
    const caught = nextMessage('caught');
    helper.getNode('n1').receive({ payload: {} });
    const msg = await caught;
    expect((msg.error as { message: string }).message).to.contain('127.0.0.1:1');
    // Answered with the last error while the first retry is still pending, not held until an attempt.
    expect(server.storeState).to.include({ state: 'reconnecting', attempt: 1 });
    const second = await nextState(server, 'reconnecting');
    expect(second).to.include({ attempt: 2, retryInMs: 2000 });
  });

  it('a write concern that is not majority or a member count is refused naming writeConcern', async () => {
    await helper.load(NODES, flow({ uri: 'mongodb://127.0.0.1:1/', writeConcern: '0' }));
    const server = helper.getNode('cfg') as unknown as IpamConfigNode;
    const err = await server.ipam().catch((e: Error & { field?: string }) => e);
    expect((err as { field?: string }).field).to.equal('writeConcern');
  });
});
