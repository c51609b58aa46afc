/**
 * Smoke test of the built package as Node-RED loads it: dist/ layout, then a real Node-RED started the way
 * `npm start` does, serving the palette, the examples and the getting-started flow's HTTP API.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { startNodeRed, type RunningNodeRed } from '../support/node-red-process';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const nodeFiles: Record<string, string> = manifest['node-red'].nodes;
const MODULE = '@flowipam/node-red-ipam';

describe('built package (dist/)', () => {
  before(function () {
    if (!fs.existsSync(path.join(root, 'dist', 'nodes'))) this.skip();
  });

  for (const [type, file] of Object.entries(nodeFiles)) {
    it(`${type}: .js, .html, locale and icon sit where Node-RED looks`, () => {
      const js = path.join(root, file);
      const html = js.replace(/\.js$/, '.html');
      expect(fs.existsSync(js), js).to.equal(true);
      expect(fs.existsSync(html), html).to.equal(true);
      const source = fs.readFileSync(html, 'utf8');
      const help = path.join(path.dirname(js), 'locales', 'en-US', `${type}.html`);
      expect(fs.readFileSync(help, 'utf8')).to.contain(`data-help-name="${type}"`);
      // Nodes registered through FlowIPAM.registerNode use `<type>.svg` (the dialog rows' icons are Font Awesome names).
      const icon = /icon:\s*'([^']+\.svg)'/.exec(source)?.[1] ?? `${type}.svg`;
      if (type !== 'ipam-config') {
        expect(fs.existsSync(path.join(path.dirname(js), 'icons', icon)), icon).to.equal(true);
        const locale = path.join(path.dirname(js), 'locales', 'en-US', `${type}.json`);
        expect(JSON.parse(fs.readFileSync(locale, 'utf8'))).to.have.property(type);
      }
    });

    it(`${type}: loads the shared editor code itself before it uses FlowIPAM (no load-order dependency)`, () => {
      const source = fs.readFileSync(path.join(root, file).replace(/\.js$/, '.html'), 'utf8');
      const loads = source.indexOf('<script src="resources/@flowipam/node-red-ipam/editor.js"></script>');
      const firstUse = source.indexOf('FlowIPAM.');
      expect(loads, 'editor.js script tag').to.be.at.least(0);
      if (firstUse >= 0) expect(loads, 'editor.js loads before the first FlowIPAM use').to.be.below(firstUse);
    });
  }

  describe('in a running Node-RED (as npm start runs it)', function () {
    this.timeout(60000);
    let red: RunningNodeRed;
    let base: string;

    before(async () => {
      red = await startNodeRed();
      base = red.base;
    });

    after(() => red?.stop());

    it('lists every node in the palette', async () => {
      const nodes = (await (await fetch(`${base}/nodes`, { headers: { accept: 'application/json' } })).json()) as { id: string; enabled: boolean }[];
      const ours = nodes.filter((n) => n.id.startsWith(`${MODULE}/`));
      expect(ours.map((n) => n.id.split('/').pop()).sort()).to.deep.equal(Object.keys(nodeFiles).sort());
      expect(ours.every((n) => n.enabled)).to.equal(true);
    });

    it('serves every node icon', async () => {
      for (const type of Object.keys(nodeFiles).filter((t) => t !== 'ipam-config')) {
        const response = await fetch(`${base}/icons/${MODULE}/${type}.svg`);
        expect(response.status, type).to.equal(200);
        // Node-RED answers an unknown icon with its default one: compare with our file.
        expect(await response.text(), type).to.equal(fs.readFileSync(path.join(root, 'icons', `${type}.svg`), 'utf8'));
      }
    });

    it('serves the examples at /library/examples/flows/<module>/', async () => {
      const listing = await (await fetch(`${base}/library/examples/flows/${encodeURIComponent(MODULE)}/`)).json();
      const names = (listing as { fn?: string }[]).map((entry) => entry.fn).sort();
      const files = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
      expect(names).to.deep.equal(files.sort());
    });

    it("the getting-started flow answers the README's curl requests", async () => {
      const post = (url: string, body: unknown) =>
        fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const block = await post('/ipam/blocks', { network: '10.0.0.0/8' });
      expect(block.status).to.equal(200);
      expect(await block.json()).to.include({ network: '10.0.0.0/8', isPrivate: true });
      const range = await post('/ipam/ranges', { network: '10.1.0.0/24' });
      expect(await range.json()).to.include({ startAddress: '10.1.0.1', endAddress: '10.1.0.254' });
      const clash = await post('/ipam/ranges', { network: '10.1.0.0/25' });
      expect(clash.status).to.equal(409);
      expect(await clash.json()).to.include({ code: 'OVERLAP' });
      const allocate = () => post('/ipam/allocate', { range: '10.1.0.0/24', requestId: 'vm-42', deviceName: 'vm-42' });
      const first = await (await allocate()).json();
      expect(first).to.include({ address: '10.1.0.1', deviceName: 'vm-42' });
      expect(await (await allocate()).json()).to.include({ id: first.id, address: '10.1.0.1' });
      const used = await fetch(`${base}/ipam/blocks/utilization?network=10.0.0.0/8`);
      expect(await used.json()).to.include({ size: 16777216, rangeSize: 254, assigned: 1 });
      const listed = await (await fetch(`${base}/ipam/addresses`)).json();
      expect(listed.map((a: { address: string }) => a.address)).to.deep.equal(['10.1.0.1']);
    });

    it('the getting-started API gets, updates and releases an address, deletes by query string, and answers bad JSON in JSON', async () => {
      const send = (method: string, url: string, body?: unknown) =>
        fetch(`${base}${url}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      await send('POST', '/ipam/ranges', { network: '10.5.0.0/24' });
      await send('POST', '/ipam/allocate', { range: '10.5.0.0/24', count: 2 });
      const got = await send('GET', '/ipam/addresses/10.5.0.2');
      expect(await got.json()).to.include({ address: '10.5.0.2' });
      const updated = await send('PUT', '/ipam/addresses/10.5.0.2', { deviceName: 'db2' });
      expect(await updated.json()).to.include({ address: '10.5.0.2', deviceName: 'db2' });
      const missing = await send('GET', '/ipam/addresses/10.5.0.99');
      expect(missing.status).to.equal(404);
      const released = await (await send('POST', '/ipam/release', { addresses: ['10.5.0.1'] })).json();
      expect(released.released.map((r: { address: string }) => r.address)).to.deep.equal(['10.5.0.1']);
      expect((await send('GET', '/ipam/addresses/10.5.0.1')).status).to.equal(404);
      await send('POST', '/ipam/blocks', { network: '172.16.0.0/12' });
      const deleted = await send('DELETE', '/ipam/blocks?network=172.16.0.0/12');
      expect(deleted.status).to.equal(200);
      expect((await deleted.json()).deleted).to.include({ network: '172.16.0.0/12' });
      const malformed = await fetch(`${base}/ipam/blocks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"network": ' });
      expect(malformed.status).to.equal(400);
      expect(malformed.headers.get('content-type')).to.match(/application\/json/);
      const error = await malformed.json();
      expect(error.code).to.equal('VALIDATION');
      expect(JSON.stringify(error)).to.not.match(/node_modules|at JSON\.parse/);
    });

    it('the provisioning example allocates by requestId and its Catch path answers the failed DHCP step in JSON', async () => {
      const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'provisioning.json'), 'utf8'));
      const flows = (await (await fetch(`${base}/flows`)).json()) as unknown[];
      const deploy = await fetch(`${base}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
        body: JSON.stringify([...flows, ...example]),
      });
      expect(deploy.status).to.be.oneOf([200, 204]);
      const setup = example.find((n: { name?: string }) => n.name === 'create range');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await fetch(`${base}/inject/${setup.id}`, { method: 'POST' })).status).to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const provision = () =>
        fetch(`${base}/provision`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hostname: 'web1', mac: '52:54:00:12:34:56' }) });
      // No Kea listens here (port 8000 on loopback): the reservation step fails and the Catch answers it.
      const first = await provision();
      const body = await first.json();
      expect(first.status, JSON.stringify(body)).to.equal(502);
      expect(body).to.include({ code: 'SYNC_FAILED', address: '192.0.2.1' });
      const again = await (await provision()).json();
      expect(again).to.include({ code: 'SYNC_FAILED', address: '192.0.2.1' });
    });
  });
});
