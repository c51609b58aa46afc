/** ipam-block: add, update, get, list, delete blocks and report their utilization. */
import type { Node, NodeAPI } from 'node-red';
import { setUpOperationNode, type OperationNodeDef } from './common';

export = function register(RED: NodeAPI): void {
  function IpamBlock(this: Node, config: OperationNodeDef): void {
    RED.nodes.createNode(this, config);
    setUpOperationNode(RED, this, config, (ipam, operation, msg) => ipam.perform('block', operation, msg.payload));
  }
  RED.nodes.registerType('ipam-block', IpamBlock);
};
