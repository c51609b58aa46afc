/** node-red-node-test-helper set-up shared by the node tests. */
import fs from 'node:fs';
import path from 'node:path';
import helper, { type TestFlows } from 'node-red-node-test-helper';
import { tempDir } from './stores';

helper.init(require.resolve('node-red'));

export { helper };

/** Node-RED's own Catch node, so tests can see what a flow author's Catch node would get. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const catchNode = require('@node-red/nodes/core/common/25-catch.js');

/** An embedded ipam-config in a fresh temporary directory. */
export function configNode(id = 'cfg'): { id: string; type: string; [field: string]: unknown } {
  return { id, type: 'ipam-config', name: 'test store', store: 'embedded', directory: tempDir() };
}

/** Sends a message and resolves with the next message a helper node receives. */
export function nextMessage(nodeId: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => helper.getNode(nodeId).once('input', resolve));
}

/**
 * Puts nodes on one tab the way the editor saves them (`z`, `x`, `y`): without a position Node-RED
 * takes a node for a config node. Config nodes (`ipam-config`) are left as they are.
 */
export function onTab(nodes: Record<string, unknown>[]): TestFlows {
  const placed = nodes.map((node) => (node.type === 'ipam-config' ? node : { z: 'flow', x: 100, y: 100, ...node }));
  return [{ id: 'flow', type: 'tab' }, ...placed] as TestFlows;
}

/**
 * The helper's `RED._` returns the key as it is; `withCatalogs` gives node modules one that reads this package's
 * en-US message catalogs (nodes/locales/en-US/<node>.json) with Node-RED's `__name__` interpolation, so status
 * texts made with statusText can be asserted as a user sees them.
 */
export function withCatalogs<T extends (RED: never) => unknown>(module: T): T {
  const wrapped = (RED: { _: unknown }) => {
    RED._ = translate;
    return module(RED as never);
  };
  return wrapped as unknown as T;
}

function translate(key: string, values: Record<string, unknown> = {}): string {
  const [namespace, dotted] = key.includes(':') ? key.split(':', 2) : ['', key];
  const file = path.resolve(__dirname, '..', '..', 'nodes', 'locales', 'en-US', `${path.basename(namespace)}.json`);
  const catalog: unknown = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const text = dotted.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), catalog);
  if (typeof text !== 'string') return key;
  return text.replace(/__([A-Za-z0-9_]+?)__/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
