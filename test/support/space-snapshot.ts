/** A comparable picture of an address space, for tests that check a change left it as before or as after. */
import { expect } from 'chai';
import type { Ipam } from '../../lib/ipam';
import { coverOf } from '../../lib/space';
import type { Collection, CollectionName, Doc, Store } from '../../lib/store';

/**
 * Nested blocks, a range of each of two pairs, `addresses` addresses in the first range and as many unmapped ones
 * of a third pair (which the add-range operation of structural-crash-child.ts takes).
 */
export async function seedSpace(ipam: Ipam, addresses: number): Promise<void> {
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  await ipam.perform('block', 'add', { network: '10.0.0.0/16' });
  await ipam.perform('block', 'add', { network: '10.0.64.0/18' });
  await ipam.perform('range', 'add', { network: '10.0.0.0/21', description: 'wide' });
  await ipam.perform('range', 'add', { network: '10.0.8.0/24', managedByService: 'Non-MS DHCP', serviceInstance: 'Switch' });
  const header = 'IP address,Managed by service,Service instance,Device type,IP address state,Assignment type';
  const at = (third: number, i: number) => `10.0.${third + Math.floor((i + 1) / 256)}.${(i + 1) % 256}`;
  const rows = Array.from({ length: addresses }, (_, i) => `${at(0, i)},IPAM,Localhost,Host,In-Use,Static`);
  rows.push(...Array.from({ length: addresses }, (_, i) => `${at(16, i)},Non-MS DHCP,Router,Host,In-Use,Static`));
  rows.push('10.0.8.7,Non-MS DHCP,Switch,Host,In-Use,Static', '10.0.70.1,IPAM,Localhost,Host,In-Use,Static');
  await ipam.perform('import', 'import', { entity: 'addresses', csv: [header, ...rows].join('\n') });
}

const WRITES = ['insertOne', 'insertMany', 'updateOne', 'updateMany', 'deleteOne', 'deleteMany'] as const;

/** The store, with every write (each collection write and each atomic batch) numbered; `onWrite` runs just before it. */
export function countingWrites(store: Store, onWrite: (n: number) => void): { store: Store; writes: () => number } {
  let writes = 0;
  const point = (): void => onWrite(++writes);
  const collection = <T extends Doc>(name: CollectionName): Collection<T> => {
    const inner = store.collection<T>(name);
    const wrapped: Record<string, unknown> = { findOne: inner.findOne.bind(inner), find: inner.find.bind(inner), count: inner.count.bind(inner), values: inner.values.bind(inner) };
    for (const method of WRITES) {
      wrapped[method] = async (...args: unknown[]) => {
        point();
        return (inner[method] as (...a: unknown[]) => unknown).apply(inner, args);
      };
    }
    return wrapped as unknown as Collection<T>;
  };
  return {
    writes: () => writes,
    store: {
      kind: store.kind,
      transactional: store.transactional,
      collection,
      atomic: async (batch) => {
        point();
        return store.atomic(batch);
      },
      now: () => store.now(),
      close: () => store.close(),
    },
  };
}

export interface Snapshot {
  blocks: Record<string, unknown>[];
  ranges: Record<string, unknown>[];
  addresses: string[];
}

export function isEqual(a: Snapshot, b: Snapshot): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Blocks, ranges and addresses with ids replaced by the keys they name (a re-run creates new ids) and the
 * timestamps left out; every counter and range cover is checked against a recount here.
 */
export async function snapshot(ipam: Ipam): Promise<Snapshot> {
  const read = (name: 'blocks' | 'ranges' | 'addresses') => ipam.store.collection(name).find({}, { sort: { key: 1 } });
  const [blocks, ranges, addresses] = await Promise.all([read('blocks'), read('ranges'), read('addresses')]);
  const counters = new Map((await ipam.store.collection('counters').find({})).map((doc) => [doc.id, doc.assignedCount]));
  const keyOf = new Map<unknown, unknown>([...blocks, ...ranges].map((doc) => [doc.id, doc.key]));
  const ref = (id: unknown) => (id ? keyOf.get(id) ?? `missing ${String(id)}` : null);
  for (const [docs, field] of [[ranges, 'rangeId'], [blocks, 'blockId']] as const) {
    for (const doc of docs) {
      const counted = addresses.filter((address) => address[field] === doc.id).length;
      expect(counters.get(doc.id), `${field === 'rangeId' ? 'range' : 'block'} ${String(doc.network)} counter`).to.equal(counted);
    }
  }
  for (const block of blocks) {
    expect({ rangedSize: block.rangedSize, straddling: block.straddling }, `block ${String(block.network)} range cover`).to.deep.equal(await coverOf(ipam, block.id));
  }
  const plain = (doc: Doc) => {
    const { id: _id, createdAt: _c, updatedAt: _u, parentId, blockId, ...rest } = doc;
    return { ...rest, ...(parentId !== undefined ? { parent: ref(parentId) } : {}), ...(blockId !== undefined ? { block: ref(blockId) } : {}) };
  };
  return {
    blocks: blocks.map(plain),
    ranges: ranges.map(plain),
    addresses: addresses.map((doc) => `${String(doc.address)} range=${String(ref(doc.rangeId))} block=${String(ref(doc.blockId))}`),
  };
}

