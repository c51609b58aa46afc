/**
 * The dialog's checks of static field values (resources/editor.js), run in a VM with the browser's URL parser
 * (Node's is the same WHATWG one): what the editor marks before deploy.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

type Check = (value: string) => boolean;
interface FlowIPAM {
  checks: Record<string, Check>;
  fieldValid(spec: { check?: string }, setting: { value: string; type: string }): boolean;
}

function loadEditor(): FlowIPAM {
  const window: { FlowIPAM?: FlowIPAM } = {};
  const source = fs.readFileSync(path.resolve(__dirname, '..', '..', 'resources', 'editor.js'), 'utf8');
  vm.runInNewContext(source, { window, URL, RED: {}, $: () => undefined });
  return window.FlowIPAM!;
}

describe('editor field checks (resources/editor.js)', () => {
  const { checks, fieldValid } = loadEditor();

  it('cidr: IPv4 and IPv6 networks with a prefix in bounds', () => {
    for (const ok of ['10.0.0.0/8', '0.0.0.0/0', '192.0.2.0/24', '2001:db8::/32', '::/0', 'fe80::/10', '::ffff:192.0.2.0/120']) expect(checks.cidr(ok), ok).to.equal(true);
    for (const bad of ['10.1.0.0/33', '10.1.0/24', '256.0.0.0/8', '10.0.0.0', '2001:db8::/129', '2001:db8:::/32', 'gggg::/16', '10.0.0.0/', '10.0.0.0/x']) expect(checks.cidr(bad), bad).to.equal(false);
  });

  it('address, count, mac and cidrOrId', () => {
    expect(checks.address('10.1.0.20')).to.equal(true);
    expect(checks.address('2001:db8::1')).to.equal(true);
    expect(checks.address('10.1.0.300')).to.equal(false);
    expect(['1', '1024'].map(checks.count)).to.deep.equal([true, true]);
    expect(['0', '1025', '2.5', '', 'x'].map(checks.count)).to.deep.equal([false, false, false, false, false]);
    expect(checks.mac('52:54:00:12:34:56')).to.equal(true);
    expect(checks.mac('52:54:00:12:34')).to.equal(false);
    expect(checks.cidrOrId('k3j4h5')).to.equal(true);
    expect(checks.cidrOrId('10.1.0.0/24')).to.equal(true);
    expect(checks.cidrOrId('10.1.0.0/40')).to.equal(false);
  });

  it('only static values are checked; empty means not set; json must parse', () => {
    expect(fieldValid({ check: 'cidr' }, { value: '10.1.0.0/33', type: 'str' })).to.equal(false);
    expect(fieldValid({ check: 'cidr' }, { value: 'payload.network', type: 'msg' })).to.equal(true);
    expect(fieldValid({ check: 'cidr' }, { value: '', type: 'str' })).to.equal(true);
    expect(fieldValid({ check: 'count' }, { value: '5000', type: 'num' })).to.equal(false);
    expect(fieldValid({}, { value: '{"a":', type: 'json' })).to.equal(false);
    expect(fieldValid({}, { value: '{"a": 1}', type: 'json' })).to.equal(true);
  });
});
