/**
 * All-or-none insertion of a batch that may meet unique-index collisions: the documents go in one
 * `store.atomic` batch; a colliding document is left out and the rest tried again, so what is written is
 * written together (a crash part-way leaves none of it on a transactional store).
 */
import { isIpamError, type IpamError } from '../errors';
import type { CollectionName, Doc, Store } from './port';

export async function insertValid(
  store: Store,
  collection: CollectionName,
  docs: Doc[],
): Promise<{ index: number; error: IpamError }[]> {
  const failures: { index: number; error: IpamError }[] = [];
  let left = docs.map((doc, index) => ({ doc, index }));
  while (left.length > 0) {
    try {
      await store.atomic(left.map(({ doc }) => ({ op: 'insert' as const, collection, doc })));
      break;
    } catch (err) {
      if (!isIpamError(err, 'DUPLICATE')) throw err;
      // The later of two equal documents is the one that collided; a stored twin matches only one here.
      const field = err.field ?? 'id';
      const culprit = [...left].reverse().find(({ doc }) => doc[field] === err.value);
      if (!culprit) throw err;
      failures.push({ index: culprit.index, error: err });
      left = left.filter((entry) => entry !== culprit);
    }
  }
  return failures.sort((a, b) => a.index - b.index);
}
