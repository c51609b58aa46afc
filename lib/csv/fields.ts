/**
 * CSV columns of each entity: the guide's header names (written on export, matched on import) and the
 * record field each one fills. Headers match case-insensitively, ignoring spaces, quotes and dashes.
 */
import type { CustomFieldDefinition } from '../custom-fields';
import { fold } from '../enums';
import { IpamError, show } from '../errors';
import { RECORD_NOUN, type Entity } from '../records';

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

const NETWORK: Column[] = [
  { field: 'network', header: 'Network', aliases: ['Network ID'] },
  { field: 'startAddress', header: 'Start IP address' },
  { field: 'endAddress', header: 'End IP address' },
  { field: 'prefixLength', header: 'Prefix length', importOnly: true },
];
const SERVICE: Column[] = [
  { field: 'managedByService', header: 'Managed by service' },
  { field: 'serviceInstance', header: 'Service instance' },
];
const TAIL: Column[] = [
  { field: 'description', header: 'Description' },
  { field: 'addressSpace', header: 'Address space' },
];

export const COLUMNS: Record<Entity, Column[]> = {
  blocks: [...NETWORK, { field: 'rir', header: 'RIR' }, ...TAIL],
  ranges: [
    ...NETWORK,
    ...SERVICE,
    { field: 'assignmentType', header: 'Assignment type' },
    { field: 'exclusions', header: 'Exclusions' },
    ...TAIL,
  ],
  addresses: [
    { field: 'address', header: 'IP address' },
    ...SERVICE,
    { field: 'deviceType', header: 'Device type' },
    { field: 'ipAddressState', header: 'IP address state' },
    { field: 'assignmentType', header: 'Assignment type' },
    { field: 'macAddress', header: 'MAC address' },
    { field: 'deviceName', header: 'Device name' },
    ...TAIL,
    { field: 'expiryDate', header: 'Expiry date' },
    { field: 'expiryStatus', header: 'Expiry status', exportOnly: true },
    { field: 'duid', header: 'DUID' },
    { field: 'iaid', header: 'IAID' },
    { field: 'requestId', header: 'Request ID' },
    { field: 'dhcpReservation.serverName', header: 'Reservation server name' },
    { field: 'dhcpReservation.scopeName', header: 'Reservation scope name' },
    { field: 'dhcpReservation.name', header: 'Reservation name' },
    { field: 'dhcpReservation.type', header: 'Reservation type' },
    { field: 'dhcpReservation.description', header: 'Reservation description' },
    { field: 'dhcpReservation.syncStatus', header: 'Reservation sync status' },
    { field: 'dhcpReservation.syncMessage', header: 'Reservation sync message' },
    { field: 'dns.forwardZone', header: 'Forward lookup zone' },
    { field: 'dns.forwardPrimaryServer', header: 'Forward lookup primary server' },
    { field: 'dns.reverseZone', header: 'Reverse lookup zone' },
    { field: 'dns.reversePrimaryServer', header: 'Reverse lookup primary server' },
    { field: 'dns.hostSyncStatus', header: 'DNS host record sync status' },
    { field: 'dns.ptrSyncStatus', header: 'DNS PTR record sync status' },
    { field: 'dns.syncMessage', header: 'DNS sync message' },
  ],
};

/** The guide's mandatory import fields. A block's RIR is checked per row (required only when public IPv4). */
export const MANDATORY: Record<Entity, string[]> = {
  addresses: ['address', 'managedByService', 'serviceInstance', 'deviceType', 'ipAddressState', 'assignmentType'],
  ranges: ['network', 'startAddress', 'endAddress', 'managedByService', 'serviceInstance', 'assignmentType'],
  blocks: ['network', 'startAddress', 'endAddress'],
};

/**
 * Columns other tools (and our own `list` output or error report) carry that the store derives itself:
 * accepted and ignored on import, so such files import as they stand.
 */
const IGNORED = ['id', 'family', 'isPrivate', 'blockId', 'rangeId', 'parentId', 'createdAt', 'updatedAt', 'expiryStatus', 'error'];

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
