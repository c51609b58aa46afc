/**
 * The MongoDB adapter without a server: the driver is replaced by test/support/fake-mongo.ts (mingo
 * semantics, the driver's own error classes), so failure paths and the connection policy are checked here.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  MongoBulkWriteError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoWriteConcernError,
} from 'mongodb';
import { IpamError, redact } from '../../../lib/errors';
import { openMongoStore, refusePasswordInUri, type MongoStore } from '../../../lib/store/mongodb';
import type { Doc } from '../../../lib/store/port';
import { COLLECTIONS } from '../../../lib/store/schema';
import { failNext, fakeClientFactory, fakeDeployment, type FakeDeployment } from '../../support/fake-mongo';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BulkWriteResult } = require('mongodb/lib/bulk/common') as { BulkWriteResult: new (r: unknown, o: boolean) => never };

function open(deployment: FakeDeployment, extra: Record<string, unknown> = {}): Promise<MongoStore> {
  return openMongoStore({ uri: 'mongodb://127.0.0.1:27017', database: 'test', createClient: fakeClientFactory(deployment), ...extra });
}

function address(n: number, extra: Record<string, unknown> = {}): Doc {
  return { id: randomUUID(), key: `D|4|${n.toString(16).padStart(8, '0')}`, n, ...extra };
}

/** An empty bulk result, as the driver has it when a batch failed before the server answered. */
function emptyBulkResult(): never {
  return new BulkWriteResult(
    { ok: 1, writeErrors: [], writeConcernErrors: [], insertedIds: [], nInserted: 0, nUpserted: 0, nMatched: 0, nModified: 0, nRemoved: 0, upserted: [] },
    false,
  );
}

/** As the driver throws it: the reason is the topology description it gave up on. */
function selectionError(message: string): MongoServerSelectionError {
  return new MongoServerSelectionError(message, { type: 'ReplicaSetNoPrimary', servers: new Map(), error: undefined } as never);
}

async function failure(promise: Promise<unknown>): Promise<IpamError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected a rejection').to.be.instanceOf(IpamError);
  return err as IpamError;
}

describe('MongoDB adapter (fake driver)', () => {
  describe('insertMany', () => {
    it('a bulk failure with empty writeErrors (server selection lost) is STORE_UNAVAILABLE, not success', async () => {
      const deployment = fakeDeployment();
      const store = await open(deployment);
      // The driver wraps a driver-level error this way (lib/bulk/common.js executeCommands).
      const cause = selectionError('Server selection timed out after 30000 ms');
      failNext(deployment, 'insertMany', new MongoBulkWriteError(cause as never, emptyBulkResult()));
      const err = await failure(store.collection('addresses').insertMany([address(1), address(2)]));
      expect(err.code).to.equal('STORE_UNAVAILABLE');
      expect(err.message).to.contain('Server selection timed out');
    });

    it('a write-concern failure of a bulk insert is STORE_UNAVAILABLE', async () => {
      const deployment = fakeDeployment();
      const store = await open(deployment);
      failNext(deployment, 'insertMany', new MongoBulkWriteError({ message: 'waiting for replication timed out', code: 64 } as never, emptyBulkResult()));
      const err = await failure(store.collection('addresses').insertMany([address(1)]));
      expect(err.code).to.equal('STORE_UNAVAILABLE');
    });

    it('collisions are per-document DUPLICATE failures naming the field; the rest are inserted', async () => {
      const store = await open(fakeDeployment());
      const addresses = store.collection('addresses');
      await addresses.insertOne(address(2));
      const result = await addresses.insertMany([address(1), address(2), address(3)]);
      expect(result.inserted).to.equal(2);
      expect(result.failures.map((f) => f.index)).to.deep.equal([1]);
      expect((result.failures[0].error as IpamError).code).to.equal('DUPLICATE');
      expect((result.failures[0].error as IpamError).field).to.equal('key');
      expect(await addresses.count({})).to.equal(3);
    });
  });

  describe('error mapping', () => {
    it('E11000 with keyValue is DUPLICATE with field and value', async () => {
      const deployment = fakeDeployment();
      const store = await open(deployment);
      failNext(deployment, 'insertOne', new MongoServerError({ message: 'E11000 duplicate key error', code: 11000, keyValue: { key: 'D|4|0a000001' } }));
      const err = await failure(store.collection('addresses').insertOne(address(1)));
      expect(err).to.include({ code: 'DUPLICATE', field: 'key', value: 'D|4|0a000001' });
    });

    it('a collision on _id names the port field id', async () => {
      const store = await open(fakeDeployment());
      const doc = address(1);
      await store.collection('addresses').insertOne(doc);
      const err = await failure(store.collection('addresses').insertOne({ ...doc, key: 'other' }));
      expect(err).to.include({ code: 'DUPLICATE', field: 'id' });
    });

    const outages: [string, () => Error][] = [
      ['MongoServerSelectionError', () => selectionError('no primary')],
      ['MongoNetworkError', () => new MongoNetworkError('connection reset')],
      ['MongoWriteConcernError', () => new MongoWriteConcernError({ writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } } as never)],
      ['MongoServerError (not a collision)', () => new MongoServerError({ message: 'not primary', code: 10107 })],
    ];
    for (const [name, make] of outages) {
      it(`${name} on every call is STORE_UNAVAILABLE`, async () => {
        const deployment = fakeDeployment();
        const store = await open(deployment);
        const addresses = store.collection('addresses');
        const calls: [string, () => Promise<unknown>][] = [
          ['insertOne', () => addresses.insertOne(address(1))],
          ['find', () => addresses.find({})],
          ['find', () => addresses.values('key', {}, { limit: 5 })],
          ['countDocuments', () => addresses.count({})],
          ['updateOne', () => addresses.updateOne({ n: 1 }, { $set: { x: 1 } })],
          ['updateMany', () => addresses.updateMany({}, { $set: { x: 1 } })],
          ['deleteOne', () => addresses.deleteOne({ n: 1 })],
          ['deleteMany', () => addresses.deleteMany({})],
        ];
        for (const [method, call] of calls) {
          failNext(deployment, method, make());
          const err = await failure(call());
          expect(err.code, method).to.equal('STORE_UNAVAILABLE');
          expect(err.message, method).to.contain(name.split(' ')[0]);
        }
      });
    }

    it('a server that cannot be reached at open is STORE_UNAVAILABLE naming uri, without the user', async () => {
      const deployment = fakeDeployment();
      failNext(deployment, 'connect', selectionError('connect ECONNREFUSED 127.0.0.1:27017'));
      const err = await failure(openMongoStore({ uri: 'mongodb://ops@127.0.0.1:27017', database: 'x', createClient: fakeClientFactory(deployment) }));
      expect(err).to.include({ code: 'STORE_UNAVAILABLE', field: 'uri' });
      expect(err.message).to.not.contain('ops@');
    });
  });

  describe('connection policy', () => {
    it('primary reads, retryable writes, w majority and an election-proof selection timeout, whatever the URI says', async () => {
      const deployment = fakeDeployment();
      await openMongoStore({ uri: 'mongodb://h/?readPreference=secondary&w=1', database: 'x', createClient: fakeClientFactory(deployment) });
      const options = deployment.clientOptions as Record<string, unknown>;
      expect(options.readPreference).to.equal('primary');
      expect(options.retryWrites).to.equal(true);
      expect(options.retryReads).to.equal(true);
      expect(options.writeConcern).to.deep.include({ w: 'majority' });
      expect(options.serverSelectionTimeoutMS as number).to.be.greaterThan(12_000);
      expect(options.ignoreUndefined).to.equal(true);
    });

    it('write concern and timeouts come from the options (ipam-config)', async () => {
      const deployment = fakeDeployment();
      await open(deployment, { writeConcern: 2, writeTimeoutMs: 5000, serverSelectionTimeoutMs: 45_000, connectTimeoutMs: 3000 });
      const options = deployment.clientOptions as Record<string, unknown>;
      expect(options.writeConcern).to.deep.equal({ w: 2, wtimeoutMS: 5000 });
      expect(options.serverSelectionTimeoutMS).to.equal(45_000);
      expect(options.connectTimeoutMS).to.equal(3000);
    });
  });

  describe('undefined and null', () => {
    it('fields left undefined are not stored, so they never collide on a unique index as null', async () => {
      const store = await open(fakeDeployment());
      const addresses = store.collection('addresses');
      await addresses.insertOne(address(1, { requestKey: undefined }));
      await addresses.insertOne(address(2, { requestKey: undefined }));
      expect(await addresses.count({ requestKey: { $exists: true } })).to.equal(0);
    });

    it('the optional unique index ignores stored nulls too (partial, not sparse)', async () => {
      const deployment = fakeDeployment();
      await open(deployment);
      const indexes = deployment.databases.get('test')?.get('addresses')?.indexList ?? [];
      expect(indexes.filter((i) => i.sparse), 'no sparse indexes').to.deep.equal([]);
      expect(indexes.find((i) => i.name === 'expiryDate')?.partialFilterExpression).to.deep.equal({ expiryDate: { $type: 'string' } });
    });
  });

  describe('URIs', () => {
    it('redaction hides everything up to the last @', () => {
      expect(redact('mongodb://u:p@ss@h:27017/db')).to.equal('mongodb://***@h:27017/db');
      expect(redact('mongodb://u:p/ss@h')).to.equal('mongodb://***@h');
      expect(redact('mongodb://h:27017/db')).to.equal('mongodb://h:27017/db');
    });

    it('a password holding / or @ is refused and not echoed', () => {
      for (const uri of ['mongodb://u:p/ss@h', 'mongodb://u:p@ss@h', 'mongodb+srv://u:pw@h/db']) {
        let err: unknown;
        try {
          refusePasswordInUri(uri);
        } catch (e) {
          err = e;
        }
        expect(err, uri).to.be.instanceOf(IpamError);
        expect((err as IpamError).message, uri).to.not.contain('ss@h').and.not.contain(':p');
      }
      expect(() => refusePasswordInUri('mongodb://user@h1:27017,h2:27017/?replicaSet=rs0')).to.not.throw();
    });
  });

  describe('server time and atomic mode', () => {
    it('now() is the server clock, not this process', async () => {
      const deployment = fakeDeployment({ clockOffsetMs: 3_600_000 });
      const store = await open(deployment);
      expect((await store.now()) - Date.now()).to.be.greaterThan(3_500_000);
    });

    it('a replica set gets transactions, a standalone the journal', async () => {
      expect((await open(fakeDeployment({ topology: 'replicaSet' }))).mode).to.equal('transactions');
      const standalone = await open(fakeDeployment({ topology: 'standalone' }));
      expect(standalone.mode).to.equal('journal');
      expect(standalone.transactional).to.equal(false);
    });

    for (const topology of ['replicaSet', 'standalone'] as const) {
      it(`${topology}: a collision part-way through atomic leaves nothing written`, async () => {
        const store = await open(fakeDeployment({ topology }));
        const ranges = store.collection('ranges');
        await ranges.insertOne({ id: 'r1', key: 'R1', hint: 1 });
        await store.collection('addresses').insertOne(address(5));
        const err = await failure(
          store.atomic([
            { op: 'update', collection: 'ranges', filter: { id: 'r1' }, update: { $set: { hint: 2 }, $inc: { version: 1 } } },
            { op: 'insert', collection: 'addresses', doc: address(6) },
            { op: 'insert', collection: 'addresses', doc: address(5) },
          ]),
        );
        expect(err.code).to.equal('DUPLICATE');
        expect(await ranges.findOne({ id: 'r1' })).to.deep.equal({ id: 'r1', key: 'R1', hint: 1 });
        expect(await store.collection('addresses').count({})).to.equal(1);
        expect(await store.collection('journal').count({})).to.equal(0);
      });
    }

    it('standalone: ifUndone writes follow an undo of applied writes, and only then', async () => {
      const store = await open(fakeDeployment({ topology: 'standalone' }));
      const ranges = store.collection('ranges');
      await ranges.insertOne({ id: 'r1', key: 'R1', version: 0 });
      await store.collection('addresses').insertOne(address(5));
      const ifUndone = [{ op: 'update' as const, collection: 'ranges' as const, filter: { id: 'r1' }, update: { $inc: { version: 1 } } }];
      // The first write collides: nothing was applied, nobody saw anything, nothing follows.
      expect((await failure(store.atomic([{ op: 'insert', collection: 'addresses', doc: address(5) }], ifUndone))).code).to.equal('DUPLICATE');
      expect((await ranges.findOne({ id: 'r1' }))?.version).to.equal(0);
      // The second collides: the first was stored until the undo, so the ifUndone writes run after it.
      const applied = [{ op: 'insert' as const, collection: 'addresses' as const, doc: address(6) }, { op: 'insert' as const, collection: 'addresses' as const, doc: address(5) }];
      expect((await failure(store.atomic(applied, ifUndone))).code).to.equal('DUPLICATE');
      expect((await ranges.findOne({ id: 'r1' }))?.version).to.equal(1);
      expect(await store.collection('addresses').count({})).to.equal(1);
      // A batch that succeeds runs none of them.
      await store.atomic([{ op: 'insert', collection: 'addresses', doc: address(7) }], ifUndone);
      expect((await ranges.findOne({ id: 'r1' }))?.version).to.equal(1);
    });

    for (const topology of ['replicaSet', 'standalone'] as const) {
      it(`${topology}: settle writes follow the batch's writes; one failing fails the batch, and only a standalone keeps those applied`, async () => {
        const store = await open(fakeDeployment({ topology }));
        const ranges = store.collection('ranges');
        await ranges.insertOne({ id: 'r1', key: 'R1', version: 0 });
        await ranges.insertOne({ id: 'r2', key: 'R2', version: 0 });
        const bump = (id: string) => ({ op: 'update' as const, collection: 'ranges' as const, filter: { id }, update: { $inc: { version: 1 } } });
        const [one, two, nine] = [address(1), address(2), address(9)];
        await store.atomic([{ op: 'insert', collection: 'addresses', doc: one }], undefined, [bump('r1')]);
        expect((await ranges.findOne({ id: 'r1' }))?.version).to.equal(1);
        // The second settle write gives an address a key another one has: it fails, after the first was applied.
        await store.collection('addresses').insertOne(nine);
        const clash = { op: 'update' as const, collection: 'addresses' as const, filter: { id: one.id }, update: { $set: { key: nine.key } } };
        expect((await failure(store.atomic([{ op: 'insert', collection: 'addresses', doc: two }], undefined, [bump('r2'), clash]))).code).to.equal('DUPLICATE');
        expect(await store.collection('addresses').count({ id: two.id }), 'the batch is undone').to.equal(0);
        expect((await ranges.findOne({ id: 'r2' }))?.version, 'a standalone never undoes a settle write').to.equal(topology === 'standalone' ? 1 : 0);
        expect(await store.collection('journal').count({})).to.equal(0);
      });
    }

    it('standalone: a batch its process left half done is undone by the next open', async () => {
      const deployment = fakeDeployment({ topology: 'standalone' });
      const first = await open(deployment);
      await first.collection('ranges').insertOne({ id: 'r1', key: 'R1', hint: 1 });
      // The second write and every undo fail: as if the process died there.
      failNext(deployment, 'insertOne', new MongoNetworkError('connection reset'), { collection: 'addresses', times: 1 });
      failNext(deployment, 'replaceOne', new MongoNetworkError('connection reset'), { times: 10 });
      failNext(deployment, 'findOne', new MongoNetworkError('connection reset'), { collection: 'journal', times: 10 });
      const err = await failure(
        first.atomic([
          { op: 'update', collection: 'ranges', filter: { id: 'r1' }, update: { $set: { hint: 2 } } },
          { op: 'insert', collection: 'addresses', doc: address(6) },
        ]),
      );
      expect(err.code).to.equal('STORE_UNAVAILABLE');
      expect((await first.collection('ranges').findOne({ id: 'r1' }))?.hint).to.equal(2);
      deployment.faults = [];
      const journal = deployment.databases.get('test')?.get('journal');
      expect(journal?.docs).to.have.length(1);
      // A fresh batch of a live owner is left alone...
      const second = await open(deployment);
      expect((await second.collection('ranges').findOne({ id: 'r1' }))?.hint).to.equal(2);
      // ...one whose heartbeat lapsed (by the server's clock) is undone.
      for (const doc of journal?.docs ?? []) doc.heartbeatAt = new Date(0);
      expect(await second.recoverBatches()).to.deep.equal({ undone: 1, deferred: 0 });
      expect((await second.collection('ranges').findOne({ id: 'r1' }))?.hint).to.equal(1);
      expect(journal?.docs).to.have.length(0);
      await first.close();
      await second.close();
    });

    it('standalone: its own batch whose undo failed is retried, and a still fresh one counted for later', async () => {
      const deployment = fakeDeployment({ topology: 'standalone' });
      const store = await open(deployment);
      // Two batches whose write and then undo fail (the undo's read of the entry fails).
      for (const n of [6, 7]) {
        failNext(deployment, 'insertOne', new MongoNetworkError('connection reset'), { collection: 'ranges' });
        failNext(deployment, 'findOne', new MongoNetworkError('connection reset'), { collection: 'journal' });
        expect((await failure(store.atomic([{ op: 'insert', collection: 'addresses', doc: address(n) }, { op: 'insert', collection: 'ranges', doc: { id: `r${n}`, key: `R${n}` } }]))).code).to.equal('STORE_UNAVAILABLE');
      }
      const journal = deployment.databases.get('test')?.get('journal');
      expect(journal?.docs).to.have.length(2);
      expect(await store.collection('addresses').count({})).to.equal(2);
      // The first has gone stale, the second not yet: one undone, one left for the next pass.
      journal!.docs[0].heartbeatAt = new Date(0);
      expect(await store.recoverBatches()).to.deep.equal({ undone: 1, deferred: 1 });
      expect((store as unknown as { recoveryTimer?: NodeJS.Timeout }).recoveryTimer, 'next pass scheduled').to.not.equal(undefined);
      journal!.docs[0].heartbeatAt = new Date(0);
      expect(await store.recoverBatches()).to.deep.equal({ undone: 1, deferred: 0 });
      expect(await store.collection('addresses').count({})).to.equal(0);
      await store.close();
    });

    it('standalone: a batch that cannot be undone keeps neither the store from opening nor others from their undo', async () => {
      const deployment = fakeDeployment({ topology: 'standalone' });
      const first = await open(deployment);
      await first.collection('ranges').insertOne({ id: 'r1', key: 'R1', hint: 1 });
      // Putting documents back fails from here on: a batch with a before-image can never be undone.
      deployment.faults.push((method) => (method === 'replaceOne' ? new MongoNetworkError('connection reset') : undefined));
      // Batch 1 changes r1 (undone by putting it back); batch 2 only inserts (undone by deleting). Both fail,
      // and so do their undos (the undo's read of the entry fails).
      failNext(deployment, 'insertOne', new MongoNetworkError('connection reset'), { collection: 'addresses' });
      failNext(deployment, 'findOne', new MongoNetworkError('connection reset'), { collection: 'journal' });
      await failure(first.atomic([{ op: 'update', collection: 'ranges', filter: { id: 'r1' }, update: { $set: { hint: 2 } } }, { op: 'insert', collection: 'addresses', doc: address(6) }]));
      failNext(deployment, 'insertOne', new MongoNetworkError('connection reset'), { collection: 'ranges' });
      failNext(deployment, 'findOne', new MongoNetworkError('connection reset'), { collection: 'journal' });
      await failure(first.atomic([{ op: 'insert', collection: 'addresses', doc: address(7) }, { op: 'insert', collection: 'ranges', doc: { id: 'r7', key: 'R7' } }]));
      await first.close();
      const journal = deployment.databases.get('test')?.get('journal');
      expect(journal?.docs).to.have.length(2);
      for (const doc of journal?.docs ?? []) doc.heartbeatAt = new Date(0);
      const second = await open(deployment);
      expect(await second.collection('addresses').count({ n: 7 })).to.equal(0);
      expect(journal?.docs).to.have.length(1);
      await second.close();
    });
  });

  describe('collections', () => {
    it('every collection of the schema exists after open, before any transaction writes to it', async () => {
      const deployment = fakeDeployment();
      const store = await open(deployment);
      try {
        const collections = deployment.databases.get('test');
        expect(COLLECTIONS.filter((name) => !collections?.get(name)?.exists)).to.deep.equal([]);
        await store.atomic([{ op: 'insert', collection: 'counters', doc: { id: 'r1', assignedCount: 0 } }]);
        expect(await store.collection('counters').findOne({ id: 'r1' })).to.deep.equal({ id: 'r1', assignedCount: 0 });
      } finally {
        await store.close();
      }
    });

    it('a collection another process creates meanwhile (NamespaceExists) still opens; another create failure does not', async () => {
      const deployment = fakeDeployment();
      failNext(deployment, 'createCollection', new MongoServerError({ message: 'Collection test.counters already exists.', code: 48 }), { collection: 'counters' });
      await (await open(deployment)).close();
      const refused = fakeDeployment();
      failNext(refused, 'createCollection', new MongoServerError({ message: 'not authorized on test to execute command { create: "counters" }', code: 13 }), { collection: 'counters' });
      const err = await failure(open(refused));
      expect(err.code).to.equal('STORE_UNAVAILABLE');
      expect(err.message).to.contain('not authorized');
    });
  });

  describe('indexes', () => {
    it('existing indexes are kept and a sharded addresses collection opens', async () => {
      const deployment = fakeDeployment({ shardedCollections: new Set(['addresses']) });
      await open(deployment);
      const again = await open(deployment);
      const names = deployment.databases.get('test')?.get('addresses')?.indexList.map((i) => i.name) ?? [];
      expect(new Set(names).size).to.equal(names.length);
      await again.close();
    });
  });
});
