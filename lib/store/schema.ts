import type { CollectionName, IndexSpec } from './port';

/**
 * Indexes of every collection, created by each adapter when it opens.
 * Keys are `<addressSpace>|<family>|<fixed-width hex>` strings, so one single-field index
 * serves equality, uniqueness and ordered interval queries on every backend.
 */
export const INDEXES: Record<CollectionName, IndexSpec[]> = {
  blocks: [{ field: 'key', unique: true }, { field: 'startKey' }, { field: 'spanKey' }, { field: 'parentId' }],
  ranges: [{ field: 'key', unique: true }, { field: 'startKey' }, { field: 'spanKey' }, { field: 'blockId' }],
  addresses: [
    { field: 'key', unique: true },
    { field: 'requestKey', unique: true, sparse: true },
    { field: 'rangeId' },
    { field: 'blockId' },
    { field: 'expiryDate', sparse: true },
  ],
  settings: [{ field: 'name', unique: true }],
  locks: [{ field: 'name', unique: true }],
  journal: [{ field: 'name', unique: true }],
};

export const COLLECTIONS = Object.keys(INDEXES) as CollectionName[];
