import type { Doc } from './port';

/** Both backends key documents by `_id`; the port speaks of `id`. */
export type StoredDoc = Record<string, unknown> & { _id: string };

export function toStored(doc: Doc): StoredDoc {
  const { id, ...rest } = doc;
  return { _id: id, ...rest };
}

export function fromStored(doc: StoredDoc): Doc {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}

/** Renames an `id` key (filter or sort) to `_id`. */
export function renameId<V>(object: Record<string, V>): Record<string, V> {
  if (!('id' in object)) return object;
  const { id, ...rest } = object;
  return { _id: id, ...rest } as Record<string, V>;
}
