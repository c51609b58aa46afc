/**
 * A named lock shared by every process on one store: a document in `locks` whose `name` is unique.
 * Structural changes (blocks, ranges) of one address space take it, so overlap checks and re-mapping
 * never interleave. Address allocation does not: the unique address key decides there.
 */
import { randomUUID } from 'node:crypto';
import { IpamError, isIpamError } from './errors';
import type { Store } from './store/port';

interface LockDoc {
  id: string;
  name: string;
  expiresAt: number;
  [field: string]: unknown;
}

export interface LockOptions {
  /** A holder that dies keeps the lock this long at most. */
  ttlMs?: number;
  /** How long to wait for another holder before giving up with CONFLICT. */
  waitMs?: number;
}

/** In-process queue per lock name, so waiters in one process line up instead of polling the store. */
const localQueues = new Map<string, Promise<unknown>>();

export async function withLock<T>(store: Store, name: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const previous = localQueues.get(name) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withStoreLock(store, name, work, options));
  const tail = run.catch(() => undefined);
  localQueues.set(name, tail);
  void tail.then(() => {
    if (localQueues.get(name) === tail) localQueues.delete(name);
  });
  return run;
}

async function withStoreLock<T>(store: Store, name: string, work: () => Promise<T>, options: LockOptions): Promise<T> {
  const locks = store.collection<LockDoc>('locks');
  const ttlMs = options.ttlMs ?? 60_000;
  const deadline = Date.now() + (options.waitMs ?? 20_000);
  const id = randomUUID();
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      await locks.insertOne({ id, name, expiresAt: Date.now() + ttlMs });
      break;
    } catch (err) {
      if (!isIpamError(err, 'DUPLICATE')) throw err;
      await locks.deleteOne({ name, expiresAt: { $lt: Date.now() } });
      if (Date.now() > deadline) {
        throw new IpamError('CONFLICT', `address space is busy: lock ${JSON.stringify(name)} held by another writer`);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  // Long structural changes keep the lock: it is pushed forward while the work runs, so it only lapses
  // when its holder has died.
  const renewal = setInterval(() => {
    locks.updateOne({ id }, { $set: { expiresAt: Date.now() + ttlMs } }).catch(() => undefined);
  }, Math.max(ttlMs / 3, 10));
  try {
    return await work();
  } finally {
    clearInterval(renewal);
    await locks.deleteOne({ id });
  }
}
