/**
 * Record ids (lib/ids.ts): UUID version 7 text, unique, and increasing in the order they are made, also
 * many within one millisecond and when the clock stands still or steps back.
 */
import { expect } from 'chai';
import { newId } from '../../lib/ids';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function made(count: number): string[] {
  return Array.from({ length: count }, () => newId());
}

function expectIncreasing(ids: string[]): void {
  for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1], `${ids[i - 1]} then ${ids[i]}`).to.equal(true);
}

describe('record ids', () => {
  it('are version 7 UUIDs, unique and increasing in the order they are made', () => {
    const ids = made(20_000);
    for (const id of ids) expect(id).to.match(UUID_V7);
    expect(new Set(ids).size).to.equal(ids.length);
    expectIncreasing(ids);
  });

  it('carry the time they were made in their first 48 bits', () => {
    const before = Date.now();
    const id = newId();
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).to.be.at.least(before);
    expect(ms).to.be.at.most(Date.now() + 1);
  });

  describe('with the clock standing still or stepping back', () => {
    const realNow = Date.now;
    afterEach(() => {
      Date.now = realNow;
    });

    it('keep increasing past 4,096 ids in one millisecond and after the clock steps back', () => {
      // The present, not a future time: the generator keeps the last time it used, and every later test's ids
      // would carry a future time (10,000 ids borrow only about 3 ms past it).
      const start = realNow();
      Date.now = () => start;
      const still = made(10_000);
      Date.now = () => start - 5_000;
      const back = made(100);
      const ids = [...still, ...back];
      expect(new Set(ids).size).to.equal(ids.length);
      expectIncreasing(ids);
      for (const id of ids) expect(id).to.match(UUID_V7);
    });
  });
});
