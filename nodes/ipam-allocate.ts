/** ipam-allocate: find and allocate available addresses, add, update, get and list them, and release them. */
import type { Node, NodeAPI } from 'node-red';
import { release } from '../lib/allocation';
import { setUpOperationNode, type OperationNodeDef } from './common';

const PROGRESS_EVERY_MS = 500;

export = function register(RED: NodeAPI): void {
  function IpamAllocate(this: Node, config: OperationNodeDef): void {
    RED.nodes.createNode(this, config);
    setUpOperationNode(RED, this, config, (ipam, operation, msg, node) => {
      if (operation !== 'release') return ipam.perform('address', operation, msg.payload);
      // A release of a large range runs in batches: show how far it got.
      let shown = Date.now();
      return release(ipam, msg.payload ?? {}, {
        onProgress: (released) => {
          if (Date.now() - shown < PROGRESS_EVERY_MS) return;
          shown = Date.now();
          node.status({ fill: 'blue', shape: 'dot', text: `release: ${released} released` });
        },
      });
    });
  }
  RED.nodes.registerType('ipam-allocate', IpamAllocate);
};
