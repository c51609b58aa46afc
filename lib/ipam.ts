/**
 * The core's front door: one Ipam per open store. Nodes call `perform(entity, operation, payload)`;
 * everything else is reachable as plain functions for flows, tests and benchmarks.
 */
import { addAddress, getAddress, listAddresses, updateAddress } from './addresses';
import { addBlock, deleteBlock, getBlock, listBlocks, updateBlock } from './blocks';
import { IpamError, invalid } from './errors';
import { toStoreFilter } from './filters';
import { addRange, deleteRange, getRange, listRanges, updateRange } from './ranges';
import type { Context } from './space';
import { openStore, type StoreConfig } from './store';
import type { Store } from './store/port';
import { blockUtilization, rangeUtilization } from './utilization';

export type Operation = (ctx: Context, payload: unknown) => Promise<unknown>;
export type NodeKind = 'block' | 'range' | 'address';

/** Every operation of every node, by node kind: the single dispatch table nodes go through. */
const OPERATIONS: Record<NodeKind, Record<string, Operation>> = {
  block: {
    add: addBlock,
    update: (ctx, payload) => updateBlock(ctx, payload, payload),
    get: getBlock,
    list: (ctx, payload) => listBlocks(ctx, toStoreFilter('blocks', payload)),
    delete: deleteBlock,
    utilization: blockUtilization,
  },
  range: {
    add: (ctx, payload) => addRange(ctx, payload),
    update: (ctx, payload) => updateRange(ctx, payload, payload),
    get: getRange,
    list: (ctx, payload) => listRanges(ctx, toStoreFilter('ranges', payload)),
    delete: deleteRange,
    utilization: rangeUtilization,
  },
  address: {
    add: addAddress,
    update: (ctx, payload) => updateAddress(ctx, payload, payload),
    get: getAddress,
    list: (ctx, payload) => listAddresses(ctx, toStoreFilter('addresses', payload)),
  },
};

export function operationsOf(kind: NodeKind): string[] {
  return Object.keys(OPERATIONS[kind]);
}

export class Ipam implements Context {
  private constructor(readonly store: Store) {}

  static async open(config: StoreConfig): Promise<Ipam> {
    return new Ipam(await openStore(config));
  }

  static over(store: Store): Ipam {
    return new Ipam(store);
  }

  async perform(kind: NodeKind, operation: unknown, payload: unknown): Promise<unknown> {
    const run = typeof operation === 'string' ? OPERATIONS[kind][operation] : undefined;
    if (!run) {
      throw invalid('operation', operation, `must be one of ${operationsOf(kind).join(', ')}`);
    }
    return run(this, payload ?? {});
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

export { IpamError };
