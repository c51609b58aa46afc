/**
 * Wiring shared by the operation nodes: find the config node's Ipam, run one core call per message,
 * show status, send or done(err). No business rule lives here.
 */
import type { EventEmitter } from 'node:events';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { IpamError, isErrorCode, type ErrorCode } from '../lib/errors';
import type { HistorySource } from '../lib/record';
import type { Ipam } from '../lib/ipam';

export type StoreState =
  | { state: 'connecting' }
  | { state: 'connected'; kind: string; mode?: string }
  | { state: 'reconnecting'; message: string; attempt: number; retryInMs: number }
  | { state: 'failed'; message: string };

/** What an operation node needs from `ipam-config`. */
export interface IpamConfigNode extends Node {
  ipam(): Promise<Ipam>;
  storeState: StoreState;
  storeEvents: EventEmitter;
}

/** A dialog field as saved by a TypedInput: the value and its type (msg, flow, global, env, str, num, json, bool). */
export interface FieldSetting {
  value: string;
  type: string;
}

export interface OperationNodeDef extends NodeDef {
  server: string;
  operation: string;
  /** The configured operation's fields, by payload field name; absent in flows saved before dialogs had fields. */
  fields?: Record<string, FieldSetting>;
}

export type Message = NodeMessageInFlow & Record<string, unknown>;

/** Runs a message through the core; `call` is the node's one call into lib/. */
export type CoreCall = (ipam: Ipam, operation: string, msg: Message, node: Node) => Promise<unknown>;

/** Short text for the status line after an operation. */
export function describeResult(operation: string, result: unknown): string {
  if (Array.isArray(result)) return `${operation}: ${result.length}`;
  if (result && typeof result === 'object') {
    const record = result as Record<string, unknown>;
    if (typeof record.rows === 'number') {
      return `${operation}: ${record.rows} rows, ${Number(record.created ?? 0) + Number(record.updated ?? 0)} written, ${record.failed ?? 0} failed`;
    }
    const label = record.network ?? record.address ?? record.utilizedPercent;
    if (label !== undefined) return `${operation}: ${String(label)}${record.utilizedPercent !== undefined ? '%' : ''}`;
  }
  return `${operation}: done`;
}

/** Who writes, for history entries: this node, its flow, and the message's requestId and file if any. */
export function sourceOf(node: Node, msg: Message): HistorySource {
  const payload = (msg.payload && typeof msg.payload === 'object' && !Array.isArray(msg.payload) ? msg.payload : {}) as Record<string, unknown>;
  return {
    nodeId: node.id,
    nodeName: node.name || undefined,
    flowId: (node as Node & { z?: string }).z,
    requestId: typeof payload.requestId === 'string' ? payload.requestId : undefined,
    importFile: typeof msg.filename === 'string' ? msg.filename : undefined,
  };
}

/**
 * Sets up an operation node: `msg.operation` overrides the configured operation; the result replaces
 * `msg.payload`; failures go to `done(err)` with `err.code` so a Catch node sees `msg.error.code`.
 */
export function setUpOperationNode(RED: NodeAPI, node: Node, config: OperationNodeDef, call: CoreCall): void {
  const server = requireServer(RED, node, config);
  if (!server) return;
  followStore(RED, node, server);
  node.on('input', (msg, send, done) => {
    const message = msg as Message;
    const operation = typeof message.operation === 'string' && message.operation ? message.operation : config.operation;
    node.status({ fill: 'blue', shape: 'dot', text: statusText(RED, 'running', { operation }) });
    // The dialog's fields belong to the configured operation: another one chosen by msg.operation ignores them.
    const fields = operation === config.operation ? evaluateFields(RED, node, config.fields, message) : Promise.resolve(new Map());
    Promise.all([server.ipam(), fields])
      .then(([ipam, values]) => {
        // The call may set other msg properties (ipam-import's errorReport), so it gets this msg itself.
        message.payload = mergeFields(values, message.payload);
        // A call made without `perform` (release in batches) names its operation through the source too.
        return call(ipam.withSource(sourceOf(node, message), operation), operation, message, node);
      })
      .then((result) => {
        message.payload = result;
        node.status({ fill: 'green', shape: 'dot', text: describeResult(operation, result) });
        send(message);
        done();
      })
      .catch((err: unknown) => {
        const failure = contractError(err, node);
        node.status({ fill: 'red', shape: 'ring', text: `${failure.code}: ${operation}` });
        done(failure);
      });
  });
}

/**
 * The one precedence rule of dialog fields and `msg.payload`: an object payload overrides the configured fields
 * field by field (a field it does not name keeps the dialog's value); a payload that is not an object (an inject
 * node's timestamp, a string) gives way to the fields when any are set. Without fields the payload is used as is.
 */
export function mergeFields(configured: ReadonlyMap<string, unknown>, payload: unknown): unknown {
  if (configured.size === 0) return payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return Object.fromEntries(configured);
  // fromEntries defines own properties, so a field named __proto__ stays data.
  return Object.fromEntries([...configured, ...Object.entries(payload).filter(([, value]) => value !== undefined)]);
}

/**
 * The dialog's TypedInput fields evaluated for one message (Node-RED's evaluateNodeProperty: msg, flow, global,
 * env, str, num, json, bool). An empty text or a property that is not set leaves the field out.
 */
export async function evaluateFields(
  RED: NodeAPI,
  node: Node,
  fields: Record<string, FieldSetting> | undefined,
  msg: Message,
): Promise<Map<string, unknown>> {
  const values = new Map<string, unknown>();
  for (const [name, setting] of Object.entries(fields ?? {})) {
    if (!setting || typeof setting.type !== 'string' || setting.value === undefined || setting.value === '') continue;
    const failed = (err: Error) => codedError('VALIDATION', `${name} (${setting.type} ${JSON.stringify(setting.value)}): ${err.message}`);
    const value = await new Promise<unknown>((resolve, reject) => {
      try {
        RED.util.evaluateNodeProperty(setting.value, setting.type, node, msg, (err: Error | null, result: unknown) =>
          err ? reject(failed(err)) : resolve(result),
        );
      } catch (err) {
        reject(failed(err as Error)); // a json field that does not parse throws here
      }
    });
    if (value !== undefined) values.set(name, value);
  }
  return values;
}

/**
 * The node's ipam-config; without one the node says so in its status and fails every message with
 * VALIDATION (returns null, and the caller sets nothing else up).
 */
export function requireServer(RED: NodeAPI, node: Node, config: { server: string }): IpamConfigNode | null {
  const server = RED.nodes.getNode(config.server) as IpamConfigNode | null;
  if (!server) {
    node.status({ fill: 'red', shape: 'ring', text: statusText(RED, 'noConfig') });
    node.on('input', (_msg, _send, done) => done(codedError('VALIDATION', 'select an ipam-config node')));
  }
  return server;
}

/** Mirrors the config node's store state in this node's status until the first message. */
function followStore(RED: NodeAPI, node: Node, server: IpamConfigNode): void {
  const show = (state: StoreState): void => {
    if (state.state === 'connecting') node.status({ fill: 'yellow', shape: 'ring', text: statusText(RED, 'connecting') });
    else if (state.state === 'connected') {
      const text = state.mode ? statusText(RED, 'readyMode', { kind: state.kind, mode: state.mode }) : statusText(RED, 'ready', { kind: state.kind });
      node.status({ fill: 'green', shape: 'ring', text });
    } else if (state.state === 'reconnecting') {
      const values = { attempt: String(state.attempt), seconds: String(Math.round(state.retryInMs / 1000)), reason: state.message };
      node.status({ fill: 'yellow', shape: 'ring', text: statusText(RED, 'reconnecting', values).slice(0, 80) });
    } else node.status({ fill: 'red', shape: 'ring', text: statusText(RED, 'unavailable', { reason: state.message }).slice(0, 80) });
  };
  show(server.storeState);
  server.storeEvents.on('state', show);
  node.on('close', () => server.storeEvents.off('state', show));
}

/** A status text shared by every node, from ipam-config's message catalog (locales/<lang>/ipam-config.json). */
export function statusText(RED: NodeAPI, key: string, values: Record<string, string> = {}): string {
  return RED._(`@flowipam/node-red-ipam/ipam-config:ipam-config.status.${key}`, values);
}

export function codedError(code: ErrorCode, message: string): IpamError {
  return new IpamError(code, message);
}

/**
 * What a node hands to `done(err)`: the core's IpamError as it is; anything else (a fault the core did
 * not turn into a contract error) keeps its message under VALIDATION, and its stack goes to the log.
 */
export function contractError(err: unknown, node: Node): IpamError {
  if (err instanceof IpamError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (!isErrorCode(code)) node.warn(`unexpected failure: ${err instanceof Error ? err.stack ?? message : message}`);
  return new IpamError(isErrorCode(code) ? code : 'VALIDATION', message);
}
