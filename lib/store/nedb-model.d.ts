// The part of nedb's internal model module the embedded adapter uses (nedb ships no types for it).
declare module '@seald-io/nedb/lib/model.js' {
  export function match(doc: unknown, query: unknown): boolean;
  export function deepCopy<T>(value: T): T;
  export function compareThings(a: unknown, b: unknown): number;
  export function getDotValue(doc: unknown, field: string): unknown;
}
