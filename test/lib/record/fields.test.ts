/**
 * The field table (lib/record/fields.ts): every field of every entity round-trips through add → get → CSV
 * export → import → get, and the table agrees with the store's indexes.
 */
import { expect } from 'chai';
import path from 'node:path';
import type { CsvOutcome, CsvRequest } from '../../../lib/csv';
import { defineCustomField } from '../../../lib/record/custom-fields';
import { FIELD_TABLE, INTERNAL_FIELDS, optionalFields } from '../../../lib/record/fields';
import { Ipam } from '../../../lib/ipam';
import type { Entity } from '../../../lib/record/records';
import { openStore, INDEXES } from '../../../lib/store';
import { tempDir } from '../../support/stores';

const ENTITIES: Entity[] = ['blocks', 'ranges', 'addresses'];
const KIND = { blocks: 'block', ranges: 'range', addresses: 'address' } as const;

/**
 * A value for every input field (dotted for nested ones), none of them a default, all in canonical
 * spelling. A field added to the table without a sample here fails the first test.
 */
const SAMPLES: Record<Entity, Record<string, unknown>> = {
  blocks: {
    network: '198.51.100.0/24',
    startAddress: '198.51.100.0',
    endAddress: '198.51.100.255',
    prefixLength: 24,
    rir: 'RIPE',
    description: 'lab block, "quoted", with a comma',
    addressSpace: 'Lab',
    customFields: { Owner: 'network team' },
  },
  ranges: {
    network: '198.51.100.0/25',
    startAddress: '198.51.100.10',
    endAddress: '198.51.100.100',
    prefixLength: 25,
    managedByService: 'Other',
    serviceInstance: 'lab-1',
    assignmentType: 'Dynamic',
    exclusions: [{ startAddress: '198.51.100.20', endAddress: '198.51.100.30' }],
    description: 'lab scope',
    addressSpace: 'Lab',
    customFields: { Owner: 'dhcp team' },
  },
  addresses: {
    address: '198.51.100.50',
    managedByService: 'Other',
    serviceInstance: 'lab-1',
    deviceType: 'Router',
    ipAddressState: 'Reserved',
    assignmentType: 'Reserved',
    macAddress: '52:54:00:12:34:56',
    deviceName: 'edge-1',
    description: 'uplink; second line',
    addressSpace: 'Lab',
    expiryDate: '2099-01-31',
    duid: '00:01:00:01:2c:5d:11:22:52:54:00:12:34:56',
    iaid: 4000000000,
    requestId: 'round-trip-1',
    customFields: { Owner: 'ops' },
    'dhcpReservation.serverName': 'kea-1',
    'dhcpReservation.scopeName': 'lab scope',
    'dhcpReservation.name': 'edge-1',
    'dhcpReservation.type': 'DHCP',
    'dhcpReservation.description': 'reserved for the uplink',
    'dhcpReservation.syncStatus': 'Synced',
    'dhcpReservation.syncMessage': 'ok',
    'dns.forwardZone': 'lab.example.',
    'dns.forwardPrimaryServer': 'ns1.lab.example.',
    'dns.reverseZone': '100.51.198.in-addr.arpa.',
    'dns.reversePrimaryServer': 'ns1.lab.example.',
    'dns.hostSyncStatus': 'Synced',
    'dns.ptrSyncStatus': 'Failed',
    'dns.syncMessage': 'PTR refused',
  },
};

/** Derived on read from the other fields (not store-given ids or times): they must round-trip too. */
const DERIVED: Record<Entity, Record<string, unknown>> = {
  blocks: { family: 4, isPrivate: false },
  ranges: { family: 4 },
  addresses: { family: 4, expiryStatus: 'Not expired' },
};

function inputFields(entity: Entity): string[] {
  return FIELD_TABLE[entity].filter((spec) => !spec.readOnly).map((spec) => spec.name);
}

/** The sample as an input object: dotted names nested. */
function inputOf(entity: Entity): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(SAMPLES[entity])) {
    const [parent, child] = name.split('.');
    if (child === undefined) input[parent] = value;
    else ((input[parent] ??= {}) as Record<string, unknown>)[child] = value;
  }
  return input;
}

function valueAt(record: Record<string, unknown>, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((value, part) => (value as Record<string, unknown> | undefined)?.[part], record);
}

function selectorOf(entity: Entity): Record<string, unknown> {
  const sample = SAMPLES[entity];
  return entity === 'addresses'
    ? { address: sample.address, addressSpace: sample.addressSpace }
    : { network: sample.network, addressSpace: sample.addressSpace };
}

async function openIpam(): Promise<Ipam> {
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  await defineCustomField(ipam, { name: 'Owner', multiValue: false });
  return ipam;
}

const get = (ipam: Ipam, entity: Entity) => ipam.perform(KIND[entity], 'get', selectorOf(entity)) as Promise<Record<string, unknown>>;

function expectEveryField(entity: Entity, record: Record<string, unknown>, where: string): void {
  for (const [field, value] of Object.entries({ ...SAMPLES[entity], ...DERIVED[entity] })) {
    expect(valueAt(record, field), `${entity} ${field} after ${where}`).to.deep.equal(value);
  }
}

describe('field table', () => {
  it('the round-trip samples name every input field of every entity, and only those', () => {
    for (const entity of ENTITIES) {
      expect(Object.keys(SAMPLES[entity]).sort(), entity).to.deep.equal(inputFields(entity).sort());
    }
  });

  it('its indexed fields are the record fields lib/store/schema.ts indexes', () => {
    for (const entity of ENTITIES) {
      const indexed = FIELD_TABLE[entity].filter((spec) => spec.indexed).map((spec) => spec.name).sort();
      const inStore = INDEXES[entity].map((index) => index.field).filter((field) => !INTERNAL_FIELDS.includes(field)).sort();
      expect(indexed, entity).to.deep.equal(inStore);
    }
  });

  it('an update keeps every field it does not name, and clears the optional ones it names empty', async () => {
    const ipam = await openIpam();
    try {
      for (const entity of ENTITIES) {
        const { id } = (await ipam.perform(KIND[entity], 'add', inputOf(entity))) as { id: string };
        await ipam.perform(KIND[entity], 'update', { id, description: 'changed' });
        const changed = await get(ipam, entity);
        expect(changed.description).to.equal('changed');
        const rest = Object.fromEntries(Object.entries(SAMPLES[entity]).filter(([field]) => field !== 'description'));
        for (const [field, value] of Object.entries(rest)) expect(valueAt(changed, field), `${entity} ${field}`).to.deep.equal(value);
        // A public IPv4 block must keep its RIR (the guide's rule), so it is not cleared here.
        const clearable = optionalFields(entity).filter((field) => !(entity === 'blocks' && field === 'rir'));
        await ipam.perform(KIND[entity], 'update', { id, ...Object.fromEntries(clearable.map((field) => [field, null])) });
        const cleared = await get(ipam, entity);
        for (const field of clearable) expect(cleared, `${entity} ${field} cleared`).to.not.have.property(field);
        expect(valueAt(cleared, 'addressSpace')).to.equal('Lab');
      }
    } finally {
      await ipam.close();
    }
  });

  it('every field of every entity round-trips through add, get, CSV export and import', async () => {
    const source = await openIpam();
    const target = await openIpam();
    const folder = tempDir();
    try {
      for (const entity of ENTITIES) {
        await source.perform(KIND[entity], 'add', inputOf(entity));
        expectEveryField(entity, await get(source, entity), 'add and get');
      }
      for (const entity of ENTITIES) {
        const filename = path.join(folder, `${entity}.csv`);
        const request: CsvRequest = { entity, filename, filter: { addressSpace: 'Lab' } } as CsvRequest;
        await source.perform('import', 'export', request);
        const outcome = (await target.perform('import', 'import', { entity, filename } as CsvRequest)) as CsvOutcome;
        const result = outcome.payload as { created: number; failed: number; errors: unknown[] };
        expect(result.failed, JSON.stringify(result.errors)).to.equal(0);
        expect(result.created, entity).to.equal(1);
        expectEveryField(entity, await get(target, entity), 'export and import');
      }
      // Mapping is derived on import as on add: the imported range lies in the imported block, and so on.
      const [block, range, address] = await Promise.all(ENTITIES.map((entity) => get(target, entity)));
      expect(range.blockId).to.equal(block.id);
      expect(address).to.include({ rangeId: range.id, blockId: block.id });
    } finally {
      await source.close();
      await target.close();
    }
  });
});
