/**
 * The editor as a person uses it, in headless Chromium (Debian's, driven by playwright-core): every node's
 * dialog offers exactly the operations the core runs, with readable labels, and the ipam-config dialog's
 * custom field and range group lists save what was typed.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { operationsOf, type NodeKind } from '../../lib/ipam';
import { startNodeRed, type RunningNodeRed } from '../support/node-red-process';

const CHROMIUM = '/usr/bin/chromium';
/** Git-ignored (.tmp/): look at them after a run. */
const SHOTS = path.resolve(__dirname, '..', '..', '.tmp', 'screenshots');
const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples');
const KINDS: Record<string, NodeKind> = {
  'ipam-block': 'block',
  'ipam-range': 'range',
  'ipam-allocate': 'address',
  'ipam-import': 'import',
  'ipam-sync': 'sync',
};

describe('editor (headless Chromium)', function () {
  this.timeout(120000);
  let red: RunningNodeRed;
  let browser: Browser;
  let page: Page;
  /** Requests the editor made to anything but this Node-RED (catalogue.nodered.org, update checks). */
  const outside: string[] = [];

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      const reason = `${CHROMIUM} missing (Debian: apt-get install chromium)`;
      if (process.env.CI === 'true') throw new Error(`Editor tests cannot run: ${reason}`);
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    red = await startNodeRed();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    fs.mkdirSync(SHOTS, { recursive: true });
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(red.base) && !url.startsWith('data:') && !url.startsWith('blob:')) outside.push(url);
    });
    await page.goto(`${red.base}/`);
    await page.waitForSelector('.red-ui-palette-node', { timeout: 80000 }); // the machine may be busy
  });

  after(async () => {
    await browser?.close();
    red?.stop();
  });

  /** Drops a node of the type on the workspace and opens its edit dialog, waiting for `ready`. */
  async function openDialog(type: string, ready = '#node-input-operation option'): Promise<void> {
    await page.evaluate((nodeType) => {
      const red = (window as unknown as { RED: any }).RED;
      let config: { id: string } | undefined;
      red.nodes.eachConfig((n: { id: string; type: string }) => {
        if (n.type === 'ipam-config') config = n;
      });
      // As the palette does: every default, then the store.
      const node: Record<string, unknown> = { id: red.nodes.id(), type: nodeType, x: 300, y: 700, z: red.workspaces.active() };
      const defaults = red.nodes.getType(nodeType).defaults as Record<string, { value: unknown }>;
      for (const [field, spec] of Object.entries(defaults)) node[field] = JSON.parse(JSON.stringify(spec.value ?? ''));
      node.server = config!.id;
      const imported = red.view.importNodes([node]);
      red.editor.edit(imported.nodes ? imported.nodes[0] : red.nodes.filterNodes({ type: nodeType }).pop());
    }, type);
    await page.waitForSelector(ready, { state: 'attached', timeout: 10000 });
  }

  const api = (method: string, url: string, body?: unknown) =>
    fetch(`${red.base}${url}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  /** Chooses an operation in the open dialog as a person does (the select fires change). */
  async function chooseOperation(operation: string): Promise<void> {
    await page.selectOption('#node-input-operation', operation);
  }

  /** Types into a field's TypedInput (its visible text input) and leaves it, as a person does. */
  async function typeField(name: string, value: string): Promise<void> {
    const input = page.locator(`.ipam-field-row[data-field="${name}"] input.red-ui-typedInput-input`);
    await input.fill(value);
    await input.press('Tab');
  }

  /** Deploys, confirming Node-RED's warning when nodes from the earlier dialog tests are left unconfigured. */
  async function deploy(): Promise<void> {
    await page.evaluate(() => {
      const w = window as unknown as { RED: any; flowipamDeployed: boolean };
      w.flowipamDeployed = false;
      w.RED.events.on('deploy', () => (w.flowipamDeployed = true));
    });
    await page.click('#red-ui-header-button-deploy');
    const confirm = page.locator('.red-ui-notification button', { hasText: 'Confirm deploy' });
    for (let i = 0; i < 200; i++) {
      if (await page.evaluate(() => (window as unknown as { flowipamDeployed: boolean }).flowipamDeployed)) return;
      if (await confirm.isVisible()) await confirm.click();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('deploy did not finish');
  }

  async function closeDialog(): Promise<void> {
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#node-input-server', { state: 'detached', timeout: 10000 });
  }

  for (const [type, kind] of Object.entries(KINDS)) {
    it(`${type} offers the core's ${kind} operations with readable labels`, async () => {
      await openDialog(type);
      const options = await page.$$eval('#node-input-operation option', (os) =>
        os.map((o) => ({ value: (o as HTMLOptionElement).value, label: o.textContent ?? '' })),
      );
      await closeDialog();
      expect(options.map((o) => o.value).sort()).to.deep.equal(operationsOf(kind).sort());
      for (const option of options) expect(option.label, option.value).to.not.match(/^ipam-|\.operations\./);
    });
  }

  it("ipam-expiry (one operation, no choice) offers the logging frequencies and a schedule", async () => {
    expect(operationsOf('expiry')).to.deep.equal(['check']);
    await openDialog('ipam-expiry', '#node-input-logging option');
    const logging = await page.$$eval('#node-input-logging option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    const hours = await page.inputValue('#node-input-intervalHours');
    await closeDialog();
    expect(logging).to.deep.equal(['transitions', 'periodic']);
    expect(hours).to.equal('24');
  });


  // The dialogs are built from row specs (resources/editor.js registerNode): each row is labelled from the
  // catalog and each input shows the node's setting when the dialog opens.
  for (const type of [...Object.keys(KINDS), 'ipam-expiry']) {
    it(`${type}'s dialog rows have readable labels and placeholders and show the node's settings`, async () => {
      await openDialog(type, type === 'ipam-expiry' ? '#node-input-logging option' : undefined);
      const dialog = await page.evaluate((nodeType) => {
        const $ = (window as unknown as { $: any }).$;
        const texts = $('#dialog-form .form-row label').map((_: number, l: HTMLElement) => $(l).text().trim()).get();
        const placeholders = $('#dialog-form input[placeholder]').map((_: number, i: HTMLElement) => $(i).attr('placeholder')).get();
        const defaults = (window as unknown as { RED: any }).RED.nodes.getType(nodeType).defaults as Record<string, { value: unknown }>;
        const shown: Record<string, [unknown, unknown]> = {};
        for (const [field, spec] of Object.entries(defaults)) {
          const input = $('#node-input-' + field);
          if (field === 'server' || field === 'fields' || !input.length) continue;
          shown[field] = [input.is(':checkbox') ? input.is(':checked') : input.val(), input.is(':checkbox') ? spec.value : String(spec.value)];
        }
        return { texts, placeholders, shown, rows: $('#dialog-form .form-row').length };
      }, type);
      await closeDialog();
      expect(dialog.rows).to.be.greaterThan(2);
      for (const text of [...dialog.texts, ...dialog.placeholders]) expect(text).to.not.match(/(^ipam-|\b(label|placeholder)\.\w)/);
      expect(dialog.texts.filter((t: string) => t !== '')).to.include.members(['Store', 'Name']);
      expect(Object.keys(dialog.shown)).to.include('name');
      for (const [field, [value, expected]] of Object.entries(dialog.shown)) expect(value, field).to.deep.equal(expected);
    });
  }
  it('ipam-config saves the custom fields and range groups typed into its lists', async () => {
    await openDialog('ipam-allocate');
    await page.click('#node-input-server + * a, a.red-ui-button:has(i.fa-pencil)');
    await page.click('.node-config-input-customFieldList-row .red-ui-editableList-addButton');
    await page.fill('.ipam-cf-name >> nth=0', 'AD Site');
    await page.check('.ipam-cf-multi >> nth=0');
    await page.fill('.ipam-cf-values >> nth=0', 'Paris; Lyon');
    await page.click('.node-config-input-rangeGroupList-row .red-ui-editableList-addButton');
    await page.fill('.ipam-rg-name >> nth=0', 'Sites');
    await page.fill('.ipam-rg-criteria >> nth=0', 'AD Site; managedByService');
    await page.click('#node-config-dialog-ok');
    await closeDialog();
    const saved = await page.evaluate(() => {
      let config: { type?: string; customFields?: unknown; rangeGroups?: unknown } = {};
      (window as unknown as { RED: any }).RED.nodes.eachConfig((n: { type: string; customFields?: unknown; rangeGroups?: unknown }) => {
        if (n.type === 'ipam-config') config = n;
      });
      return { customFields: config.customFields, rangeGroups: config.rangeGroups };
    });
    expect(saved).to.deep.equal({
      customFields: [{ name: 'AD Site', multiValue: true, allowedValues: ['Paris', 'Lyon'] }],
      rangeGroups: [{ name: 'Sites', criteria: ['AD Site', 'managedByService'] }],
    });
  });

  it('the IPAM sidebar shows the seeded tree with utilization numbers and bars, and a range in detail', async () => {
    expect((await api('POST', '/ipam/blocks', { network: '10.0.0.0/8', description: 'private' })).status).to.equal(200);
    await api('POST', '/ipam/ranges', { network: '10.1.0.0/24', description: 'servers' });
    await api('POST', '/ipam/ranges', { network: '10.2.0.0/24', description: 'clients' });
    await api('POST', '/ipam/ranges', { network: '2001:db8::/64', description: 'v6 lab' });
    expect((await api('POST', '/ipam/allocate', { range: '10.1.0.0/24', count: 64 })).status).to.equal(200);
    for (let i = 0; i < 2; i++) expect((await api('POST', '/ipam/allocate', { range: '10.2.0.0/24', count: 100 })).status).to.equal(200);
    await api('POST', '/ipam/allocate', { range: '2001:db8::/64', count: 3 });

    await page.evaluate(() => (window as unknown as { RED: any }).RED.sidebar.show('flowipam'));
    await page.click('.flowipam-refresh');
    await page.waitForSelector('.flowipam-item[data-kind="space"]');
    const spaces = await page.$$eval('.flowipam-item[data-kind="space"]', (items) => items.map((i) => i.getAttribute('data-label')));
    expect(spaces).to.deep.equal(['Default · IPv4', 'Default · IPv6']);
    await page.click('.flowipam-item[data-label="Default · IPv4"] > .flowipam-row');
    await page.click('.flowipam-item[data-label="10.0.0.0/8"] > .flowipam-row');
    await page.waitForSelector('.flowipam-item[data-label="10.2.0.0/24"]');
    await page.click('.flowipam-item[data-label="Default · IPv6"] > .flowipam-row');
    await page.waitForSelector('.flowipam-item[data-label="2001:db8::/64"]');
    const shown = await page.$$eval('.flowipam-item', (items) =>
      Object.fromEntries(items.map((i) => [
        i.getAttribute('data-label'),
        { numbers: i.querySelector(':scope > .flowipam-row .flowipam-numbers')!.textContent, percent: Number(i.querySelector(':scope > .flowipam-row .flowipam-bar')!.getAttribute('data-percent')), width: (i.querySelector(':scope > .flowipam-row .flowipam-bar > div') as HTMLElement).style.width },
      ])),
    );
    const percent = (used: number, size: number) => Math.floor((used * 10000) / size) / 100;
    expect(shown['10.1.0.0/24']).to.deep.equal({ numbers: `64 / 254 (${percent(64, 254)}%)`, percent: percent(64, 254), width: `${percent(64, 254)}%` });
    expect(shown['10.2.0.0/24']).to.deep.include({ numbers: `200 / 254 (${percent(200, 254)}%)`, percent: percent(200, 254) });
    expect(shown['10.0.0.0/8'].numbers).to.equal(`264 / 16,777,216 (${percent(264, 16777216)}%)`);
    expect(shown['Default · IPv4'].numbers).to.equal(`264 / 508 (${percent(264, 508)}%)`);
    const v6Size = (2n ** 64n - 1n).toLocaleString('en-US');
    expect(shown['2001:db8::/64'].numbers).to.equal(`3 / ${v6Size} (0%)`);
    await page.click('.flowipam-item[data-label="10.2.0.0/24"] > .flowipam-row');
    await page.waitForSelector('.flowipam-range-details');
    const details = await page.$$eval('.flowipam-range-details tr', (rows) => rows.map((r) => Array.from(r.children).map((c) => c.textContent)));
    expect(details).to.deep.include.members([['Range', '10.2.0.0/24'], ['Start', '10.2.0.1'], ['Assigned', '200'], ['Free', '54'], ['Description', 'clients']]);
    await page.screenshot({ path: path.join(SHOTS, 'sidebar.png') });
    await page.fill('.flowipam-search-input', 'client');
    await page.press('.flowipam-search-input', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('.flowipam-tree > ul > .flowipam-item').length === 1);
    expect(await page.getAttribute('.flowipam-tree > ul > .flowipam-item', 'data-label')).to.equal('10.2.0.0/24');
    await page.screenshot({ path: path.join(SHOTS, 'sidebar-search.png') });
    await page.fill('.flowipam-search-input', '');
    await page.press('.flowipam-search-input', 'Enter');
  });

  it('an older sidebar refresh answering late neither empties nor reloads the tree a newer refresh drew', async () => {
    const spaces = '.flowipam-item[data-kind="space"]';
    await page.evaluate(() => (window as unknown as { RED: any }).RED.sidebar.show('flowipam'));
    await page.waitForSelector(spaces);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    await page.route(/\/flowipam\/stores(\?|$)/, async (route) => {
      if (held++ === 0) await released;
      await route.continue();
    });
    const treeRequests: string[] = [];
    const onRequest = (request: { url(): string }) => {
      if (request.url().includes('/flowipam/tree')) treeRequests.push(request.url());
    };
    page.on('request', onRequest);
    try {
      const refresh = () => page.evaluate(() => void (window as unknown as { FlowIPAMSidebar: { refresh(): unknown } }).FlowIPAMSidebar.refresh());
      const drawn = page.waitForResponse((response) => response.url().includes('/flowipam/tree'));
      await refresh(); // the older one: its list of stores is held back
      await refresh();
      await drawn;
      await page.waitForSelector(spaces);
      expect(treeRequests).to.have.length(1);
      const lateAnswer = page.waitForResponse((response) => response.url().includes('/flowipam/stores'));
      release();
      await lateAnswer;
      await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
      expect(treeRequests, 'the late answer started another load').to.have.length(1);
      expect(await page.$$eval(spaces, (items) => items.map((i) => i.getAttribute('data-label')))).to.deep.equal(['Default · IPv4', 'Default · IPv6']);
    } finally {
      page.off('request', onRequest);
      release();
      await page.unroute(/\/flowipam\/stores(\?|$)/);
    }
  });

  it('a search typed while the sidebar still waits for its stores runs once they come', async () => {
    await page.evaluate(() => (window as unknown as { RED: any }).RED.sidebar.show('flowipam'));
    await page.waitForSelector('.flowipam-item[data-kind="space"]');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/flowipam\/stores(\?|$)/, async (route) => {
      await released;
      await route.continue();
    });
    try {
      // As on the tab's first showing: no store listed yet, and the list on its way.
      await page.evaluate(() => {
        document.querySelector('.flowipam-store')!.innerHTML = '';
        void (window as unknown as { FlowIPAMSidebar: { refresh(): unknown } }).FlowIPAMSidebar.refresh();
      });
      await page.fill('.flowipam-search-input', 'client');
      await page.press('.flowipam-search-input', 'Enter');
      await page.waitForSelector('.flowipam-tree .flowipam-note');
      release();
      await page.waitForFunction(() => document.querySelectorAll('.flowipam-tree > ul > .flowipam-item').length === 1);
      expect(await page.getAttribute('.flowipam-tree > ul > .flowipam-item', 'data-label')).to.equal('10.2.0.0/24');
      expect(await page.$$eval('.flowipam-store option', (options) => options.length)).to.be.greaterThan(0);
    } finally {
      release();
      await page.unroute(/\/flowipam\/stores(\?|$)/);
      await page.fill('.flowipam-search-input', '');
      await page.press('.flowipam-search-input', 'Enter');
    }
  });

  it('flags an invalid CIDR in the range dialog before deploy', async () => {
    await openDialog('ipam-range');
    await chooseOperation('add');
    const visible = await page.$$eval('.ipam-field-row', (rows) => rows.filter((r) => (r as HTMLElement).offsetParent !== null).map((r) => r.getAttribute('data-field')));
    expect(visible).to.include.members(['network', 'startAddress', 'description', 'managedByService']);
    expect(visible).to.not.include('prefixLength');
    await typeField('network', '10.1.0.0/33');
    const flagged = '.ipam-field-row[data-field="network"] .red-ui-typedInput-container.input-error';
    expect(await page.$(flagged)).to.not.equal(null);
    await page.screenshot({ path: path.join(SHOTS, 'range-dialog-invalid-cidr.png') });
    await typeField('network', '10.1.0.0/24');
    expect(await page.$(flagged)).to.equal(null);
    await typeField('network', '10.1.0.0/33');
    await page.click('#node-dialog-ok');
    await page.waitForSelector('#node-input-server', { state: 'detached' });
    const node = await page.evaluate(() => {
      const red = (window as unknown as { RED: any }).RED;
      const n = red.nodes.filterNodes({ type: 'ipam-range' }).pop();
      return { valid: n.valid, fields: n.fields };
    });
    expect(node).to.deep.equal({ valid: false, fields: { network: { value: '10.1.0.0/33', type: 'str' } } });
    await page.evaluate(() => {
      const red = (window as unknown as { RED: any }).RED;
      red.nodes.remove(red.nodes.filterNodes({ type: 'ipam-range' }).pop().id);
      red.view.redraw(true);
    });
  });

  it('a range and count typed into the allocate dialog are what the deployed node allocates from', async () => {
    await api('POST', '/ipam/ranges', { network: '10.3.0.0/24' });
    await openDialog('ipam-allocate');
    await chooseOperation('allocate');
    await typeField('range', '10.3.0.0/24');
    await typeField('count', '2'); // a count field is a number unless another type is chosen
    await typeField('deviceName', 'from-dialog');
    await page.screenshot({ path: path.join(SHOTS, 'allocate-dialog.png') });
    await page.click('#node-dialog-ok');
    await page.waitForSelector('#node-input-server', { state: 'detached' });
    // An inject node wired to it, as if dropped from the palette.
    const allocateNode = await page.evaluate(() => {
      const red = (window as unknown as { RED: any }).RED;
      const node = red.nodes.filterNodes({ type: 'ipam-allocate' }).pop();
      const inject = { id: red.nodes.id(), type: 'inject', z: node.z, x: 120, y: node.y, props: [{ p: 'payload' }], payload: '', payloadType: 'date', repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', wires: [[node.id]] };
      red.view.importNodes([inject], { addFlow: false, notify: false });
      // An import keeps only links between the imported nodes: draw the wire as a person would.
      red.nodes.addLink({ source: red.nodes.node(inject.id), sourcePort: 0, target: node });
      red.nodes.dirty(true); // an import from code does not mark the workspace changed
      red.view.redraw(true);
      return { id: node.id, fields: node.fields, valid: node.valid, inject: inject.id };
    });
    const injectId = allocateNode.inject;
    expect(allocateNode.fields).to.deep.equal({
      range: { value: '10.3.0.0/24', type: 'str' },
      count: { value: '2', type: 'num' },
      deviceName: { value: 'from-dialog', type: 'str' },
    });
    expect(allocateNode.valid).to.equal(true);
    await deploy();
    const deployed = (await (await api('GET', '/flows')).json()) as { id: string; type: string; wires?: string[][] }[];
    expect(deployed.find((n) => n.id === injectId), 'deployed inject').to.deep.include({ type: 'inject', wires: [[allocateNode.id]] });
    expect((await api('POST', `/inject/${injectId}`)).status).to.equal(200);
    let allocated: { address: string; deviceName?: string }[] = [];
    for (let i = 0; i < 50 && allocated.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      allocated = ((await (await api('GET', '/ipam/addresses')).json()) as { address: string; deviceName?: string }[]).filter((a) => a.address.startsWith('10.3.0.'));
    }
    expect(allocated.map((a) => [a.address, a.deviceName])).to.deep.equal([['10.3.0.1', 'from-dialog'], ['10.3.0.2', 'from-dialog']]);
  });

  it('imports every example into one workspace, each with its own config, and an example a second time as a copy', async () => {
    const files = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.json') && f !== 'getting-started.json');
    const examples = Object.fromEntries(files.map((f) => [f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'))]));
    const outcome = await page.evaluate((all) => {
      const red = (window as unknown as { RED: any }).RED;
      const errors: string[] = [];
      for (const nodes of Object.values(all)) {
        try {
          red.view.importNodes(nodes, { addFlow: false, notify: false });
        } catch (err) {
          errors.push(String((err as Error).message));
        }
      }
      let second = '';
      try {
        red.view.importNodes(all['ipam-allocate'], { addFlow: false, notify: false });
      } catch (err) {
        second = (err as { code?: string }).code ?? String(err);
      }
      red.view.importNodes(all['ipam-allocate'], { addFlow: false, notify: false, generateIds: true }); // "Import copy"
      red.nodes.dirty(true); // an import from code does not mark the workspace changed
      const configs: Record<string, string> = {};
      red.nodes.eachConfig((n: { id: string; type: string; name: string }) => {
        if (n.type === 'ipam-config') configs[n.id] = n.name;
      });
      const users: Record<string, string[]> = {};
      red.nodes.eachNode((n: { type: string; z: string; server?: string }) => {
        if (!n.type.startsWith('ipam-') || !n.server) return;
        const tab = red.nodes.workspace(n.z)?.label ?? n.z;
        users[tab] = [...new Set([...(users[tab] ?? []), configs[n.server] ?? 'missing'])];
      });
      return { errors, second, users };
    }, examples);
    expect(outcome.errors).to.deep.equal([]);
    expect(outcome.second).to.equal('import_conflict');
    for (const [name, nodes] of Object.entries(examples)) {
      const label = (nodes as { type: string; label?: string }[]).find((n) => n.type === 'tab')!.label!;
      expect(outcome.users[label], label).to.deep.equal([`${name} example store`]);
    }
    await deploy();
    await page.screenshot({ path: path.join(SHOTS, 'examples-imported.png') });
    const flows = (await (await api('GET', '/flows')).json()) as { type: string; label?: string }[];
    const allocateTab = (examples['ipam-allocate'] as { type: string; label: string }[]).find((n) => n.type === 'tab')!.label;
    expect(flows.filter((n) => n.type === 'tab' && n.label === allocateTab)).to.have.length(2);
  });

  it('asked nothing of any other host (palette catalogue, update checks)', () => {
    expect(outside).to.deep.equal([]);
  });
});
