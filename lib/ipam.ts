/**
 * The core's front door: one Ipam per open store. Nodes call `perform(entity, operation, payload)`;
 * everything else is reachable as plain functions for flows, tests and benchmarks.
 */
import { addAddress, getAddress, updateAddress, addBlock, deleteBlock, getBlock, listBlocks, updateBlock, reconcile, migrateCounters, migrateRequests, addRange, deleteRange, getRange, listRanges, updateRange, releaseDeadHolders, recoverStructural, fillMissingCovers, blockUtilization, rangeUtilization, type StructuralOutcome } from './space';
import { allocate, findAvailable, release, confirm, allocateSubnet, prepareAllocation } from './allocation';
import { IpamError, invalid } from './errors';
import { toStoreFilter, asOperation, readHistory, withSource, withoutHistory, type Context, type HistorySource } from './record';
import { recoverImports, runCsv, type CsvRequest } from './csv';
import { checkExpiry, listInventory, groupUtilization } from './lifecycle';
import type { AvailabilityChecks } from './address';
import { openStore, type StoreConfig, type Store } from './store';
import { SYNC_OPERATIONS, type SyncRequest } from './sync';

export type Operation = (ctx: Context, payload: unknown) => Promise<unknown>;
export type NodeKind = 'block' | 'range' | 'address' | 'expiry' | 'import' | 'sync';

/** Every operation of every node, by node kind: the single dispatch table nodes go through. */
const OPERATIONS: Record<NodeKind, Record<string, Operation>> = {
  block: {
    add: addBlock,
    update: (ctx, payload) => updateBlock(ctx, payload, payload),
    get: getBlock,
    list: (ctx, payload) => listBlocks(ctx, toStoreFilter('blocks', payload)),
    delete: deleteBlock,
    utilization: blockUtilization,
    history: (ctx, payload) => readHistory(ctx, 'block', payload),
  },
  range: {
    add: (ctx, payload) => addRange(ctx, payload),
    update: (ctx, payload) => updateRange(ctx, payload, payload),
    get: getRange,
    list: (ctx, payload) => listRanges(ctx, toStoreFilter('ranges', payload)),
    delete: deleteRange,
    utilization: rangeUtilization,
    reconcile: reconcile,
    'allocate-subnet': allocateSubnet,
    'group-utilization': groupUtilization,
    history: (ctx, payload) => readHistory(ctx, 'range', payload),
  },
  address: {
    allocate,
    find: findAvailable,
    add: addAddress,
    update: (ctx, payload) => updateAddress(ctx, payload, payload),
    get: getAddress,
    list: listInventory,
    release,
    confirm,
    history: (ctx, payload) => readHistory(ctx, 'address', payload),
  },
  expiry: {
    check: checkExpiry,
  },
  /** Payload: a SyncRequest (lib/sync/result.ts); result: a SyncResult. */
  sync: Object.fromEntries(
    Object.entries(SYNC_OPERATIONS).map(([name, run]) => [name, (ctx: Context, payload: unknown) => run(ctx, payload as SyncRequest)]),
  ),
  /** Payload: a CsvRequest (lib/csv); result: a CsvOutcome `{payload, errorReport?}`. */
  import: {
    import: (ctx, payload) => runCsv(ctx, 'import', payload as CsvRequest),
    'import-and-update': (ctx, payload) => runCsv(ctx, 'import-and-update', payload as CsvRequest),
    export: (ctx, payload) => runCsv(ctx, 'export', payload as CsvRequest),
  },
};

export function operationsOf(kind: NodeKind): string[] {
  return Object.keys(OPERATIONS[kind]);
}

/** What the recovery pass of `Ipam.open` finished (or left for later) of changes a dead process interrupted. */
export interface Recovery {
  structural: StructuralOutcome[];
  imports: Awaited<ReturnType<typeof recoverImports>>;
}

export class Ipam implements Context {
  /** Ping/PTR availability checks (lib/address/probes.ts normaliseChecks); unset = both off. */
  checks?: AvailabilityChecks;
  /** Days before expiryDate at which an address becomes Expiry Due; unset = 10. */
  expiryThresholdDays?: number;
  /** Days of history kept (ipam-config); unset = unlimited. Pruned by each ipam-expiry run. */
  historyRetentionDays?: number;

  /** Set by `open`: the recovery pass's outcomes, for the config node to log. */
  recovery: Recovery = { structural: [], imports: [] };

  private constructor(readonly store: Store) {}

  static async open(config: StoreConfig): Promise<Ipam> {
    const store = await openStore(config);
    const ipam = new Ipam(store);
    try {
      await migrateRequests(ipam);
      await migrateCounters(ipam);
      await fillMissingCovers(ipam);
      ipam.recovery = await recoverInterrupted(ipam);
      prepareAllocation(store);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return ipam;
  }

  static over(store: Store): Ipam {
    return new Ipam(store);
  }

  async perform(kind: NodeKind, operation: unknown, payload: unknown): Promise<unknown> {
    const table = OPERATIONS[kind];
    const run = typeof operation === 'string' && Object.hasOwn(table, operation) ? table[operation] : undefined;
    if (!run) {
      throw invalid('operation', operation, `must be one of ${operationsOf(kind).join(', ')}`);
    }
    // History entries of this call name its operation (the caller's source, if any, stays).
    return run(asOperation(this, kind === 'sync' ? 'sync' : (operation as string)), payload ?? {});
  }

  /** This ipam as `source` calls it: the history entries of its changes name the node, flow and request. */
  withSource(source: HistorySource, operation?: string): Ipam {
    return withSource(this, source, operation);
  }

  /** Benchmarks only: this ipam writing no history (except the entries that end holds). */
  withoutHistory(): Ipam {
    return withoutHistory(this);
  }

  /** Finishes import-and-update runs a dead process left half applied (lib/csv/update.ts); `open` already does. */
  recoverImports(): ReturnType<typeof recoverImports> {
    return recoverImports(this);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/**
 * The recovery pass: structural changes first (an import-and-update step may have died inside one), then
 * import-and-update runs, which replay their remaining steps through the same structural changes.
 */
async function recoverInterrupted(ctx: Context): Promise<Recovery> {
  await releaseDeadHolders(ctx.store);
  const structural = await recoverStructural(ctx);
  const imports = await recoverImports(ctx);
  return { structural, imports };
}

export { IpamError };
