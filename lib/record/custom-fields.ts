/**
 * Custom fields: defined once (persisted in the store, so every instance sharing it agrees), then
 * usable on blocks, ranges and addresses. A multi-value field takes only its defined values; a field
 * in use cannot be removed, nor lose a value that records carry.
 */
import { fold } from './enums';
import { IpamError, invalid, show } from '../errors';
import { recordFieldNames } from './fields';
import type { CustomFields, Entity } from './records';
import type { Context } from './context';
import type { Doc, Filter } from '../store';

export interface CustomFieldDefinition {
  name: string;
  multiValue: boolean;
  /** The values a multi-value field may take. */
  allowedValues?: string[];
}

interface SettingsDoc extends Doc {
  name: string;
  version?: number;
}

interface CustomFieldsDoc extends SettingsDoc {
  definitions: CustomFieldDefinition[];
}

const SETTINGS_NAME = 'customFields';
const ENTITIES: Entity[] = ['blocks', 'ranges', 'addresses'];
const MAX_VALUE_LENGTH = 1024;
/** Separates values of a multi-value field given as one text (a CSV cell). */
export const MULTI_VALUE_SEPARATOR = ';';

/**
 * Names a custom field may not take: record fields (custom fields are usable as bare names in filters
 * and range-group criteria, so they must not shadow one) and the inventory's `blockKind` grouping.
 */
const RESERVED_NAMES = [...recordFieldNames(), 'blockKind'].map(fold);

export async function listCustomFields(ctx: Context): Promise<CustomFieldDefinition[]> {
  const doc = await ctx.store.collection<CustomFieldsDoc>('settings').findOne({ name: SETTINGS_NAME });
  return doc?.definitions ?? [];
}


/** The definition a name refers to (names are case-insensitive), or undefined. */
export function findDefinition(definitions: CustomFieldDefinition[], name: string): CustomFieldDefinition | undefined {
  const wanted = name.trim().toLowerCase();
  return definitions.find((d) => d.name.toLowerCase() === wanted);
}

/** Adds a custom field, or changes one (same name, any case); refuses changes that would orphan stored values. */
export async function defineCustomField(ctx: Context, input: unknown): Promise<CustomFieldDefinition> {
  const definition = checkDefinition(input, 'customField');
  await updateSetting<CustomFieldDefinition[]>(ctx, SETTINGS_NAME, 'definitions', [], async (current) => {
    const existing = findDefinition(current, definition.name);
    if (existing) await refuseOrphaningChange(ctx, existing, definition);
    return existing ? current.map((d) => (d === existing ? definition : d)) : [...current, definition];
  });
  return definition;
}

/** Removes a custom field; refused (IN_USE) while a record carries it or a range group groups by it. */
export async function removeCustomField(ctx: Context, name: unknown): Promise<{ removed: CustomFieldDefinition }> {
  const wanted = typeof name === 'object' && name !== null ? (name as { name?: unknown }).name : name;
  if (typeof wanted !== 'string' || wanted.trim() === '') throw invalid('name', wanted, 'give the custom field name');
  let removed: CustomFieldDefinition | undefined;
  await updateSetting<CustomFieldDefinition[]>(ctx, SETTINGS_NAME, 'definitions', [], async (current) => {
    removed = findDefinition(current, wanted);
    if (!removed) {
      throw new IpamError('NOT_FOUND', `customFields ${show(wanted)}: is not a defined custom field`, {
        field: 'customFields',
        value: wanted,
      });
    }
    await refuseInUse(ctx, removed.name);
    await refuseGroupCriterion(ctx, removed.name);
    return current.filter((d) => d !== removed);
  });
  return { removed: removed! };
}

/**
 * Replaces every definition at once (the `ipam-config` start-up path). Validates the whole list, then
 * refuses (IN_USE) when a removed field or value is still in use, or when a range group that stays
 * (`groupsAfter`, default: the stored groups) groups by a removed field.
 */
export async function replaceCustomFields(
  ctx: Context,
  input: unknown,
  groupsAfter?: { name: string; criteria: string[] }[],
): Promise<{ definitions: CustomFieldDefinition[]; added: string[]; updated: string[]; removed: string[] }> {
  const wanted = checkDefinitionList(input);
  let changes = { added: [] as string[], updated: [] as string[], removed: [] as string[] };
  await updateSetting<CustomFieldDefinition[]>(ctx, SETTINGS_NAME, 'definitions', [], async (current) => {
    changes = { added: [], updated: [], removed: [] };
    for (const old of current) {
      const next = findDefinition(wanted, old.name);
      if (!next) {
        await refuseInUse(ctx, old.name);
        await refuseGroupCriterion(ctx, old.name, groupsAfter);
        changes.removed.push(old.name);
      } else {
        await refuseOrphaningChange(ctx, old, next);
        if (JSON.stringify(old) !== JSON.stringify(next)) changes.updated.push(next.name);
      }
    }
    for (const next of wanted) if (!findDefinition(current, next.name)) changes.added.push(next.name);
    return wanted;
  });
  return { definitions: wanted, ...changes };
}

export function checkDefinitionList(input: unknown): CustomFieldDefinition[] {
  if (!Array.isArray(input)) throw invalid('customFields', input, 'must be a list of custom field definitions');
  const definitions = input.map((item, index) => checkDefinition(item, `customFields.${index}`));
  definitions.forEach((definition, index) => {
    const twin = definitions.findIndex((d) => d.name.toLowerCase() === definition.name.toLowerCase());
    if (twin !== index) throw invalid(`customFields.${index}.name`, definition.name, 'is defined twice');
  });
  return definitions;
}

/** Shape and name rules of one definition; returns it normalised. */
export function checkDefinition(input: unknown, field: string): CustomFieldDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(field, input, 'must be an object {name, multiValue, allowedValues}');
  }
  const { name, multiValue, allowedValues, ...rest } = input as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw invalid(`${field}.${unknown}`, rest[unknown], 'is not a known field');
  const checkedName = checkFieldName(name, `${field}.name`);
  const multi = multiValue === true || multiValue === 'true';
  if (multiValue !== undefined && typeof multiValue !== 'boolean' && multiValue !== 'true' && multiValue !== 'false') {
    throw invalid(`${field}.multiValue`, multiValue, 'must be true or false');
  }
  if (!multi) {
    if (Array.isArray(allowedValues) && allowedValues.length > 0) {
      throw invalid(`${field}.allowedValues`, allowedValues, `only a multi-value field has allowed values (${checkedName})`);
    }
    return { name: checkedName, multiValue: false };
  }
  return { name: checkedName, multiValue: true, allowedValues: checkAllowedValues(allowedValues, `${field}.allowedValues`) };
}

function checkFieldName(name: unknown, field: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw invalid(field, name, 'is required');
  const trimmed = name.trim();
  if (trimmed.length > 64) throw invalid(field, name, 'must be at most 64 characters');
  if (trimmed.includes('.') || trimmed.startsWith('$') || /[\u0000-\u001f]/.test(trimmed)) {
    throw invalid(field, name, 'must not contain "." or control characters, nor start with "$"');
  }
  if (RESERVED_NAMES.includes(fold(trimmed))) throw invalid(field, name, 'is the name of a built-in field');
  // Stored records are plain objects: this one name would set their prototype instead of a field.
  if (trimmed === '__proto__') throw invalid(field, name, 'is reserved by JavaScript');
  return trimmed;
}

function checkAllowedValues(values: unknown, field: string): string[] {
  const list = typeof values === 'string' ? values.split(/[\n;]/) : values;
  if (!Array.isArray(list)) throw invalid(field, values, 'must be a list of values');
  const checked: string[] = [];
  for (const value of list) {
    if (typeof value !== 'string') throw invalid(field, value, 'must list texts only');
    const trimmed = value.trim();
    if (trimmed === '') continue;
    if (trimmed.includes(MULTI_VALUE_SEPARATOR)) throw invalid(field, value, `a value must not contain "${MULTI_VALUE_SEPARATOR}"`);
    if (trimmed.length > MAX_VALUE_LENGTH) throw invalid(field, value, `must be at most ${MAX_VALUE_LENGTH} characters`);
    if (checked.some((c) => c.toLowerCase() === trimmed.toLowerCase())) throw invalid(field, value, 'is listed twice');
    checked.push(trimmed);
  }
  if (checked.length === 0) throw invalid(field, values, 'a multi-value field needs at least one allowed value');
  return checked;
}

/** Documents of every entity carrying a field (or one value of it), counted with indexed-or-not `count`. */
export async function usageOf(ctx: Context, name: string, value?: string): Promise<Record<Entity, number>> {
  const filter: Filter = { [`customFields.${name}`]: value === undefined ? { $exists: true } : value };
  const counts = {} as Record<Entity, number>;
  for (const entity of ENTITIES) counts[entity] = await ctx.store.collection(entity).count(filter);
  return counts;
}

export function describeUsage(counts: Record<Entity, number>): string {
  const labels: Record<Entity, [string, string]> = {
    blocks: ['block', 'blocks'],
    ranges: ['range', 'ranges'],
    addresses: ['address', 'addresses'],
  };
  const parts = ENTITIES.filter((e) => counts[e] > 0).map((e) => `${counts[e]} ${labels[e][counts[e] === 1 ? 0 : 1]}`);
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts.join('');
}

async function refuseInUse(ctx: Context, name: string): Promise<void> {
  const counts = await usageOf(ctx, name);
  if (ENTITIES.some((e) => counts[e] > 0)) {
    throw new IpamError(
      'IN_USE',
      `customFields ${show(name)} is used by ${describeUsage(counts)}; remove it from them before deleting the field`,
      { field: 'customFields', value: name },
    );
  }
}

/** A field named as a range-group criterion cannot go while the group stays. */
async function refuseGroupCriterion(
  ctx: Context,
  name: string,
  groupsAfter?: { name: string; criteria: string[] }[],
): Promise<void> {
  const groups = groupsAfter ?? (await ctx.store
    .collection<SettingsDoc & { groups?: { name: string; criteria: string[] }[] }>('settings')
    .findOne({ name: 'rangeGroups' }))?.groups ?? [];
  const group = groups.find((g) => g.criteria.some((c) => c.toLowerCase() === name.toLowerCase()));
  if (group) {
    throw new IpamError(
      'IN_USE',
      `customFields ${show(name)} is a grouping criterion of range group ${show(group.name)}; change or remove the group first`,
      { field: 'customFields', value: name },
    );
  }
}

/** A definition change must keep every stored value valid: no kind switch and no used value dropped while in use. */
async function refuseOrphaningChange(ctx: Context, old: CustomFieldDefinition, next: CustomFieldDefinition): Promise<void> {
  if (old.multiValue !== next.multiValue) {
    const counts = await usageOf(ctx, old.name);
    if (ENTITIES.some((e) => counts[e] > 0)) {
      throw new IpamError(
        'IN_USE',
        `customFields ${show(old.name)} is used by ${describeUsage(counts)}; it cannot switch between single and multi-value while in use`,
        { field: 'customFields', value: old.name },
      );
    }
    return;
  }
  if (!next.multiValue) return;
  for (const value of old.allowedValues ?? []) {
    if ((next.allowedValues ?? []).some((v) => v.toLowerCase() === value.toLowerCase())) continue;
    const counts = await usageOf(ctx, old.name, value);
    if (ENTITIES.some((e) => counts[e] > 0)) {
      throw new IpamError(
        'IN_USE',
        `customFields ${show(old.name)} value ${show(value)} is used by ${describeUsage(counts)}; it cannot be removed from the allowed values`,
        { field: `customFields.${old.name}`, value },
      );
    }
  }
}

/** Validates a `customFields` value against the definitions; returns it with canonical field names. */
export async function checkCustomFields(
  ctx: Context,
  entity: Entity,
  value: unknown,
): Promise<CustomFields | undefined> {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('customFields', value, 'must be an object of {fieldName: value}');
  }
  const definitions = await listCustomFields(ctx);
  const checked: CustomFields = {};
  for (const [name, fieldValue] of Object.entries(value as Record<string, unknown>)) {
    const definition = findDefinition(definitions, name);
    if (!definition) {
      throw invalid(`customFields.${name}`, fieldValue, 'is not a defined custom field (define it in ipam-config first)');
    }
    const canonical = checkValue(definition, fieldValue, entity);
    if (canonical !== undefined) checked[definition.name] = canonical;
  }
  return Object.keys(checked).length > 0 ? checked : undefined;
}

/**
 * One value: single-value fields take free text; multi-value fields take only allowed values, as a list
 * or as one text separated by `;` (CSV). Empty values mean "not set" and are dropped.
 */
function checkValue(definition: CustomFieldDefinition, value: unknown, entity: Entity): string | string[] | undefined {
  const field = `customFields.${definition.name}`;
  if (value === null || value === undefined || value === '') return undefined;
  if (!definition.multiValue) {
    if (Array.isArray(value)) {
      if (value.length > 1) throw invalid(field, value, `takes a single value on ${entity}`);
      return checkValue(definition, value[0], entity);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw invalid(field, value, 'must be a text');
    }
    const text = String(value).trim();
    if (text.length > MAX_VALUE_LENGTH) throw invalid(field, value, `must be at most ${MAX_VALUE_LENGTH} characters`);
    return text === '' ? undefined : text;
  }
  const allowed = definition.allowedValues ?? [];
  const values = Array.isArray(value) ? value : splitMulti(value, allowed);
  const canonical: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string') throw invalid(field, v, `must be one of ${allowed.map((a) => show(a)).join(', ')}`);
    if (v.trim() === '') continue;
    const match = allowed.find((a) => a.toLowerCase() === v.trim().toLowerCase());
    if (match === undefined) throw invalid(field, v, `must be one of ${allowed.map((a) => show(a)).join(', ')}`);
    if (!canonical.includes(match)) canonical.push(match);
  }
  return canonical.length > 0 ? canonical : undefined;
}

function splitMulti(value: unknown, allowed: string[]): unknown[] {
  if (typeof value !== 'string') return [value];
  if (allowed.some((a) => a.toLowerCase() === value.trim().toLowerCase())) return [value];
  return value.split(MULTI_VALUE_SEPARATOR);
}


/**
 * Read-modify-write of one settings document with compare-and-set on a version, so two instances
 * changing definitions at once never lose each other's change. `change` may throw to refuse.
 */
export async function updateSetting<T>(
  ctx: Context,
  name: string,
  key: string,
  empty: T,
  change: (current: T) => Promise<T>,
): Promise<T> {
  const settings = ctx.store.collection<SettingsDoc>('settings');
  for (let attempt = 0; attempt < 20; attempt++) {
    const doc = await settings.findOne({ name });
    const next = await change(((doc?.[key] as T | undefined) ?? empty));
    if (!doc) {
      try {
        await settings.insertOne({ id: `settings:${name}`, name, [key]: next, version: 1 });
        return next;
      } catch (err) {
        if ((err as IpamError).code === 'DUPLICATE') continue;
        throw err;
      }
    }
    const expected = doc.version === undefined ? { $exists: false } : doc.version;
    if (await settings.updateOne({ name, version: expected }, { $set: { [key]: next, version: (doc.version ?? 0) + 1 } })) {
      return next;
    }
  }
  throw new IpamError('CONFLICT', `settings ${show(name)}: changed concurrently too often; try again`);
}
