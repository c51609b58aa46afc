/**
 * Range groups: named, ordered grouping criteria (range fields or custom fields) that organise ranges
 * into a tree, with utilization per group value. The built-in `Managed by Service` group always exists.
 * Definitions live in the store (`settings`, name `rangeGroups`) so every instance sharing it agrees.
 */
import { ownValue } from '../own';
import { sizeOf } from '../address';
import { checkDefinitionList, findDefinition, listCustomFields, replaceCustomFields, updateSetting, fold, toStoreFilter, type CustomFieldDefinition, type RangeRecord, type Context } from '../record';
import { assignedOf, intervalOf, summarise } from '../space';
import { IpamError, invalid, show } from '../errors';

export interface RangeGroup {
  name: string;
  /** Range field names and custom field names, outermost first. */
  criteria: string[];
  builtIn?: boolean;
}

export const MANAGED_BY_SERVICE: RangeGroup = {
  name: 'Managed by Service',
  criteria: ['managedByService', 'serviceInstance'],
  builtIn: true,
};

/** Range fields a group may use as a criterion. */
export const RANGE_CRITERIA = [
  'managedByService', 'serviceInstance', 'assignmentType', 'addressSpace', 'family', 'prefixLength', 'blockId',
] as const;

const SETTINGS_NAME = 'rangeGroups';

export interface GroupRow {
  group: string;
  /** 1 for the first criterion, 2 for values nested under it, ... */
  level: number;
  criterion: string;
  /** The criterion's value; null for ranges without it (a custom field not set). */
  value: string | number | null;
  /** The values from the outermost criterion down to this one. */
  path: (string | number | null)[];
  ranges: number;
  size: number | string;
  assigned: number;
  free: number | string;
  utilizedPercent: number;
}

export async function listRangeGroups(ctx: Context): Promise<RangeGroup[]> {
  return [MANAGED_BY_SERVICE, ...(await storedGroups(ctx))];
}

async function storedGroups(ctx: Context): Promise<RangeGroup[]> {
  const doc = await ctx.store.collection<{ id: string; groups?: RangeGroup[] }>('settings').findOne({ name: SETTINGS_NAME });
  return doc?.groups ?? [];
}

export async function getRangeGroup(ctx: Context, name: unknown): Promise<RangeGroup> {
  if (name === undefined || name === null || name === '') return MANAGED_BY_SERVICE;
  if (typeof name !== 'string') throw invalid('group', name, 'must be the name of a range group');
  const group = (await listRangeGroups(ctx)).find((g) => g.name.toLowerCase() === name.trim().toLowerCase());
  if (!group) throw new IpamError('NOT_FOUND', `range group ${show(name)} not found`, { field: 'group', value: name });
  return group;
}

/** Adds a range group, or replaces the criteria of the group of that name. */
export async function defineRangeGroup(ctx: Context, input: unknown): Promise<RangeGroup> {
  const group = checkGroup(input, 'rangeGroup', await listCustomFields(ctx));
  await updateSetting<RangeGroup[]>(ctx, SETTINGS_NAME, 'groups', [], async (current) => {
    const others = current.filter((g) => g.name.toLowerCase() !== group.name.toLowerCase());
    const at = current.findIndex((g) => g.name.toLowerCase() === group.name.toLowerCase());
    return at < 0 ? [...current, group] : [...others.slice(0, at), group, ...others.slice(at)];
  });
  return group;
}

export async function removeRangeGroup(ctx: Context, name: unknown): Promise<{ removed: RangeGroup }> {
  const wanted = typeof name === 'object' && name !== null ? (name as { name?: unknown }).name : name;
  if (typeof wanted !== 'string' || wanted.trim() === '') throw invalid('name', wanted, 'give the range group name');
  refuseBuiltIn(wanted, 'name');
  let removed: RangeGroup | undefined;
  await updateSetting<RangeGroup[]>(ctx, SETTINGS_NAME, 'groups', [], async (current) => {
    removed = current.find((g) => g.name.toLowerCase() === wanted.trim().toLowerCase());
    if (!removed) throw new IpamError('NOT_FOUND', `range group ${show(wanted)} not found`, { field: 'name', value: wanted });
    return current.filter((g) => g !== removed);
  });
  return { removed: removed! };
}

export interface Definitions {
  /** Every custom field definition; omitted = leave the stored ones as they are. */
  customFields?: unknown;
  /** Every user range group (the built-in one may be listed unchanged or left out); omitted = leave as is. */
  rangeGroups?: unknown;
}

export interface AppliedDefinitions {
  customFields: CustomFieldDefinition[];
  rangeGroups: RangeGroup[];
  changes: {
    customFields: { added: string[]; updated: string[]; removed: string[] };
    rangeGroups: { added: string[]; updated: string[]; removed: string[] };
  };
}

/**
 * Makes the store's custom fields and range groups exactly the given ones (what `ipam-config` calls on
 * start). Everything is validated before anything is written; a removed field still in use, or a value
 * of it, is refused with IN_USE naming where it is used.
 */
export async function applyDefinitions(ctx: Context, definitions: Definitions): Promise<AppliedDefinitions> {
  const none = { added: [], updated: [], removed: [] };
  const fields = definitions.customFields === undefined ? await listCustomFields(ctx) : checkDefinitionList(definitions.customFields);
  const groups = definitions.rangeGroups === undefined ? undefined : checkGroupList(definitions.rangeGroups, fields);
  const fieldChanges = definitions.customFields === undefined ? none : await replaceCustomFields(ctx, fields, groups);
  let groupChanges: AppliedDefinitions['changes']['rangeGroups'] = none;
  if (groups !== undefined) {
    await updateSetting<RangeGroup[]>(ctx, SETTINGS_NAME, 'groups', [], async (current) => {
      groupChanges = diffGroups(current, groups);
      return groups;
    });
  }
  return {
    customFields: fields,
    rangeGroups: await listRangeGroups(ctx),
    changes: {
      customFields: { added: fieldChanges.added, updated: fieldChanges.updated, removed: fieldChanges.removed },
      rangeGroups: groupChanges,
    },
  };
}

function diffGroups(current: RangeGroup[], next: RangeGroup[]): { added: string[]; updated: string[]; removed: string[] } {
  const find = (list: RangeGroup[], name: string) => list.find((g) => g.name.toLowerCase() === name.toLowerCase());
  return {
    added: next.filter((g) => !find(current, g.name)).map((g) => g.name),
    updated: next.filter((g) => {
      const old = find(current, g.name);
      return old !== undefined && JSON.stringify(old) !== JSON.stringify(g);
    }).map((g) => g.name),
    removed: current.filter((g) => !find(next, g.name)).map((g) => g.name),
  };
}

/** A list of user groups: unique names, each valid; the built-in group may appear unchanged and is dropped. */
export function checkGroupList(input: unknown, fields: CustomFieldDefinition[]): RangeGroup[] {
  if (!Array.isArray(input)) throw invalid('rangeGroups', input, 'must be a list of range groups');
  const groups: RangeGroup[] = [];
  input.forEach((item, index) => {
    const name = (item as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && name.trim().toLowerCase() === MANAGED_BY_SERVICE.name.toLowerCase()) {
      const criteria = (item as { criteria?: unknown }).criteria;
      const same = criteria === undefined ||
        (Array.isArray(criteria) && criteria.map((c) => resolveCriterion(c, '', fields)).join('|') === MANAGED_BY_SERVICE.criteria.join('|'));
      if (!same) refuseBuiltIn(name, `rangeGroups.${index}.name`);
      return;
    }
    const group = checkGroup(item, `rangeGroups.${index}`, fields);
    if (groups.some((g) => g.name.toLowerCase() === group.name.toLowerCase())) {
      throw invalid(`rangeGroups.${index}.name`, group.name, 'is defined twice (range group names are unique)');
    }
    groups.push(group);
  });
  return groups;
}

function checkGroup(input: unknown, field: string, fields: CustomFieldDefinition[]): RangeGroup {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(field, input, 'must be an object {name, criteria}');
  }
  const { name, criteria, builtIn: _builtIn, ...rest } = input as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw invalid(`${field}.${unknown}`, rest[unknown], 'is not a known field');
  if (typeof name !== 'string' || name.trim() === '') throw invalid(`${field}.name`, name, 'is required');
  if (name.trim().length > 100) throw invalid(`${field}.name`, name, 'must be at most 100 characters');
  refuseBuiltIn(name, `${field}.name`);
  const list = typeof criteria === 'string' ? criteria.split(',') : criteria;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalid(`${field}.criteria`, criteria, 'a range group needs at least one grouping criterion');
  }
  const resolved = list.map((c, i) => resolveCriterion(c, `${field}.criteria.${i}`, fields));
  resolved.forEach((c, i) => {
    if (resolved.indexOf(c) !== i) throw invalid(`${field}.criteria.${i}`, list[i], 'is listed twice');
  });
  return { name: name.trim(), criteria: resolved };
}

/** A range field (any spelling: `Managed by Service`, `managedByService`) or a defined custom field. */
function resolveCriterion(input: unknown, field: string, fields: CustomFieldDefinition[]): string {
  if (typeof input !== 'string' || input.trim() === '') throw invalid(field, input, 'must be a range field or custom field name');
  const text = input.trim().replace(/^customFields\./, '');
  const rangeField = RANGE_CRITERIA.find((f) => fold(f) === fold(text));
  if (rangeField && !input.trim().startsWith('customFields.')) return rangeField;
  const definition = findDefinition(fields, text);
  if (definition) return definition.name;
  throw invalid(
    field,
    input,
    `is neither a range field (${RANGE_CRITERIA.join(', ')}) nor a defined custom field`,
  );
}

function refuseBuiltIn(name: string, field: string): void {
  if (name.trim().toLowerCase() === MANAGED_BY_SERVICE.name.toLowerCase()) {
    throw invalid(field, name, 'is the built-in range group; it always exists and cannot be changed or removed');
  }
}

interface TreeNode {
  value: string | number | null;
  ranges: Set<string>;
  size: bigint;
  assigned: number;
  children: Map<string, TreeNode>;
}

type RangeLike = RangeRecord & { customFields?: Record<string, string | string[]> };

/**
 * Utilization per group value, nested by the group's criteria: one row per value at each level (parents
 * first), each counting its ranges once even when a multi-value field places a range under several values.
 * Assigned addresses come from each range's maintained counter (lib/space/counters.ts); addresses are never counted.
 * Payload: `{group?, ...range filter}` or `{group?, filter: {...}}`; the default group is `Managed by Service`.
 */
export async function groupUtilization(ctx: Context, payload: unknown): Promise<GroupRow[]> {
  const input = typeof payload === 'string' ? { group: payload } : ((payload ?? {}) as Record<string, unknown>);
  const { group: groupName, filter: nested, ...rest } = input;
  const group = await getRangeGroup(ctx, groupName);
  const filter = toStoreFilter('ranges', nested !== undefined ? nested : rest);
  const ranges = await ctx.store.collection<RangeLike>('ranges').find(filter, { sort: { startKey: 1 } });
  const root: TreeNode = newNode(null);
  const counts = await assignedOf(ctx, 'ranges', ranges.map((range) => range.id));
  for (const [index, range] of ranges.entries()) {
    const size = sizeOf(intervalOf(range));
    const assigned = counts[index];
    for (const path of valuePaths(range, group.criteria)) {
      let node = root;
      for (const value of path) {
        const key = JSON.stringify(value);
        let child = node.children.get(key);
        if (!child) node.children.set(key, (child = newNode(value)));
        node = child;
        if (node.ranges.has(range.id)) continue;
        node.ranges.add(range.id);
        node.size += size;
        node.assigned += assigned;
      }
    }
  }
  const rows: GroupRow[] = [];
  const walk = (node: TreeNode, level: number, path: (string | number | null)[]): void => {
    for (const child of [...node.children.values()].sort(byValue)) {
      const childPath = [...path, child.value];
      const { size, assigned, free, utilizedPercent } = summarise(child.size, child.size, child.assigned);
      rows.push({
        group: group.name,
        level,
        criterion: group.criteria[level - 1],
        value: child.value,
        path: childPath,
        ranges: child.ranges.size,
        size,
        assigned,
        free,
        utilizedPercent,
      });
      walk(child, level + 1, childPath);
    }
  };
  walk(root, 1, []);
  return rows;
}

/**
 * Rows for CSV export of range groups (every group, or the named one): flat, text-friendly columns
 * `group, level, criterion, value, path, ranges, size, assigned, free, utilizedPercent`.
 */
export async function rangeGroupRows(ctx: Context, groupName?: string): Promise<Record<string, string | number>[]> {
  const groups = groupName === undefined ? await listRangeGroups(ctx) : [await getRangeGroup(ctx, groupName)];
  const rows: Record<string, string | number>[] = [];
  for (const group of groups) {
    for (const row of await groupUtilization(ctx, { group: group.name })) {
      rows.push({
        group: row.group,
        level: row.level,
        criterion: row.criterion,
        value: row.value === null ? '' : String(row.value),
        path: row.path.map((v) => (v === null ? '' : String(v))).join(' / '),
        ranges: row.ranges,
        size: row.size,
        assigned: row.assigned,
        free: row.free,
        utilizedPercent: row.utilizedPercent,
      });
    }
  }
  return rows;
}

function newNode(value: string | number | null): TreeNode {
  return { value, ranges: new Set(), size: 0n, assigned: 0, children: new Map() };
}

/** Every path of values a range takes under the criteria (several when a multi-value field has several). */
function valuePaths(range: RangeLike, criteria: string[]): (string | number | null)[][] {
  let paths: (string | number | null)[][] = [[]];
  for (const criterion of criteria) {
    const values = valuesOf(range, criterion);
    paths = paths.flatMap((path) => values.map((value) => [...path, value]));
  }
  return paths;
}

function valuesOf(range: RangeLike, criterion: string): (string | number | null)[] {
  if ((RANGE_CRITERIA as readonly string[]).includes(criterion)) {
    const value = (range as unknown as Record<string, unknown>)[criterion];
    return [value === undefined || value === null ? null : (value as string | number)];
  }
  const value = range.customFields ? ownValue(range.customFields, criterion) : undefined;
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return [null];
  return Array.isArray(value) ? value : [value];
}

/** Numbers numerically, texts by code point, "not set" last. */
function byValue(a: TreeNode, b: TreeNode): number {
  if (a.value === b.value) return 0;
  if (a.value === null) return 1;
  if (b.value === null) return -1;
  if (typeof a.value === 'number' && typeof b.value === 'number') return a.value - b.value;
  return String(a.value) < String(b.value) ? -1 : 1;
}
