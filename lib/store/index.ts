import path from 'node:path';
import { openEmbeddedStore } from './embedded';
import { openMongoStore, type MongoOptions } from './mongodb';
import { shareLocalState } from './local';
import type { Store } from './port';

export type StoreConfig =
  | { kind: 'embedded'; directory?: string }
  | ({ kind: 'mongodb' } & MongoOptions);

export type { Store } from './port';

interface Shared {
  store: Promise<Store>;
  users: number;
}

/** One open store per embedded directory in this process, shared by every config node that names it. */
const sharedEmbedded = new Map<string, Shared>();

/**
 * Opens a store. The returned handle's `close()` closes the underlying store when its last user closes it,
 * so several config nodes (or a redeploy overlapping the old and new node) can name the same directory.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.kind === 'mongodb') return openMongoStore(config);
  if (!config.directory) return openEmbeddedStore({});
  const directory = path.resolve(config.directory);
  let shared = sharedEmbedded.get(directory);
  if (!shared) {
    shared = { store: openEmbeddedStore({ directory }), users: 0 };
    sharedEmbedded.set(directory, shared);
    shared.store.catch(() => sharedEmbedded.delete(directory));
  }
  shared.users++;
  const store = await shared.store;
  return sharedHandle(store, directory, shared);
}

function sharedHandle(store: Store, directory: string, shared: Shared): Store {
  let closed = false;
  const handle: Store = {
    kind: store.kind,
    transactional: store.transactional,
    atomic: (writes, ifUndone, settle) => store.atomic(writes, ifUndone, settle),
    now: () => store.now(),
    prepare: (calls) => store.prepare?.(calls),
    collection: (name) => store.collection(name),
    async close() {
      if (closed) return;
      closed = true;
      shared.users--;
      if (shared.users > 0) return;
      sharedEmbedded.delete(directory);
      await store.close();
    },
  };
  shareLocalState(handle, store);
  return handle;
}

export { applyUpdate } from './apply-update';
export { openEmbeddedStore } from './embedded';
export { insertValid } from './insert-valid';
export { KEPT_HINTS, keepBounded, localState, noteWritten, retryLater } from './local';
export type { StoreLocal } from './local';
export { openMongoStore } from './mongodb';
export type { Collection, CollectionName, Comparison, Condition, Doc, Filter, FindOptions, PreparedCall, Scalar, Update, ValuesOptions, Write } from './port';
export { openWithRetry } from './reconnect';
export { INDEXES } from './schema';
