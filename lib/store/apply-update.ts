/**
 * The port's update operators applied to a document in memory, as MongoDB applies them (see port.ts,
 * "Semantics"). Dotted paths create missing subdocuments; `id` cannot be changed.
 */
import { IpamError } from '../errors';
import type { Update } from './port';
import { rank } from './sqlite-query';

type Obj = Record<string, unknown>;

/** The updated copy of `doc`; with `inPlace` (a document the caller just parsed and owns), `doc` itself, changed. */
export function applyUpdate(doc: Obj, update: Update, inPlace = false): Obj {
  const next = inPlace ? doc : structuredClone(doc);
  for (const [op, fields] of Object.entries(update)) {
    for (const [path, operand] of Object.entries((fields ?? {}) as Obj)) {
      if (path === 'id') {
        // As MongoDB's _id: setting it to its own value is allowed, changing it is not.
        if (op === '$set' && operand === next.id) continue;
        throw refused(path, op);
      }
      const { parent, leaf } = walkTo(next, path, op !== '$unset');
      if (!parent) continue;
      const current = parent[leaf];
      if (op === '$set') {
        if (operand !== undefined) parent[leaf] = operand !== null && typeof operand === 'object' ? structuredClone(operand) : operand;
      } else if (op === '$unset') {
        delete parent[leaf];
      } else if (op === '$inc') {
        if (typeof operand !== 'number' || (current !== undefined && typeof current !== 'number')) throw refused(path, op);
        parent[leaf] = ((current as number | undefined) ?? 0) + operand;
      } else if (op === '$min') {
        if (current === undefined || compareValues(operand, current) < 0) parent[leaf] = operand;
      } else {
        throw refused(path, op);
      }
    }
  }
  return next;
}

/** MongoDB's order of two scalars: by type bracket, then by value. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  const [x, y] = ra === 5 ? [Number(a), Number(b)] : [a as number | string, b as number | string];
  return x < y ? -1 : x > y ? 1 : 0;
}

function walkTo(doc: Obj, path: string, create: boolean): { parent?: Obj; leaf: string } {
  const segments = path.split('.');
  const leaf = segments.pop()!;
  let parent: Obj = doc;
  for (const segment of segments) {
    const child = parent[segment];
    if (child === undefined && create) parent[segment] = {};
    else if (!create && (child === null || typeof child !== 'object' || Array.isArray(child))) return { leaf };
    else if (child === null || typeof child !== 'object' || Array.isArray(child)) throw refused(path, 'a path through a non-object');
    parent = parent[segment] as Obj;
  }
  return { parent, leaf };
}

function refused(path: string, op: string): IpamError {
  return new IpamError('VALIDATION', `update of ${path}: ${op} cannot be applied`, { field: path });
}
