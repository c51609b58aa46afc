/** ipam-range: add, update, get, list, delete ranges, utilization, and the range-level operations. */
import type { Node, NodeAPI } from 'node-red';
import { setUpOperationNode, type OperationNodeDef } from './common';

export = function register(RED: NodeAPI): void {
  function IpamRange(this: Node, config: OperationNodeDef): void {
    RED.nodes.createNode(this, config);
    setUpOperationNode(RED, this, config, (ipam, operation, msg) => ipam.perform('range', operation, msg.payload));
  }
  RED.nodes.registerType('ipam-range', IpamRange);
};
