import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import configModule = require('../../nodes/ipam-config');
import blockModule = require('../../nodes/ipam-block');
import rangeModule = require('../../nodes/ipam-range');
import type { TestFlows } from 'node-red-node-test-helper';
import type { IpamConfigNode } from '../../nodes/common';
import { catchNode, catchNodes, configNode, helper, nextMessage, onTab, sendToN1, useNodeRed } from '../support/node-red';

const NODES = [configModule, blockModule, rangeModule, catchNode];

function flow(operation: string, type = 'ipam-block', config = configNode()): TestFlows {
  return onTab([
    config,
    { id: 'n1', type, server: config.id, operation, wires: [['out']] },
    { id: 'out', type: 'helper' },
    ...catchNodes(),
  ]);
}


describe('ipam-block and ipam-range nodes', () => {
  useNodeRed();

  it('ipam-block runs every operation, the configured one or msg.operation', async () => {
    await helper.load(NODES, flow('add'));
    const added = (await sendToN1({ network: '10.0.0.0/8' })).payload as Record<string, unknown>;
    expect(added).to.include({ network: '10.0.0.0/8', isPrivate: true });
    const got = await sendToN1({ network: '10.0.0.0/8' }, { operation: 'get' });
    expect(got.payload).to.deep.equal(added);
    const updated = await sendToN1({ id: added.id, description: 'all private' }, { operation: 'update' });
    expect(updated.payload).to.include({ description: 'all private' });
    const listed = await sendToN1({}, { operation: 'list' });
    expect(listed.payload).to.have.length(1);
    const used = await sendToN1({ id: added.id }, { operation: 'utilization' });
    expect(used.payload).to.include({ size: 16777216, assigned: 0 });
    const deleted = await sendToN1({ id: added.id }, { operation: 'delete', topic: 'kept' });
    expect(deleted).to.nested.include({ 'payload.deleted.id': added.id, topic: 'kept' });
  });

  it('ipam-range runs every foundation operation', async () => {
    await helper.load(NODES, flow('add', 'ipam-range'));
    const added = (await sendToN1({ network: '10.1.0.0/24' })).payload as Record<string, unknown>;
    expect(added).to.include({ startAddress: '10.1.0.1', endAddress: '10.1.0.254' });
    expect((await sendToN1({ id: added.id }, { operation: 'get' })).payload).to.deep.equal(added);
    expect((await sendToN1({ id: added.id, assignmentType: 'dynamic' }, { operation: 'update' })).payload).to.include({ assignmentType: 'Dynamic' });
    expect((await sendToN1({ managedByService: 'ipam' }, { operation: 'list' })).payload).to.have.length(1);
    expect((await sendToN1({ id: added.id }, { operation: 'utilization' })).payload).to.include({ size: 254, free: 254 });
    expect((await sendToN1({ id: added.id }, { operation: 'delete' })).payload).to.nested.include({ 'deleted.id': added.id });
  });

  it('a failure reaches a Catch node with msg.error.code, and no message goes out', async () => {
    await helper.load(NODES, flow('add'));
    let sent = false;
    helper.getNode('out').on('input', () => (sent = true));
    const caught = nextMessage('caught');
    helper.getNode('n1').receive({ payload: { network: '65.52.0.0/14' } });
    const msg = await caught;
    expect(msg).to.nested.include({ 'error.code': 'VALIDATION' });
    expect((msg.error as { message: string }).message).to.contain('rir');
    expect(sent).to.equal(false);
  });

  it('an unknown msg.operation is a VALIDATION error naming it', async () => {
    await helper.load(NODES, flow('add'));
    const caught = nextMessage('caught');
    helper.getNode('n1').receive({ payload: {}, operation: 'explode' });
    const msg = await caught;
    expect(msg).to.nested.include({ 'error.code': 'VALIDATION' });
    expect((msg.error as { message: string }).message).to.contain('explode');
  });

  it('nodes sharing one config share one store; redeploy closes it and frees the directory', async () => {
    const config = configNode();
    await helper.load(NODES, [
      ...(flow('add', 'ipam-block', config) as Record<string, unknown>[]),
      { id: 'n2', z: 'flow', x: 1, y: 1, type: 'ipam-block', server: config.id, operation: 'list', wires: [['out2']] },
      { id: 'out2', z: 'flow', x: 1, y: 1, type: 'helper' },
    ] as TestFlows);
    await sendToN1({ network: '192.168.0.0/16' });
    const listed = new Promise<Record<string, unknown>>((resolve) => helper.getNode('out2').once('input', resolve));
    helper.getNode('n2').receive({ payload: {} });
    expect((await listed).payload).to.have.length(1);
    // Open: SQLite's WAL file is there; closed with its last user: SQLite folds it back and removes it.
    const wal = path.join(config.directory as string, 'ipam.sqlite-wal');
    expect(fs.existsSync(wal)).to.equal(true);
    await helper.unload();
    expect(fs.existsSync(wal)).to.equal(false);
  });

  it('MongoDB user and password are credentials; a password inside the URI is refused', async () => {
    const config = { id: 'cfg', type: 'ipam-config', store: 'mongodb', uri: 'mongodb://admin:secret@127.0.0.1:1/', database: 'x' };
    await helper.load(NODES, flow('list', 'ipam-block', config as never), { cfg: { username: 'u', password: 'p' } });
    const server = helper.getNode('cfg') as unknown as { credentials: Record<string, string> };
    expect(server.credentials).to.deep.equal({ username: 'u', password: 'p' });
    const caught = nextMessage('caught');
    helper.getNode('n1').receive({ payload: {} });
    const msg = await caught;
    expect((msg.error as { message: string }).message).to.contain('credentials');
  });

  it('ipam-config hands its availability checks to the core; absent settings mean off', async () => {
    const withChecks = { ...configNode('on'), pingCheck: true, pingTimeoutMs: '1500', ptrCheck: true, ptrServer: '127.0.0.1:5353' };
    await helper.load(NODES, [withChecks, configNode('off')] as TestFlows);
    const ipamOf = (id: string) => (helper.getNode(id) as unknown as IpamConfigNode).ipam();
    expect((await ipamOf('on')).checks).to.deep.equal({
      ping: { enabled: true, timeoutMs: 1500 },
      ptr: { enabled: true, timeoutMs: 2000, server: '127.0.0.1:5353' },
    });
    const off = (await ipamOf('off')).checks;
    expect(off?.ping?.enabled).to.equal(false);
    expect(off?.ptr?.enabled).to.equal(false);
  });

  it('ipam-config refuses a resolver that is not an IP address, naming the field', async () => {
    await helper.load(NODES, [{ ...configNode('bad'), ptrCheck: true, ptrServer: 'dns.example' }] as unknown as TestFlows);
    const err = await (helper.getNode('bad') as unknown as IpamConfigNode).ipam().catch((e: Error) => e);
    expect((err as Error).message).to.contain('checks.ptr.server');
  });
});
