/**
 * How a node that repeats (ipam-sync, ipam-expiry) runs its work, with one overlap rule for all of them:
 * runs of one node never overlap. Every run goes through the node's RunQueue, so a message that arrives
 * during a run waits for it (messages are never dropped); a scheduled run that comes due while a run is
 * going is skipped (`onSkip`, the node warns), and the next one comes due one interval after a run ends.
 */

export const HOUR_MS = 3_600_000;
/** setTimeout's limit is about 24.8 days; a schedule stays below it. */
export const MAX_INTERVAL_HOURS = 24 * 24;

/** A node's `intervalHours` setting in ms: empty = the default, 0 or not a positive number = on input only. */
export function intervalMsOf(hours: unknown, defaultHours: number): number {
  const value = Number(hours === undefined || hours === '' ? defaultHours : hours);
  return Number.isFinite(value) && value > 0 ? Math.min(value, MAX_INTERVAL_HOURS) * HOUR_MS : 0;
}

/** The interval as a node's status shows it: `6 h`, `0.5 h`. */
export function intervalText(intervalMs: number): string {
  return `${Number(intervalMs / HOUR_MS).toPrecision(3).replace(/\.?0+$/, '')} h`;
}

/**
 * The one time format of node status lines: `HH:MMZ` on the current UTC day, `YYYY-MM-DD HH:MMZ` on
 * any other, so a run at 23:59 and a check due tomorrow both read unambiguously.
 */
export function statusTime(date: Date, now: Date = new Date()): string {
  const iso = date.toISOString();
  const time = `${iso.slice(11, 16)}Z`;
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

/**
 * When the first scheduled run is due, measured from the last run (kept in the store, so a redeploy
 * neither postpones it forever nor repeats it early): now when there was none, never later than one interval.
 */
export function firstRunInMs(lastRun: string | null, intervalMs: number, now = Date.now()): number {
  if (lastRun === null) return 0;
  const due = Date.parse(lastRun) + intervalMs - now;
  return Math.min(Math.max(Number.isNaN(due) ? 0 : due, 0), intervalMs);
}

/** Runs one node's work one after another. */
export class RunQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private running = 0;

  /** True while a run is going or waiting. */
  get busy(): boolean {
    return this.running > 0;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.running++;
    const next = this.tail.then(work);
    this.tail = next.catch(() => undefined);
    return next.finally(() => {
      this.running--;
    });
  }

  /** Settles when every run queued so far has ended. */
  async idle(): Promise<void> {
    await this.tail;
  }
}

export interface ScheduleOptions {
  intervalMs: number;
  /** Delay of the first run (default 0). */
  firstRunInMs?: number;
  queue: RunQueue;
  /** One scheduled run; it goes through `queue` and handles its own failure. */
  run: () => Promise<unknown>;
  /** A scheduled run came due while another run was going, and was skipped. */
  onSkip: () => void;
}

export interface Schedule {
  stop(): void;
}

/** Starts a schedule; `stop()` (on the node's close) clears its timer and starts no further run. */
export function startSchedule(options: ScheduleOptions): Schedule {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (delayMs: number): void => {
    if (!stopped) timer = setTimeout(tick, delayMs);
  };
  const tick = (): void => {
    if (stopped) return;
    if (options.queue.busy) {
      options.onSkip();
      arm(options.intervalMs);
      return;
    }
    options
      .run()
      .catch(() => undefined)
      .finally(() => arm(options.intervalMs));
  };
  arm(options.firstRunInMs ?? 0);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
