/**
 * User filters (`list`, export): record fields with plain values only. Nothing a user sends becomes a
 * query operator; each value is a scalar, compared for equality, with enumerations canonicalised.
 */
import { invalid } from '../errors';
import { FIELD_TABLE, filterConversion } from './fields';
import { RECORD_NOUN, type Entity } from './records';
import type { Collection, Doc, Filter, FindOptions, Scalar } from '../store';

/** Per entity, each filterable field (lib/record/fields.ts) with the conversion of its value, if any. */
const FILTERS = Object.fromEntries(
  Object.entries(FIELD_TABLE).map(([entity, specs]) => [
    entity,
    new Map(specs.filter((spec) => spec.filter).map((spec) => [spec.name, filterConversion(spec)])),
  ]),
) as Record<Entity, Map<string, ((value: unknown) => Scalar) | undefined>>;

export function isFilterField(entity: Entity, field: string): boolean {
  return FILTERS[entity].has(field) || /^customFields\.[^.$]+$/.test(field);
}

export function toStoreFilter(entity: Entity, input: unknown): Filter {
  if (input === undefined || input === null || input === '') return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid('filter', input, 'must be an object of field values');
  const filter: Filter = {};
  for (const [field, value] of Object.entries(input as Record<string, unknown>)) {
    if (!isFilterField(entity, field)) throw invalid(`filter.${field}`, value, `is not ${RECORD_NOUN[entity]} field`);
    if (value !== null && typeof value === 'object') {
      throw invalid(`filter.${field}`, value, 'must be a plain value (query operators are not accepted)');
    }
    const canonical = FILTERS[entity].get(field);
    filter[field] = (canonical ? canonical(value) : value) as Scalar;
  }
  return filter;
}

/**
 * Documents matching any of several filters (alternatives that never overlap, such as the two
 * `expiryDate` conditions of one expiry state), sorted and limited as one find would be.
 */
export async function findAny<T extends Doc>(collection: Collection<T>, filters: Filter[], options: FindOptions = {}): Promise<T[]> {
  if (filters.length === 1) return collection.find(filters[0], options);
  const found = (await Promise.all(filters.map((filter) => collection.find(filter, options)))).flat();
  const sort = Object.entries(options.sort ?? {});
  found.sort((a, b) => {
    for (const [field, direction] of sort) {
      const [x, y] = [a[field] as Scalar, b[field] as Scalar];
      if (x !== y) return (x === null || (y !== null && x < y) ? -1 : 1) * direction;
    }
    return 0;
  });
  return options.limit === undefined ? found : found.slice(0, options.limit);
}

export async function countAny(collection: Collection, filters: Filter[]): Promise<number> {
  let total = 0;
  for (const filter of filters) total += await collection.count(filter);
  return total;
}
