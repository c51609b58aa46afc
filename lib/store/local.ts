/**
 * What this process keeps in memory about one open store: in-flight claims, allocation hints, lock
 * queues, the owner of its import and structural journals. It hangs off the store instance, so two ipam-config nodes
 * on different stores that both use the address space `Default` share none of it, and it goes when the
 * store does. Handles on one underlying store (lib/store/index.ts shares an embedded directory) share it.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from './port';

export interface StoreLocal {
  /** lib/allocation/claims.ts: address keys being probed or claimed, each with a promise settled when it ends. */
  readonly claiming: Map<string, Promise<void>>;
  /** lib/allocation/claims.ts: settles the matching `claiming` promise. */
  readonly releasers: Map<string, () => void>;
  /**
   * lib/allocation/claims.ts: per range id, this process's allocations in progress, each with the lowest address
   * let go unwritten since it began: its hint must not move past that one.
   */
  readonly allocating: Map<string, Set<{ letGo?: bigint }>>;
  /** lib/allocation/hint.ts: per range id (at most KEPT_HINTS), this process's own free-address hint. */
  readonly localHints: Map<string, { version: number; value: bigint; moves: number }>;
  /** lib/allocation/search.ts: per range id (at most KEPT_HINTS), the width of the span the last gap search found a gap in. */
  readonly gapSpans: Map<string, bigint>;
  /** lib/allocation/search.ts: per range id, free addresses an allocation's key read found, for the next allocations. */
  readonly knownFree: Map<string, { hintVersion: number; updatedAt: string; lo: bigint; hi: bigint; free: bigint[] }>;
  /** lib/allocation/search.ts: per range id, until when (ms) its free addresses are not kept, after a collision. */
  readonly keepPaused: Map<string, number>;
  /** Keys of the addresses this process inserted or moved last (RECENT_WRITES; `noteWritten`), and how many in all. */
  readonly recentWrites: { keys: string[]; total: number };
  /** lib/space/mapping.ts: per range id, where its addresses map, valid for one structure version of its space. */
  readonly rangePlans: Map<string, { version: number; updatedAt: string; plan: unknown }>;
  /** lib/space/lock.ts: per lock name, the tail of this process's waiters. */
  readonly lockQueues: Map<string, Promise<unknown>>;
  /** lib/csv/update.ts: identifies this process as the owner of the journals it applies to this store. */
  readonly importOwner: string;
  /** lib/csv/update.ts: ids of the journals this process is applying now. */
  readonly activeImports: Set<string>;
  /** lib/csv/update.ts: the pending retry of import recovery, if any. */
  importRetry?: NodeJS.Timeout;
  /** lib/space/structural.ts: identifies this process as the owner of the structural entries it writes to this store. */
  readonly structuralOwner: string;
  /** lib/space/structural.ts: ids of the structural entries this process is applying now. */
  readonly activeStructural: Set<string>;
  /** lib/space/structural.ts: the pending retry of structural recovery, if any. */
  structuralRetry?: NodeJS.Timeout;
}

const states = new WeakMap<Store, StoreLocal>();
const underlying = new WeakMap<Store, Store>();

export function localState(store: Store): StoreLocal {
  const owner = underlying.get(store) ?? store;
  let state = states.get(owner);
  if (!state) {
    state = {
      claiming: new Map(),
      releasers: new Map(),
      allocating: new Map(),
      localHints: new Map(),
      gapSpans: new Map(),
      knownFree: new Map(),
      keepPaused: new Map(),
      recentWrites: { keys: [], total: 0 },
      rangePlans: new Map(),
      lockQueues: new Map(),
      importOwner: randomUUID(),
      activeImports: new Set(),
      structuralOwner: randomUUID(),
      activeStructural: new Set(),
    };
    states.set(owner, state);
  }
  return state;
}

/**
 * Runs `run` once after `delayMs` unless a retry of that kind is already pending for the store: a recovery that
 * deferred a journal entry (its owner looked alive) tries again later, once per store however often it deferred.
 */
export function retryLater(store: Store, kind: 'importRetry' | 'structuralRetry', delayMs: number, run: () => Promise<unknown>): void {
  const local = localState(store);
  if (local[kind]) return;
  const timer = setTimeout(() => {
    local[kind] = undefined;
    void run().catch(() => undefined);
  }, delayMs);
  timer.unref();
  local[kind] = timer;
}

/** Makes `handle` (a wrapper of `store`) share the state of the store it wraps. */
export function shareLocalState(handle: Store, store: Store): void {
  underlying.set(handle, underlying.get(store) ?? store);
}

/**
 * Sets `key` in a per-range map of this process's state, as its newest entry: past `limit` entries the oldest
 * goes, so a long-running process that allocates from ever more ranges (or from ranges since deleted) keeps a
 * bounded amount. Every such map is only a shortcut: a range without its entry is read from the store again.
 */
export function keepBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  if (map.size >= limit) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

/** Ranges whose hint and gap span a process keeps, per store (a few dozen bytes each). */
export const KEPT_HINTS = 4096;

/** How many of the address keys this process wrote last `noteWritten` remembers. */
export const RECENT_WRITES = 1024;

/**
 * Remembers address keys this process has just written (inserted, or moved an address to): lib/allocation/search.ts
 * keeps them off the free addresses it keeps, and takes a collision on one for its own, not another process's.
 */
export function noteWritten(store: Store, keys: string[]): void {
  const { recentWrites } = localState(store);
  for (const key of keys) recentWrites.keys.push(key);
  recentWrites.total += keys.length;
  if (recentWrites.keys.length > RECENT_WRITES) recentWrites.keys.splice(0, recentWrites.keys.length - RECENT_WRITES);
}
