/** ipam-allocate: find and allocate available addresses, add, update, get and list them, and release them. */
import type { Node, NodeAPI } from 'node-red';
import { setUpOperationNode, type OperationNodeDef } from './common';

export = function register(RED: NodeAPI): void {
  function IpamAllocate(this: Node, config: OperationNodeDef): void {
    RED.nodes.createNode(this, config);
    setUpOperationNode(RED, this, config, (ipam, operation, msg) => ipam.perform('address', operation, msg.payload));
  }
  RED.nodes.registerType('ipam-allocate', IpamAllocate);
};
