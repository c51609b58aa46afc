/**
 * One CSV row to the input object the core functions take, and one record back to a row.
 */
import { MULTI_VALUE_SEPARATOR, type CustomFieldDefinition, type Entity } from '../record';
import { invalid } from '../errors';
import { ownPath, ownValue } from '../own';
import { COLUMNS, LIST_SEPARATOR, type Column, type ColumnMapping } from './fields';

/**
 * Builds record input from cell values; empty cells are absent fields. Multi-value custom field cells
 * are left as text: the core splits them at `;`.
 */
export function rowToInput(mapping: ColumnMapping[], values: string[], mandatory: string[]): Record<string, unknown> {
  if (values.length !== mapping.length) {
    throw invalid('row', values.length, `has ${values.length} values but the header has ${mapping.length} columns`);
  }
  const input: Record<string, unknown> = {};
  const customFields: Record<string, string> = {};
  mapping.forEach((column, index) => {
    const value = values[index];
    if (value === '' || column.kind === 'ignored') return;
    if (column.kind === 'custom') {
      customFields[column.name] = value;
    } else if (column.field === 'exclusions') {
      input.exclusions = splitList(value).map(parseExclusion);
    } else {
      setPath(input, column.field, value);
    }
  });
  if (Object.keys(customFields).length > 0) input.customFields = customFields;
  for (const field of mandatory) {
    if (input[field] === undefined) throw invalid(field, '', 'is mandatory in an import and is empty');
  }
  return input;
}

/** The export header: the entity's columns, then one column per defined custom field. */
export function exportHeader(entity: Entity, definitions: CustomFieldDefinition[]): string[] {
  return [...exportColumns(entity).map((c) => c.header), ...definitions.map((d) => d.name)];
}

export function recordToRow(entity: Entity, record: Record<string, unknown>, definitions: CustomFieldDefinition[]): string[] {
  const cells = exportColumns(entity).map((column) => {
    const value = column.field === 'exclusions' ? formatExclusions(record.exclusions) : ownPath(record, column.field);
    return value === undefined || value === null ? '' : String(value);
  });
  const custom = (record.customFields ?? {}) as Record<string, string | string[]>;
  for (const definition of definitions) {
    const value = ownValue(custom, definition.name);
    cells.push(value === undefined ? '' : Array.isArray(value) ? value.join(MULTI_VALUE_SEPARATOR) : value);
  }
  return cells;
}

function exportColumns(entity: Entity): Column[] {
  return COLUMNS[entity].filter((c) => !c.importOnly);
}

function splitList(value: string): string[] {
  return value.split(LIST_SEPARATOR).map((part) => part.trim()).filter((part) => part !== '');
}

/** `start-end`, or one address for a single excluded address. */
function parseExclusion(text: string): { startAddress: string; endAddress: string } {
  const [startAddress, endAddress = startAddress, ...rest] = text.split('-').map((part) => part.trim());
  if (rest.length > 0 || !startAddress) throw invalid('exclusions', text, 'must be start-end pairs separated by ";"');
  return { startAddress, endAddress };
}

function formatExclusions(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return (value as { startAddress: string; endAddress: string }[])
    .map((e) => (e.startAddress === e.endAddress ? e.startAddress : `${e.startAddress}-${e.endAddress}`))
    .join(LIST_SEPARATOR);
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const [head, tail] = dotted.split('.');
  if (tail === undefined) {
    target[head] = value;
    return;
  }
  const nested = (target[head] ??= {}) as Record<string, unknown>;
  nested[tail] = value;
}
