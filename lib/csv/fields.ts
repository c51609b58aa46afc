/**
 * CSV columns of each entity: the guide's header names (written on export, matched on import) and the
 * record field each one fills. Headers match case-insensitively, ignoring spaces, quotes and dashes.
 */
import { fold, FIELD_TABLE, READ_ONLY_FIELDS, RECORD_NOUN, type CustomFieldDefinition, type Entity } from '../record';
import { IpamError, show } from '../errors';

export interface Column {
  /** Record field; nested fields are dotted (`dhcpReservation.serverName`). */
  field: string;
  /** The guide's name, written on export. */
  header: string;
  /** Further accepted spellings (the field name itself is always accepted). */
  aliases?: string[];
  /** Accepted on import but never exported (the export writes the same data another way). */
  importOnly?: boolean;
  /** Exported but derived on read, so an import ignores it (listed in IGNORED). */
  exportOnly?: boolean;
}

/** The CSV columns of each entity, in export order: the field table's (lib/record/fields.ts) `csv` entries. */
export const COLUMNS = Object.fromEntries(
  Object.entries(FIELD_TABLE).map(([entity, specs]) => [
    entity,
    specs.flatMap((spec): Column[] => {
      if (!spec.csv) return [];
      const { header, aliases, importOnly, exportOnly } = spec.csv;
      return [{ field: spec.name, header, ...(aliases ? { aliases } : {}), ...(importOnly ? { importOnly } : {}), ...(exportOnly ? { exportOnly } : {}) }];
    }),
  ]),
) as Record<Entity, Column[]>;

/** The guide's mandatory import fields. A block's RIR is checked per row (required only when public IPv4). */
export const MANDATORY = Object.fromEntries(
  Object.entries(FIELD_TABLE).map(([entity, specs]) => [entity, specs.filter((spec) => spec.csv?.mandatory).map((spec) => spec.name)]),
) as Record<Entity, string[]>;

/**
 * Columns other tools (and our own `list` output or error report) carry that the store derives itself:
 * accepted and ignored on import, so such files import as they stand.
 */
const IGNORED = [...READ_ONLY_FIELDS, 'error'];

/** Range exclusions (`start-end`) are separated by this, like multi-value custom field values. */
export const LIST_SEPARATOR = ';';

export type ColumnMapping =
  | { kind: 'field'; field: string; header: string }
  | { kind: 'custom'; name: string; header: string }
  | { kind: 'ignored'; header: string };

/**
 * Maps a header line to fields. Refuses the whole file (VALIDATION, field `header`) on an unknown or
 * repeated column and on a missing mandatory column, naming it.
 */
export function mapHeader(
  entity: Entity,
  headers: string[],
  definitions: CustomFieldDefinition[],
  mandatory: string[] = MANDATORY[entity],
): ColumnMapping[] {
  const known = lookupTable(entity);
  const seen = new Map<string, string>();
  const mapping = headers.map((header): ColumnMapping => {
    const folded = fold(header);
    const field = known.get(folded);
    const custom = field === undefined ? definitions.find((d) => fold(d.name) === folded) : undefined;
    const target = field ?? (custom ? `customFields.${custom.name}` : undefined);
    if (target === undefined) {
      if (IGNORED.some((ignored) => fold(ignored) === folded)) return { kind: 'ignored', header };
      throw headerError(header, `is neither ${RECORD_NOUN[entity]} field nor a defined custom field (define custom fields in ipam-config first)`);
    }
    if (seen.has(target)) throw headerError(header, `names the same field as column ${show(seen.get(target))}`);
    seen.set(target, header);
    return field !== undefined
      ? { kind: 'field', field, header }
      : { kind: 'custom', name: custom!.name, header };
  });
  for (const field of mandatory) {
    if (!seen.has(field)) {
      const column = COLUMNS[entity].find((c) => c.field === field)!;
      throw new IpamError(
        'VALIDATION',
        `header: mandatory column ${show(column.header)} is missing (${entity} need ${mandatory.map((f) => headerOf(entity, f)).join(', ')})`,
        { field: 'header', value: column.header },
      );
    }
  }
  return mapping;
}

export function headerOf(entity: Entity, field: string): string {
  return COLUMNS[entity].find((c) => c.field === field)?.header ?? field;
}

function lookupTable(entity: Entity): Map<string, string> {
  const table = new Map<string, string>();
  for (const column of COLUMNS[entity]) {
    if (column.exportOnly) continue;
    for (const name of [column.field, column.field.replace('.', ''), column.header, ...(column.aliases ?? [])]) {
      table.set(fold(name), column.field);
    }
  }
  return table;
}

function headerError(header: string, reason: string): IpamError {
  return new IpamError('VALIDATION', `header ${show(header)}: ${reason}`, { field: 'header', value: header });
}
