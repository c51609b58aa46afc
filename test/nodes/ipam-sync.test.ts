import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import configModule = require('../../nodes/ipam-config');
import rangeModule = require('../../nodes/ipam-range');
import allocateModule = require('../../nodes/ipam-allocate');
import syncModule = require('../../nodes/ipam-sync');
import { query, type SyncResult } from '../../lib/sync';
import { catchNode, catchNodes, configNode, helper, nextMessage, onTab, useNodeRed } from '../support/node-red';
import { tempDir } from '../support/stores';
import { keaPost, requireBinaries, startBind, startKea, type BindServer, type KeaServer } from '../support/servers';

const NODES = [configModule, rangeModule, allocateModule, syncModule, catchNode];
type Json = Record<string, unknown>;

function flow(sync: Json): Json[] {
  const config = configNode();
  return onTab([
    config,
    { id: 'n1', type: 'ipam-sync', server: config.id, wires: [['out']], ...sync },
    { id: 'out', type: 'helper' },
    ...catchNodes(),
  ]);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const load = (nodes: Json[], credentials: Json = {}): Promise<void> => helper.load(NODES, nodes as any, credentials as any);

function leasesFile(lines: string[]): string {
  const file = path.join(tempDir(), 'dnsmasq.leases');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Records the status texts a node shows from now on. */
function statusTexts(id: string): string[] {
  const node = helper.getNode(id) as unknown as { status: (s: { text?: string }) => void };
  const texts: string[] = [];
  const original = node.status.bind(node);
  node.status = (status) => {
    texts.push(status.text ?? '');
    original(status);
  };
  return texts;
}

function messages(id: string, count: number): Promise<Json[]> {
  const received: Json[] = [];
  return new Promise((resolve) => {
    const listener = (msg: Json): void => {
      received.push(msg);
      if (received.length === count) {
        helper.getNode(id).off('input', listener);
        resolve(received);
      }
    };
    helper.getNode(id).on('input', listener);
  });
}

describe('ipam-sync node', function () {
  this.timeout(30_000);
  useNodeRed();

  it('imports a leases file on input, shows the last run in its status, keeps msg properties', async () => {
    const file = leasesFile(['0 52:54:00:00:00:01 10.5.0.1 alpha *', '0 52:54:00:00:00:02 10.5.0.2 beta *']);
    await load(flow({ operation: 'import-leases', source: 'dnsmasq', leasesFile: file, intervalHours: 0 }));
    const texts = statusTexts('n1');
    const received = nextMessage('out');
    helper.getNode('n1').receive({ payload: 'go', topic: 'kept' });
    const msg = await received;
    expect(msg.topic).to.equal('kept');
    expect(msg.payload).to.include({ operation: 'import-leases', source: 'dnsmasq', created: 2, failed: 0 });
    expect(texts[0]).to.equal('import-leases...');
    expect(texts[texts.length - 1]).to.match(/^\d\d:\d\dZ import-leases: 2 created, 0 updated$/);
  });

  it('msg.filename overrides the configured file; a run queued behind another never overlaps it', async () => {
    const file = leasesFile(Array.from({ length: 300 }, (_, i) => `0 52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} 10.6.${i >> 8}.${i & 255} h${i} *`));
    await load(flow({ operation: 'import-leases', source: 'dnsmasq', leasesFile: '/nonexistent', intervalHours: 0 }));
    const both = messages('out', 2);
    helper.getNode('n1').receive({ filename: file, topic: 'first' });
    helper.getNode('n1').receive({ filename: file, topic: 'second' });
    const [first, second] = await both;
    expect(first.topic).to.equal('first');
    // Had the runs overlapped, the second would have created addresses too or collided (DUPLICATE).
    expect(first.payload).to.include({ created: 300, failed: 0 });
    expect(second.payload).to.include({ created: 0, unchanged: 300, failed: 0 });
  });

  it('runs on its schedule right after deploy and again after the interval', async () => {
    const file = leasesFile(['0 52:54:00:00:00:01 10.7.0.1 alpha *']);
    await load(flow({ operation: 'import-leases', source: 'dnsmasq', leasesFile: file, intervalHours: 1 / 3600 }));
    const [first, second] = await messages('out', 2);
    expect((first.payload as SyncResult).created).to.equal(1);
    expect(second.payload).to.include({ created: 0, unchanged: 1 });
    expect(first.operation).to.equal('import-leases');
  });

  it('skips a scheduled run that comes due while a message’s run is still going, with a warning', async () => {
    // A slow stand-in for the Kea Control Agent: every answer takes 2 s, the interval is 1 s.
    const slow = http.createServer((_req, res) => {
      setTimeout(() => res.end(JSON.stringify([{ result: 3, text: '0 IPv4 lease(s) found.' }])), 2000);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;
    try {
      await load(flow({ operation: 'import-leases', source: 'kea', keaUrl: url, intervalHours: 1 / 3600 }));
      const node = helper.getNode('n1') as unknown as { warn: (text: string) => void };
      const warnings: string[] = [];
      node.warn = (text) => warnings.push(text);
      await nextMessage('out');
      const fromInput = nextMessage('out');
      helper.getNode('n1').receive({ payload: '', topic: 'by hand' });
      expect((await fromInput).topic).to.equal('by hand');
      expect(warnings).to.have.length.at.least(1);
      for (const warning of warnings) expect(warning).to.match(/scheduled import-leases skipped/);
    } finally {
      await helper.unload();
      slow.close();
    }
  });

  it('does not schedule reservation or DNS operations', async () => {
    await load(flow({ operation: 'create-dns-host', intervalHours: 1 / 3600 }));
    const texts = statusTexts('n1');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(texts).to.deep.equal([]);
  });

  describe('with a real Kea server', () => {
    let kea: KeaServer;
    before(async function () {
      requireBinaries(this, ['kea-dhcp4', 'kea-ctrl-agent'], ['libdhcp_lease_cmds.so']);
      kea = await startKea({
        leases: [{ 'ip-address': '192.0.2.120', 'hw-address': '52:54:00:00:01:20', hostname: 'kea-client' }],
      });
    });
    after(async () => {
      await kea?.stop();
    });

    it('takes the Kea user and password from credentials', async () => {
      await load(flow({ operation: 'import-leases', source: 'kea', keaUrl: kea.url, serverName: 'kea-1', intervalHours: 0 }), {
        n1: { keaUser: kea.user, keaPassword: kea.password },
      });
      const received = nextMessage('out');
      helper.getNode('n1').receive({ payload: '' });
      expect((await received).payload).to.include({ created: 1, server: 'kea-1' });
    });

    it('a wrong password reaches a Catch node as SYNC_FAILED with Kea’s reason', async () => {
      await load(flow({ operation: 'discover-scopes', keaUrl: kea.url, intervalHours: 0 }), {
        n1: { keaUser: kea.user, keaPassword: 'wrong' },
      });
      const caught = nextMessage('caught');
      helper.getNode('n1').receive({ payload: '' });
      const error = (await caught).error as { code: string; message: string };
      expect(error.code).to.equal('SYNC_FAILED');
      expect(error.message).to.match(/HTTP 401/);
    });
  });

  describe('after an allocation, with a real BIND server', () => {
    let bind: BindServer;
    before(async function () {
      requireBinaries(this, ['named']);
      bind = await startBind();
    });
    after(async () => {
      await bind?.stop();
    });

    it('ipam-allocate → ipam-sync create-dns-host adds the A record with the TSIG secret from credentials', async () => {
      const config = configNode();
      await load(
        onTab([
          config,
          { id: 'range', type: 'ipam-range', server: config.id, operation: 'add', wires: [['rangeOut']] },
          { id: 'rangeOut', type: 'helper' },
          { id: 'alloc', type: 'ipam-allocate', server: config.id, operation: 'allocate', wires: [['n1']] },
          {
            id: 'n1',
            type: 'ipam-sync',
            server: config.id,
            operation: 'create-dns-host',
            dnsServer: `${bind.host}:${bind.port}`,
            tsigKeyName: bind.keyName,
            tsigAlgorithm: 'hmac-sha256',
            wires: [['out']],
          },
          { id: 'out', type: 'helper' },
        ]),
        { n1: { tsigSecret: bind.secret } },
      );
      const rangeAdded = nextMessage('rangeOut');
      helper.getNode('range').receive({ payload: { network: '192.0.2.0/24' } });
      await rangeAdded;
      const received = nextMessage('out');
      helper.getNode('alloc').receive({
        payload: { range: '192.0.2.0/24', deviceName: 'app1', dns: { forwardZone: 'example.test' } },
      });
      const msg = await received;
      expect(msg.payload).to.include({ operation: 'create-dns-host', created: 1, failed: 0 });
      const records = await query('app1.example.test', 'A', { host: bind.host, port: bind.port });
      expect(records.map((r) => r.data)).to.deep.equal(['192.0.2.1']);
    });

    it('the ipam-sync-after-allocate example reserves on Kea and adds A and PTR records', async function () {
      requireBinaries(this, ['kea-dhcp4', 'kea-ctrl-agent'], ['libdhcp_lease_cmds.so']);
      const kea = await startKea();
      try {
        const example = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/ipam-sync-after-allocate.json'), 'utf8')) as Json[];
        const credentials: Json = {};
        for (const node of example) {
          if (node.type === 'ipam-config') node.directory = tempDir();
          if (node.type !== 'ipam-sync') continue;
          if (node.keaUrl) node.keaUrl = kea.url;
          node.dnsServer = `${bind.host}:${bind.port}`;
          node.tsigKeyName = bind.keyName;
          credentials[node.id as string] = { keaUser: kea.user, keaPassword: kea.password, tsigSecret: bind.secret };
        }
        const debugs = example.filter((n) => n.type === 'debug').map((n) => n.id);
        const flowNodes = example.map((n) => (debugs.includes(n.id) ? { id: n.id, type: 'helper', z: n.z } : n));
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        await helper.load([...NODES, require('@node-red/nodes/core/function/15-change.js'), require('@node-red/nodes/core/common/20-inject.js'), require('@node-red/nodes/core/common/90-comment.js')], flowNodes as any, credentials as any);
        const injects = example.filter((n) => n.type === 'inject');
        const [resultDebug, errorDebug] = debugs as string[];
        const errors: Json[] = [];
        helper.getNode(errorDebug).on('input', (msg: Json) => errors.push(msg));
        const rangeDone = nextMessage(resultDebug);
        helper.getNode(injects[0].id as string).receive({ payload: JSON.parse(injects[0].payload as string) });
        await rangeDone;
        const done = nextMessage(resultDebug);
        helper.getNode(injects[1].id as string).receive({ payload: JSON.parse(injects[1].payload as string) });
        const msg = await done;
        expect(errors).to.deep.equal([]);
        expect(msg.payload).to.include({ operation: 'create-dns-ptr', created: 1 });
        const address = (msg.address as { address: string }).address;
        expect(address).to.equal('192.0.2.1');
        const server = { host: bind.host, port: bind.port };
        expect((await query('web1.example.test', 'A', server)).map((r) => r.data)).to.deep.equal([address]);
        expect((await query('1.2.0.192.in-addr.arpa', 'PTR', server)).map((r) => r.data)).to.deep.equal(['web1.example.test']);
        const [answer] = await keaPost(kea.url, kea.user, kea.password, { command: 'config-get', service: ['dhcp4'] });
        const subnets = ((answer.arguments as Json).Dhcp4 as Json).subnet4 as Array<{ reservations?: Json[] }>;
        const reservations = subnets.flatMap((s) => s.reservations ?? []);
        expect(reservations.find((r) => r['ip-address'] === address)).to.include({ 'hw-address': '52:54:00:12:34:56' });
      } finally {
        await helper.unload();
        await kea.stop();
      }
    });
  });
});
