/**
 * Custom fields: defined once (persisted in the store, so every instance sharing it agrees), then
 * usable on blocks, ranges and addresses. A multi-value field takes only its defined values.
 */
import { IpamError, invalid, show } from './errors';
import type { CustomFields, Entity } from './records';
import type { Context } from './space';

export interface CustomFieldDefinition {
  name: string;
  multiValue: boolean;
  /** The values a multi-value field may take. */
  allowedValues?: string[];
}

interface SettingsDoc {
  id: string;
  name: string;
  definitions: CustomFieldDefinition[];
  [field: string]: unknown;
}

const SETTINGS_NAME = 'customFields';

export async function customFieldDefinitions(ctx: Context): Promise<CustomFieldDefinition[]> {
  const doc = await ctx.store.collection<SettingsDoc>('settings').findOne({ name: SETTINGS_NAME });
  return doc?.definitions ?? [];
}

/** Validates a `customFields` value against the definitions; returns it with canonical field names. */
export async function checkCustomFields(
  ctx: Context,
  entity: Entity,
  value: unknown,
): Promise<CustomFields | undefined> {
  if (value === undefined) return undefined;
  const definitions = await customFieldDefinitions(ctx);
  const checked: CustomFields = {};
  for (const [name, fieldValue] of Object.entries(value as CustomFields)) {
    const definition = definitions.find((d) => d.name.toLowerCase() === name.toLowerCase());
    if (!definition) {
      throw invalid(`customFields.${name}`, fieldValue, `is not a defined custom field (define it in ipam-config first)`);
    }
    checked[definition.name] = checkValue(definition, fieldValue, entity);
  }
  return Object.keys(checked).length > 0 ? checked : undefined;
}

function checkValue(definition: CustomFieldDefinition, value: string | string[], entity: Entity): string | string[] {
  const field = `customFields.${definition.name}`;
  if (!definition.multiValue) {
    if (Array.isArray(value)) throw invalid(field, value, `takes a single value on ${entity}`);
    return value;
  }
  const values = Array.isArray(value) ? value : [value];
  const allowed = definition.allowedValues ?? [];
  return values.map((v) => {
    const match = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (match === undefined) throw invalid(field, v, `must be one of ${allowed.map((a) => show(a)).join(', ')}`);
    return match;
  });
}

export function customFieldError(message: string): IpamError {
  return new IpamError('VALIDATION', message);
}
