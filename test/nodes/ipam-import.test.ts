import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import configModule = require('../../nodes/ipam-config');
import importModule = require('../../nodes/ipam-import');
import type { TestFlows } from 'node-red-node-test-helper';
import { catchNode, catchNodes, configNode, helper, nextMessage, onTab, useNodeRed } from '../support/node-red';
import { tempDir } from '../support/stores';

const NODES = [configModule, importModule, catchNode];

const GUIDE_ADDRESSES = [
  'IP address,managed by service,service instance,device type,ip address state,assignment type  ',
  '192.168.0.25,ms dhcp,dhcp1.contoso.com,host,in-use,static  ',
  '192.168.0.26,ms dhcp,dhcp1.contoso.com,host,in-use,static  ',
].join('\n');
const GUIDE_RANGE_MS_DHCP = [
  '“Network”, “Start IP address”, “End IP address”, “Managed by service”, “Service instance”, “Assignment Type”  ',
  '“192.168.100.0/24”, “192.168.100.1”, “192.168.100.254”, “MS DHCP”, “router”, “dynamic”  ',
].join('\n');

function flow(settings: Record<string, unknown>): TestFlows {
  const config = configNode();
  return onTab([
    config,
    { id: 'n1', type: 'ipam-import', server: config.id, operation: 'import', entity: 'addresses', ...settings, wires: [['out']] },
    { id: 'out', type: 'helper' },
    ...catchNodes(),
  ]);
}

function send(msg: Record<string, unknown>, to = 'out'): Promise<Record<string, unknown>> {
  const received = nextMessage(to);
  helper.getNode('n1').receive(msg);
  return received;
}

describe('ipam-import node', () => {
  useNodeRed();

  it("imports the guide's addresses from msg.payload and exports them as CSV text", async () => {
    await helper.load(NODES, flow({}));
    const imported = await send({ payload: GUIDE_ADDRESSES, topic: 'kept' });
    expect(imported.payload).to.deep.include({ entity: 'addresses', rows: 2, created: 2, failed: 0 });
    expect(imported).to.include({ topic: 'kept' });
    expect(imported).not.to.have.property('errorReport');
    const exported = await send({ operation: 'export' });
    const lines = (exported.payload as string).trim().split('\n');
    expect(lines[0]).to.match(/^IP address,Managed by service,Service instance,Device type,IP address state,Assignment type,/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).to.deep.equal(['192.168.0.25', '192.168.0.26']);
  });

  it('returns failed rows in msg.errorReport and writes them to the configured folder', async () => {
    const folder = tempDir();
    await helper.load(NODES, flow({ entity: 'ranges', reportFolder: folder }));
    const msg = await send({ payload: Buffer.from(GUIDE_RANGE_MS_DHCP) });
    const result = msg.payload as { failed: number; errors: { line: number; code: string }[]; errorReportFile: string };
    expect(result.failed).to.equal(1);
    expect(result.errors[0]).to.include({ line: 2, code: 'RESERVED_VALUE' });
    expect(msg.errorReport).to.be.a('string').and.contain('MS DHCP');
    expect(fs.readdirSync(folder)).to.deep.equal([path.basename(result.errorReportFile)]);
  });

  it('runs import-and-update with msg.dryRun and the pair from msg, then applies it', async () => {
    await helper.load(NODES, flow({ operation: 'import-and-update', managedByService: 'Non-MS DHCP', serviceInstance: 'wrong' }));
    const file = 'Network,Start IP address,End IP address,Assignment type\n10.5.1.0/24,10.5.1.1,10.5.1.254,Dynamic';
    const pair = { serviceInstance: 'Switch' };
    const dry = await send({ payload: file, dryRun: true, ...pair });
    expect(dry.payload).to.deep.include({ dryRun: true, created: 1 });
    const applied = await send({ payload: file, ...pair });
    expect(applied.payload).to.deep.include({ created: 1, deleted: 0 });
    const exported = await send({ operation: 'export', entity: 'ranges', filter: { serviceInstance: 'Switch' } });
    expect(exported.payload).to.contain('10.5.1.0/24,10.5.1.1,10.5.1.254,Non-MS DHCP,Switch,Dynamic');
  });

  it('reads msg.filename and exports to a file', async () => {
    const folder = tempDir();
    fs.writeFileSync(path.join(folder, 'in.csv'), GUIDE_ADDRESSES);
    await helper.load(NODES, flow({}));
    expect((await send({ filename: path.join(folder, 'in.csv') })).payload).to.deep.include({ created: 2 });
    const out = path.join(folder, 'out.csv');
    expect((await send({ operation: 'export', filename: out })).payload).to.deep.equal({ entity: 'addresses', filename: out, rows: 2 });
    expect(fs.readFileSync(out, 'utf8')).to.contain('192.168.0.26');
  });

  it('shows the rows processed in its status during a long import', async () => {
    await helper.load(NODES, flow({}));
    const node = helper.getNode('n1');
    const statuses: string[] = [];
    const status = node.status.bind(node);
    node.status = (s: { text?: string }) => {
      statuses.push(String(s.text));
      return status(s);
    };
    const rows = Array.from({ length: 2500 }, (_, i) => `10.9.${Math.floor(i / 250)}.${(i % 250) + 1},IPAM,Localhost,Host,In-Use,Static`);
    const msg = await send({ payload: ['IP address,Managed by service,Service instance,Device type,IP address state,Assignment type', ...rows].join('\n') });
    expect(msg.payload).to.deep.include({ created: 2500 });
    expect(statuses).to.include('imported 1000 rows');
  });

  it('sends a refused file to a Catch node with msg.error.code', async () => {
    await helper.load(NODES, flow({}));
    const caught = await send({ payload: 'IP address,Owner\n10.0.0.1,me' }, 'caught');
    expect(caught.error).to.nested.include({ code: 'VALIDATION' });
    expect((caught.error as { message: string }).message).to.contain('Owner');
  });

  for (const operation of ['export', 'import']) {
    it(`${operation} with msg.entity "constructor" reaches the Catch node as VALIDATION; the process lives on`, async () => {
      await helper.load(NODES, flow({}));
      const caught = await send({ operation, entity: 'constructor', payload: 'IP address\n10.0.0.1' }, 'caught');
      expect(caught.error).to.deep.include({ code: 'VALIDATION', message: 'entity "constructor": must be addresses, ranges or blocks' });
      const exported = await send({ operation: 'export', entity: 'addresses' });
      expect(exported.payload).to.match(/^IP address,/);
    });
  }
});
