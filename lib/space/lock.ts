/**
 * A named lock shared by every process on one store: a document in `locks` whose `name` is unique.
 * Structural changes (blocks, ranges) of one address space take it, so overlap checks and re-mapping
 * never interleave. Address allocation does not: the unique address key decides there.
 *
 * Expiry is on the store's clock (`store.now()`: on MongoDB the server's), never this process's, so a
 * process with a fast clock cannot take a live holder's lock. Every write to the lock document names the
 * holder's token (`id`): renewal learns when the lock was taken over, and the holder's `lease` says so.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { IpamError, isIpamError } from '../errors';
import { localState, type Store } from '../store';

interface LockDoc {
  id: string;
  name: string;
  expiresAt: number;
  /** The holder's host and process, so a restart on an embedded store can tell a dead holder's lock. */
  host?: string;
  pid?: number;
  [field: string]: unknown;
}

export interface LockOptions {
  /** A holder that dies keeps the lock this long at most. */
  ttlMs?: number;
  /** How long to wait for another holder before giving up with CONFLICT. */
  waitMs?: number;
}

/** What the work under a lock can ask about it. */
export interface Lease {
  /** The lock document's id (its holder's token): a structural journal names it, so recovery can tell a dead holder. */
  readonly id: string;
  /** True once the lock lapsed (renewals failed for a whole ttl) or another process took it over. */
  readonly lost: boolean;
  /** Throws CONFLICT when the lock is lost: call before a write that must not interleave with another holder. */
  check(): void;
}

/** Ids of the locks this process holds now (process-wide, like the pid the lock documents name). */
const heldHere = new Set<string>();

export async function withLock<T>(
  store: Store,
  name: string,
  work: (lease: Lease) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  // Waiters of this process on one store line up in a queue per lock name instead of polling the store.
  const localQueues = localState(store).lockQueues;
  const previous = localQueues.get(name) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withStoreLock(store, name, work, options));
  const tail = run.catch(() => undefined);
  localQueues.set(name, tail);
  void tail.then(() => {
    if (localQueues.get(name) === tail) localQueues.delete(name);
  });
  return run;
}

async function withStoreLock<T>(store: Store, name: string, work: (lease: Lease) => Promise<T>, options: LockOptions): Promise<T> {
  const locks = store.collection<LockDoc>('locks');
  const ttlMs = options.ttlMs ?? 60_000;
  const id = await acquire(store, name, ttlMs, options.waitMs ?? 20_000);
  heldHere.add(id);
  const lease = new StoreLease(name, id);
  // Long structural changes keep the lock: it is pushed forward while the work runs, so it only lapses
  // when its holder has died (or cannot reach the store for a whole ttl).
  let renewedAt = performance.now();
  const renewal = setInterval(() => {
    void renew(store, id, ttlMs).then(
      (held) => {
        if (held) renewedAt = performance.now();
        else lease.lose('taken over by another writer');
      },
      () => {
        if (performance.now() - renewedAt > ttlMs) lease.lose('not renewed for its whole ttl');
      },
    );
  }, Math.max(ttlMs / 3, 10));
  try {
    return await work(lease);
  } finally {
    clearInterval(renewal);
    heldHere.delete(id);
    // The work's outcome stands either way: a lock that cannot be deleted now expires by its ttl.
    await locks.deleteOne({ id }).catch(() => undefined);
  }
}

async function acquire(store: Store, name: string, ttlMs: number, waitMs: number): Promise<string> {
  const locks = store.collection<LockDoc>('locks');
  const giveUpAt = performance.now() + waitMs;
  const id = randomUUID();
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      await locks.insertOne({ id, name, expiresAt: (await store.now()) + ttlMs, host: os.hostname(), pid: process.pid });
      return id;
    } catch (err) {
      if (!isIpamError(err, 'DUPLICATE')) throw err;
      await locks.deleteOne({ name, expiresAt: { $lt: await store.now() } });
      if (performance.now() > giveUpAt) {
        throw new IpamError('CONFLICT', `address space is busy: lock ${JSON.stringify(name)} held by another writer`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Deletes the locks of holders that have died on this host (embedded store only: its file is local, so every
 * holder runs on this host; on MongoDB another host may reuse the name and pid). Run by the recovery pass of
 * `Ipam.open`, so a restart after `kill -9` does not wait for the dead holder's lock to expire.
 */
export async function releaseDeadHolders(store: Store): Promise<number> {
  if (store.kind !== 'embedded') return 0;
  const locks = store.collection<LockDoc>('locks');
  let released = 0;
  for (const lock of await locks.find({ host: os.hostname() })) {
    const dead = lock.pid === process.pid ? !heldHere.has(lock.id) : !processRuns(lock.pid);
    if (dead && (await locks.deleteOne({ id: lock.id }))) released++;
  }
  return released;
}

function processRuns(pid: number | undefined): boolean {
  if (typeof pid !== 'number') return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pushes the holder's expiry forward; false when its document is gone (expired and taken over). */
async function renew(store: Store, id: string, ttlMs: number): Promise<boolean> {
  const now = await store.now();
  return store.collection<LockDoc>('locks').updateOne({ id }, { $set: { expiresAt: now + ttlMs } });
}

class StoreLease implements Lease {
  private reason: string | undefined;

  constructor(
    private readonly name: string,
    readonly id: string,
  ) {}

  get lost(): boolean {
    return this.reason !== undefined;
  }

  lose(reason: string): void {
    this.reason ??= reason;
  }

  check(): void {
    if (this.reason !== undefined) {
      throw new IpamError('CONFLICT', `lock ${JSON.stringify(this.name)} was lost (${this.reason}); the change stopped`);
    }
  }
}
