/**
 * All-or-none insertion of a batch that may meet unique-index collisions: the documents' writes go in one
 * `store.atomic` batch; a colliding document is left out and the rest tried again, so what is written is
 * written together (a crash part-way leaves none of it on a transactional store).
 */
import { isIpamError, type IpamError } from '../errors';
import type { Doc, Store, Write } from './port';

export async function insertValid<T extends Doc>(
  store: Store,
  docs: T[],
  writesOf: (docs: T[]) => Write[],
  collided: (doc: T, err: IpamError) => boolean,
): Promise<{ index: number; error: IpamError }[]> {
  const failures: { index: number; error: IpamError }[] = [];
  let left = docs.map((doc, index) => ({ doc, index }));
  while (left.length > 0) {
    try {
      await store.atomic(writesOf(left.map(({ doc }) => doc)));
      break;
    } catch (err) {
      if (!isIpamError(err, 'DUPLICATE')) throw err;
      // The later of two equal documents is the one that collided; a stored twin matches only one here.
      const culprit = [...left].reverse().find(({ doc }) => collided(doc, err));
      if (!culprit) throw err;
      failures.push({ index: culprit.index, error: err });
      left = left.filter((entry) => entry !== culprit);
    }
  }
  return failures.sort((a, b) => a.index - b.index);
}
