/**
 * `Store.atomic` for a store without transactions: the writes run in order and, when one fails, the ones
 * already applied are undone from before-images. All or none for failures the process survives; a crash
 * part-way is not repaired here.
 */
import type { Collection, Doc, Filter, Store, Write } from './port';

export async function applyWithUndo(store: Store, writes: Write[]): Promise<void> {
  const undo: (() => Promise<unknown>)[] = [];
  try {
    for (const write of writes) {
      const collection = store.collection(write.collection);
      if (write.op === 'insert') {
        await collection.insertOne(write.doc);
        undo.push(() => collection.deleteOne({ id: write.doc.id }));
        continue;
      }
      const before = write.many ? await collection.find(write.filter) : await firstOf(collection, write);
      if (write.op === 'update') {
        if (write.many) await collection.updateMany(write.filter, write.update);
        else await collection.updateOne(write.filter, write.update);
      } else if (write.many) await collection.deleteMany(write.filter);
      else await collection.deleteOne(write.filter);
      undo.push(() => restore(collection, before));
    }
  } catch (err) {
    for (const step of undo.reverse()) await step();
    throw err;
  }
}

async function firstOf(collection: Collection, write: { filter: Filter }): Promise<Doc[]> {
  const doc = await collection.findOne(write.filter);
  return doc ? [doc] : [];
}

async function restore(collection: Collection, docs: Doc[]): Promise<void> {
  for (const doc of docs) {
    await collection.deleteOne({ id: doc.id });
    await collection.insertOne(doc);
  }
}
