/**
 * Record ids for the collections that grow by the million (addresses, history entries): UUID version 7
 * (RFC 9562), a 48-bit millisecond time, then a 12-bit counter that keeps ids of one process increasing
 * within a millisecond, then 62 random bits. Ids written one after another sort one after another, so
 * each insert into the primary-key index (and into indexes of ids, such as history's `recordId`) lands
 * on the last page instead of a random one: a bulk import rewrites a few pages per batch, not one per row.
 * Still unguessable enough for an id (62 random bits) and a valid UUID string.
 */
import { randomFillSync } from 'node:crypto';

const POOL_IDS = 512;
const pool = Buffer.alloc(POOL_IDS * 8);
let poolAt = POOL_IDS;
let lastMs = 0;
let counter = 0;
let prefixMs = -1;
let prefix = '';
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX3 = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, '0'));

export function newId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    // Same millisecond (or the clock stepped back): count on; past 4095 borrow the next millisecond.
    ms = lastMs;
    if (++counter > 0xfff) {
      ms = ++lastMs;
      counter = 0;
    }
  } else {
    lastMs = ms;
    counter = 0;
  }
  if (poolAt === POOL_IDS) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt++ * 8;
  if (ms !== prefixMs) {
    const time = ms.toString(16).padStart(12, '0');
    prefix = `${time.slice(0, 8)}-${time.slice(8)}-7`;
    prefixMs = ms;
  }
  const p = pool;
  return (
    prefix + HEX3[counter] + '-' + HEX[(p[at] & 0x3f) | 0x80] + HEX[p[at + 1]] + '-' +
    HEX[p[at + 2]] + HEX[p[at + 3]] + HEX[p[at + 4]] + HEX[p[at + 5]] + HEX[p[at + 6]] + HEX[p[at + 7]]
  );
}
