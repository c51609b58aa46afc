/**
 * The stores a contract test runs against: always the embedded adapter (in memory and file-backed);
 * MongoDB when IPAM_TEST_MONGODB_URI is set or mongodb-memory-server finds a binary (MONGOMS_SYSTEM_BINARY).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { openStore } from '../../lib/store';
import type { Store } from '../../lib/store/port';

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

let mongoServer: { getUri(): string; stop(): Promise<unknown> } | undefined;

async function mongoUri(): Promise<string> {
  if (process.env.IPAM_TEST_MONGODB_URI) return process.env.IPAM_TEST_MONGODB_URI;
  if (!mongoServer) {
    const { MongoMemoryReplSet } = await import('mongodb-memory-server-core');
    mongoServer = await MongoMemoryReplSet.create({
      binary: { systemBinary: process.env.MONGOMS_SYSTEM_BINARY },
      replSet: { count: 1 },
    });
  }
  return mongoServer.getUri();
}

export const mongodb: StoreFactory = {
  name: 'mongodb',
  open: async () => openStore({ kind: 'mongodb', uri: await mongoUri(), database: `flowipam_test_${randomUUID().slice(0, 8)}` }),
  shutdown: async () => {
    await mongoServer?.stop();
    mongoServer = undefined;
  },
};

/** Why MongoDB tests are skipped here, or undefined when they run. */
export function mongoSkipReason(): string | undefined {
  if (process.env.IPAM_TEST_MONGODB_URI || process.env.MONGOMS_SYSTEM_BINARY) return undefined;
  return 'MongoDB contract tests skipped: set IPAM_TEST_MONGODB_URI (a running mongod) or MONGOMS_SYSTEM_BINARY (a mongod binary)';
}

let announced = false;

/** Every store factory available here; prints once why MongoDB is left out. */
export function availableStores(): StoreFactory[] {
  const reason = mongoSkipReason();
  if (reason && !announced) {
    announced = true;
    console.log(`      (${reason})`);
  }
  return reason ? [embeddedMemory, embeddedFile] : [embeddedMemory, embeddedFile, mongodb];
}
