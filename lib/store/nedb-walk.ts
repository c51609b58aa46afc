/**
 * Ordered scans over an nedb index. nedb answers a range query by collecting every candidate; these walk the
 * index tree in key order within the bounds and stop at the limit, so "first N from here" costs O(log n + N),
 * as it does on MongoDB. Reads nedb's documented index structure (an AVL tree of {key, data[]} nodes).
 */
import type { Comparison, Condition } from './port';

interface TreeNode {
  key?: unknown;
  data: Record<string, unknown>[];
  left: TreeNode | null;
  right: TreeNode | null;
}

export interface NedbIndex {
  fieldName: string;
  sparse?: boolean;
  tree: { tree: TreeNode };
}

interface Bound {
  value: unknown;
  inclusive: boolean;
}

export interface KeyBounds {
  lower?: Bound;
  upper?: Bound;
}

type Compare = (a: unknown, b: unknown) => number;

/** The bounds a condition puts on its field, or undefined when it is not a pure range ($gt/$gte/$lt/$lte). */
export function boundsOf(condition: Condition | undefined): KeyBounds | undefined {
  if (condition === undefined) return {};
  if (condition === null || typeof condition !== 'object') return undefined;
  const range = condition as Comparison;
  const keys = Object.keys(range);
  if (!keys.every((k) => ['$gt', '$gte', '$lt', '$lte'].includes(k))) return undefined;
  const bounds: KeyBounds = {};
  if (range.$gte !== undefined) bounds.lower = { value: range.$gte, inclusive: true };
  if (range.$gt !== undefined) bounds.lower = { value: range.$gt, inclusive: false };
  if (range.$lte !== undefined) bounds.upper = { value: range.$lte, inclusive: true };
  if (range.$lt !== undefined) bounds.upper = { value: range.$lt, inclusive: false };
  return bounds;
}

/**
 * Calls `visit` with the documents of the index in key order (or reverse) whose key lies within the bounds,
 * until it returns false. Iterative, pruning subtrees that lie wholly outside the bounds.
 */
export function walk(
  root: TreeNode,
  bounds: KeyBounds,
  descending: boolean,
  compare: Compare,
  visit: (doc: Record<string, unknown>) => boolean,
): void {
  if (!Object.prototype.hasOwnProperty.call(root, 'key')) return;
  const inBounds = (key: unknown): boolean => {
    if (bounds.lower) {
      const c = compare(key, bounds.lower.value);
      if (c < 0 || (c === 0 && !bounds.lower.inclusive)) return false;
    }
    if (bounds.upper) {
      const c = compare(key, bounds.upper.value);
      if (c > 0 || (c === 0 && !bounds.upper.inclusive)) return false;
    }
    return true;
  };
  // Left holds smaller keys, right larger: go into a side only if it can hold keys within the bounds.
  const smallerMayMatch = (key: unknown): boolean => !bounds.lower || compare(key, bounds.lower.value) > 0;
  const largerMayMatch = (key: unknown): boolean => !bounds.upper || compare(key, bounds.upper.value) < 0;
  const near = (node: TreeNode): TreeNode | null =>
    descending ? (largerMayMatch(node.key) ? node.right : null) : smallerMayMatch(node.key) ? node.left : null;
  const far = (node: TreeNode): TreeNode | null =>
    descending ? (smallerMayMatch(node.key) ? node.left : null) : largerMayMatch(node.key) ? node.right : null;
  const stack: TreeNode[] = [];
  let node: TreeNode | null = root;
  while (node || stack.length > 0) {
    while (node) {
      stack.push(node);
      node = near(node);
    }
    const current = stack.pop()!;
    if (inBounds(current.key)) {
      for (const doc of current.data) if (!visit(doc)) return;
    }
    node = far(current);
  }
}
