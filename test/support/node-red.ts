/** node-red-node-test-helper set-up shared by the node tests. */
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
