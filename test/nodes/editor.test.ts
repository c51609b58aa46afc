/**
 * The editor as a person uses it, in headless Chromium (Debian's, driven by playwright-core): every node's
 * dialog offers exactly the operations the core runs, with readable labels, and the ipam-config dialog's
 * custom field and range group lists save what was typed.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { operationsOf, type NodeKind } from '../../lib/ipam';
import { startNodeRed, type RunningNodeRed } from '../support/node-red-process';

const CHROMIUM = '/usr/bin/chromium';
const KINDS: Record<string, NodeKind> = {
  'ipam-block': 'block',
  'ipam-range': 'range',
  'ipam-allocate': 'address',
  'ipam-import': 'import',
  'ipam-sync': 'sync',
};

describe('editor (headless Chromium)', function () {
  this.timeout(90000);
  let red: RunningNodeRed;
  let browser: Browser;
  let page: Page;

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
    await page.goto(`${red.base}/`);
    await page.waitForSelector('.red-ui-palette-node', { timeout: 30000 });
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
});
