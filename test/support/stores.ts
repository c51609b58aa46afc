/**
 * The stores a contract test runs against: always the embedded adapter (in memory and file-backed);
 * MongoDB when IPAM_TEST_MONGODB_URI is set or mongodb-memory-server finds a binary (MONGOMS_SYSTEM_BINARY).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { openStore, openMongoStore, type Store } from '../../lib/store';
import { fakeClientFactory, fakeDeployment } from './fake-mongo';

export interface StoreFactory {
  name: string;
  /** Opens a fresh, empty store. */
  open(): Promise<Store>;
  /** Stops what `open` started (a mongod), once after all tests. */
  shutdown?(): Promise<void>;
}

export function tempDir(prefix = 'flowipam-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const embeddedMemory: StoreFactory = { name: 'embedded (memory)', open: () => openStore({ kind: 'embedded' }) };

export const embeddedFile: StoreFactory = {
  name: 'embedded (file)',
  open: () => openStore({ kind: 'embedded', directory: tempDir() }),
};

/**
 * The MongoDB adapter over a fake driver (test/support/fake-mongo.ts: mingo's MongoDB query semantics, one
 * in-memory deployment per store). It runs everywhere, so MongoDB semantics (null matches missing, partial
 * indexes, transactions) are exercised by every contract test even where no mongod exists.
 */
export const mongodbFake: StoreFactory = {
  name: 'mongodb (fake driver)',
  open: () => openMongoStore({ uri: 'mongodb://127.0.0.1:27017', database: 'test', createClient: fakeClientFactory(fakeDeployment()) }),
};

let mongoServer: { getUri(): string; stop(): Promise<unknown> } | undefined;

/** A running mongod (IPAM_TEST_MONGODB_URI), or a one-member replica set started from MONGOMS_SYSTEM_BINARY. */
export async function mongoUri(): Promise<string> {
  if (process.env.IPAM_TEST_MONGODB_URI) return process.env.IPAM_TEST_MONGODB_URI;
  if (!mongoServer) {
    const { MongoMemoryReplSet } = await import('mongodb-memory-server-core');
    mongoServer = await MongoMemoryReplSet.create({
      binary: { systemBinary: process.env.MONGOMS_SYSTEM_BINARY },
      replSet: { count: 1, storageEngine: 'wiredTiger' },
    });
  }
  return mongoServer.getUri();
}

/** In a suite's or test's title: the root hook (test/support/mongo-hooks.ts) skips it when no server exists. */
export const NEEDS_MONGOD = '(mongod)';

export const mongodb: StoreFactory = {
  name: `mongodb ${NEEDS_MONGOD}`,
  open: async () => openStore({ kind: 'mongodb', uri: await mongoUri(), database: `flowipam_test_${randomUUID().slice(0, 8)}` }),
  shutdown: async () => {
    await mongoServer?.stop();
    mongoServer = undefined;
  },
};

/** Why tests that need a mongod are skipped here, or undefined when they run. */
export function mongoSkipReason(): string | undefined {
  if (process.env.IPAM_TEST_MONGODB_URI || process.env.MONGOMS_SYSTEM_BINARY) return undefined;
  return 'no MongoDB server: set MONGOMS_SYSTEM_BINARY (a mongod binary; a replica set is started) or IPAM_TEST_MONGODB_URI (a running one)';
}

/**
 * Every store factory. The real MongoDB one is always listed, so its tests are reported as skipped (with
 * the reason) where no server exists, never silently absent.
 */
export function availableStores(): StoreFactory[] {
  return [embeddedMemory, embeddedFile, mongodbFake, mongodb];
}
