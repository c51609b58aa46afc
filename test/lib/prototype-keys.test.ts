/**
 * User-supplied names that are also members of Object.prototype (`constructor`, `toString`, `__proto__`)
 * are ordinary unknown names everywhere: refused by name, never found, never a prototype.
 */
import { expect } from 'chai';
import { defineCustomField, type AddressRecord } from '../../lib/record';
import { Ipam } from '../../lib/ipam';
import fc from 'fast-check';
import { bareObject, merged } from '../../lib/own';
import type { InventoryPage } from '../../lib/lifecycle';
import type { Collection, Doc, Store } from '../../lib/store';
import { failure } from '../support/failure';
import { embeddedMemory } from '../support/stores';

/** JSON as it arrives from an HTTP request: `__proto__` is an own key there. */
const fromJson = (text: string): unknown => JSON.parse(text);

describe('bareObject', () => {
  it('has no prototype: prototype member names are own fields, never found and never a prototype', () => {
    const table = bareObject();
    expect(Object.getPrototypeOf(table)).to.equal(null);
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) expect(table[name], name).to.equal(undefined);
    const polluting = { polluted: true };
    for (const name of ['__proto__', 'constructor', 'toString']) table[name] = polluting;
    expect(Object.getPrototypeOf(table)).to.equal(null);
    expect(Object.keys(table)).to.deep.equal(['__proto__', 'constructor', 'toString']);
    expect((table as { polluted?: boolean }).polluted).to.equal(undefined);
    const copy = { ...table };
    expect(Object.getPrototypeOf(copy)).to.equal(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).to.equal(true);
    expect(({} as { polluted?: boolean }).polluted).to.equal(undefined);
  });
});

describe('merged', () => {
  /** Objects with any own keys, prototype member names among them, as JSON.parse makes them (`__proto__` own). */
  const objects = fc
    .dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'a', 'b', '0', '10'), fc.string()), fc.jsonValue(), { maxKeys: 6 })
    .map((o) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>);

  it('gives what {...base, ...extra} gives: the same own fields, values and order, and an ordinary prototype', () => {
    fc.assert(
      fc.property(objects, objects, (base, extra) => {
        const out = merged(base, extra) as Record<string, unknown>;
        const spread = { ...base, ...extra };
        expect(Object.keys(out)).to.deep.equal(Object.keys(spread));
        for (const key of Object.keys(spread)) expect(Object.getOwnPropertyDescriptor(out, key)).to.deep.equal(Object.getOwnPropertyDescriptor(spread, key));
        expect(Object.getPrototypeOf(out)).to.equal(Object.prototype);
      }),
      { numRuns: 500 },
    );
  });

  it('copies own fields only, from prototype-less objects too, and leaves both inputs as they were', () => {
    const base = bareObject();
    base.deviceName = 'h1';
    const inherited = Object.assign(Object.create({ inheritedField: 1 }), { own: 2 }) as Record<string, unknown>;
    expect(merged(base, inherited)).to.deep.equal({ deviceName: 'h1', own: 2 });
    expect(merged(inherited, base)).to.deep.equal({ own: 2, deviceName: 'h1' });
    expect(Object.keys(base)).to.deep.equal(['deviceName']);
    expect(Object.keys(inherited)).to.deep.equal(['own']);
  });
});

describe('prototype keys in user input', () => {
  let ipam: Ipam;
  beforeEach(async () => {
    ipam = Ipam.over(await embeddedMemory.open());
    await ipam.perform('address', 'add', { address: '10.0.0.1', deviceName: 'h1' });
    await ipam.perform('address', 'add', { address: '10.0.0.2', deviceName: 'h2' });
  });
  afterEach(() => ipam.close());

  for (const payload of ['{"__proto__": {"deviceName": "h1"}}', '{"filter": {"__proto__": {"deviceName": "h1"}}}']) {
    it(`list ${payload} is refused, not widened to the whole inventory`, async () => {
      const err = await failure(ipam.perform('address', 'list', fromJson(payload)));
      expect(err.code).to.equal('VALIDATION');
      expect(err.field).to.equal('filter.__proto__');
      expect(err.message).to.equal('filter.__proto__ {"deviceName":"h1"}: is not an address field');
    });
  }

  it('a filter combining a real field with __proto__ is refused too (it never silently drops a key)', async () => {
    const err = await failure(ipam.perform('address', 'list', fromJson('{"deviceName": "h2", "__proto__": {"x": 1}}')));
    expect(err.field).to.equal('filter.__proto__');
  });

  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    it(`entity ${JSON.stringify(name)} fails export and import with VALIDATION naming entity`, async () => {
      for (const operation of ['export', 'import']) {
        const err = await failure(ipam.perform('import', operation, { entity: name, csv: 'IP address\n10.0.0.9' }));
        expect(err.code, operation).to.equal('VALIDATION');
        expect(err.field, operation).to.equal('entity');
      }
    });

    it(`operation ${JSON.stringify(name)} is refused on every node kind`, async () => {
      for (const kind of ['block', 'range', 'address', 'expiry', 'import', 'sync'] as const) {
        const err = await failure(ipam.perform(kind, name, {}));
        expect(err.code, kind).to.equal('VALIDATION');
        expect(err.field, kind).to.equal('operation');
      }
    });

    it(`groupBy ${JSON.stringify(name)} is refused by name`, async () => {
      const err = await failure(ipam.perform('address', 'list', { groupBy: name }));
      expect(err.field).to.equal('groupBy');
    });
  }

  it('a record field named __proto__ is refused by name, not turned into the input prototype', async () => {
    const input = { ...(fromJson('{"__proto__": {"address": "10.0.0.7"}}') as object), address: '10.0.0.8' };
    const err = await failure(ipam.perform('address', 'add', input));
    expect(err.code).to.equal('VALIDATION');
    expect(err.field).to.equal('__proto__');
    expect(await ipam.perform('address', 'list', { address: '10.0.0.8' })).to.deep.equal([]);
  });

  it('a custom field named __proto__ cannot be defined', async () => {
    const err = await failure(defineCustomField(ipam, { name: '__proto__', multiValue: false }));
    expect(err.field).to.equal('customField.name');
  });

  it('a custom field named constructor is a field like any other: absent means empty, in export and groups', async () => {
    await defineCustomField(ipam, { name: 'constructor', multiValue: false });
    await ipam.perform('address', 'add', { address: '10.0.0.3', customFields: { constructor: 'lab' } });
    const csv = ((await ipam.perform('import', 'export', { entity: 'addresses' })) as { payload: string }).payload;
    const lines = csv.trim().split('\n');
    expect(lines[0].split(',').at(-1)).to.equal('constructor');
    expect(lines.map((line) => line.split(',').at(-1))).to.deep.equal(['constructor', '', '', 'lab']);
    const page = (await ipam.perform('address', 'list', { groupBy: 'constructor' })) as InventoryPage;
    expect(page.groups?.map((g) => [g.value, g.items.map((i: AddressRecord) => i.address)])).to.deep.equal([
      ['lab', ['10.0.0.3']],
      [null, ['10.0.0.1', '10.0.0.2']],
    ]);
  });

  it('an export whose store fails part-way rejects with the error (no uncaught stream error)', async () => {
    const failing = failingAfter(ipam.store, 2);
    const broken = Ipam.over(failing);
    const uncaught: unknown[] = [];
    const record = (err: unknown): number => uncaught.push(err);
    process.on('uncaughtException', record);
    try {
      const err = await failure(broken.perform('import', 'export', { entity: 'addresses', batchSize: 1 }));
      expect(err.message).to.equal('store went away');
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).to.deep.equal([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});

/** The same store, whose address `find` fails from the n-th call on. */
function failingAfter(store: Store, calls: number): Store {
  let count = 0;
  return {
    ...store,
    kind: store.kind,
    transactional: store.transactional,
    now: () => store.now(),
    atomic: (writes) => store.atomic(writes),
    close: () => store.close(),
    collection: <T extends Doc>(name: Parameters<Store['collection']>[0]): Collection<T> => {
      const collection = store.collection<T>(name);
      if (name !== 'addresses') return collection;
      return Object.assign(Object.create(collection) as Collection<T>, {
        find: async (...args: Parameters<Collection<T>['find']>) => {
          if (++count >= calls) throw new Error('store went away');
          return collection.find(...args);
        },
      });
    },
  };
}

describe('export to a file that cannot be written', () => {
  it('fails with VALIDATION naming filename, not a raw ENOENT', async () => {
    const ipam = Ipam.over(await embeddedMemory.open());
    try {
      const err = await failure(ipam.perform('import', 'export', { entity: 'blocks', filename: '/nonexistent-dir/x/blocks.csv' }));
      expect(err).to.include({ code: 'VALIDATION', field: 'filename' });
      expect(err.message).to.equal('filename "/nonexistent-dir/x/blocks.csv": cannot be written (ENOENT)');
    } finally {
      await ipam.close();
    }
  });
});
