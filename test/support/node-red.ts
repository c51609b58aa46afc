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

/** Sends `{payload, ...extra}` into node n1 and resolves with the next message the helper node `out` receives. */
export function sendToN1(payload: unknown, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const received = nextMessage('out');
  helper.getNode('n1').receive({ payload, ...extra });
  return received;
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

/** Starts the helper's Node-RED before each test of the suite; unloads the flow and stops it after each. */
export function useNodeRed(): void {
  beforeEach(startNodeRed);
  afterEach(stopNodeRed);
}

export function startNodeRed(): Promise<void> {
  return new Promise<void>((resolve) => helper.startServer(() => resolve()));
}

export async function stopNodeRed(): Promise<void> {
  await helper.unload();
  await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
}

/** A Catch node for every node of the flow, wired to the helper node `caught`; `at` places both. */
export function catchNodes(at: Record<string, unknown> = {}): Record<string, unknown>[] {
  return [
    { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', type: 'helper', ...at },
  ];
}

/**
 * Runs an example flow (examples/<file>) step by step as a person clicks its injects in order: injects and debugs
 * become helper nodes, the IPAM nodes are used as exported, on a fresh store. Resolves with each step's payload
 * (for an ipam-expiry step, which sends nothing when nothing expired, nothing is recorded) and what a Catch node got.
 */
export async function runExampleSteps(modules: unknown[], file: string): Promise<{ results: unknown[]; failures: unknown[] }> {
  const example = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'examples', file), 'utf8')) as Record<string, unknown>[];
  const config = example.find((n) => n.type === 'ipam-config') as Record<string, unknown>;
  Object.assign(config, { directory: configNode().directory });
  const nodes = example.map((n) => (n.type === 'inject' || n.type === 'debug' ? { ...n, type: 'helper' } : n));
  nodes.push(...catchNodes({ z: example[0].id, x: 100, y: 600 }));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  await helper.load(modules as any, nodes as any);
  const failures: unknown[] = [];
  (helper.getNode('caught') as unknown as NodeJS.EventEmitter).on('input', (msg: { error: unknown }) => failures.push(msg.error));
  const results: unknown[] = [];
  for (const inject of example.filter((n) => n.type === 'inject')) {
    const target = (inject.wires as string[][])[0][0];
    const targetNode = example.find((n) => n.id === target) as Record<string, unknown>;
    const payload = JSON.parse(inject.payload as string);
    if (targetNode.type === 'ipam-expiry') {
      // Nothing expired: the check sends no message; wait for its status instead.
      helper.getNode(target).receive({ payload });
      await new Promise((resolve) => setTimeout(resolve, 300));
      continue;
    }
    const debug = (targetNode.wires as string[][])[0][0];
    const received = new Promise<{ payload: unknown }>((resolve) => helper.getNode(debug).once('input', resolve));
    helper.getNode(target).receive({ payload });
    results.push((await received).payload);
  }
  return { results, failures };
}
