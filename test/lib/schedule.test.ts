/**
 * The one scheduler of repeating nodes (lib/schedule.ts): runs never overlap, a scheduled run due during
 * a run is skipped, one time format, the first run measured from the last.
 */
import { expect } from 'chai';
import { firstRunInMs, HOUR_MS, intervalMsOf, RunQueue, startSchedule, statusTime } from '../../lib/schedule';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('schedule', () => {
  it('intervalMsOf: empty is the default, 0 or nonsense is on input only, long ones are capped', () => {
    expect(intervalMsOf('', 6)).to.equal(6 * HOUR_MS);
    expect(intervalMsOf(undefined, 24)).to.equal(24 * HOUR_MS);
    expect(intervalMsOf('0.5', 6)).to.equal(HOUR_MS / 2);
    expect(intervalMsOf(0, 6)).to.equal(0);
    expect(intervalMsOf('soon', 6)).to.equal(0);
    expect(intervalMsOf(-1, 6)).to.equal(0);
    expect(intervalMsOf(10_000, 6)).to.equal(24 * 24 * HOUR_MS);
  });

  it('statusTime: the time alone on the current UTC day, with the date on any other', () => {
    const now = new Date('2026-12-02T10:00:00Z');
    expect(statusTime(new Date('2026-12-02T23:59:30Z'), now)).to.equal('23:59Z');
    expect(statusTime(new Date('2026-12-03T00:01:00Z'), now)).to.equal('2026-12-03 00:01Z');
    expect(statusTime(new Date('2026-12-01T08:05:00Z'), now)).to.equal('2026-12-01 08:05Z');
  });

  it('firstRunInMs: now without a last run, the rest of the interval after one, never more than an interval', () => {
    const now = Date.parse('2026-12-02T10:00:00Z');
    expect(firstRunInMs(null, HOUR_MS, now)).to.equal(0);
    expect(firstRunInMs('2026-12-02T09:45:00Z', HOUR_MS, now)).to.equal(45 * 60_000);
    expect(firstRunInMs('2026-12-02T08:00:00Z', HOUR_MS, now)).to.equal(0);
    // A last run in the future (a clock set back) waits one interval at most.
    expect(firstRunInMs('2026-12-03T10:00:00Z', HOUR_MS, now)).to.equal(HOUR_MS);
  });

  it('RunQueue runs one after another, in order, and goes on after a failure', async () => {
    const queue = new RunQueue();
    const log: string[] = [];
    const job = (name: string, ms: number, fail = false) => queue.run(async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    });
    const runs = [job('a', 20, true), job('b', 5), job('c', 1)];
    expect(queue.busy).to.equal(true);
    const settled = await Promise.allSettled(runs);
    expect(settled.map((s) => s.status)).to.deep.equal(['rejected', 'fulfilled', 'fulfilled']);
    expect(log).to.deep.equal(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(queue.busy).to.equal(false);
  });

  it('a scheduled run due while a run is going is skipped; the next comes an interval after', async () => {
    const queue = new RunQueue();
    let scheduledRuns = 0;
    let skips = 0;
    let finishInput!: () => void;
    const input = queue.run(() => new Promise<void>((resolve) => (finishInput = resolve)));
    const schedule = startSchedule({
      intervalMs: 20,
      queue,
      run: () => queue.run(async () => void scheduledRuns++),
      onSkip: () => skips++,
    });
    try {
      await sleep(70);
      expect(scheduledRuns, 'no scheduled run while the input run goes on').to.equal(0);
      expect(skips).to.be.at.least(2);
      finishInput();
      await input;
      await sleep(70);
      expect(scheduledRuns).to.be.at.least(1);
    } finally {
      schedule.stop();
    }
    const after = scheduledRuns;
    await sleep(50);
    expect(scheduledRuns, 'stop() starts no further run').to.equal(after);
  });
});
