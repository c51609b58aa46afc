/** Shared by the benchmarks: timing and the one-line JSON output. */
import { performance } from 'node:perf_hooks';

/** Median milliseconds of `runs` sequential calls. */
export async function medianMs(runs: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return median(times);
}

/** The middle value (the upper one of an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Runs a benchmark's `main`: `cleanup` runs when it ends either way; an error is printed and the process
 * exits 1 (open handles of the failed run must not keep it alive).
 */
export function runBench(main: () => Promise<void>, cleanup: () => void = () => {}): void {
  main().then(cleanup, (err: unknown) => {
    cleanup();
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}

export function report(metric: string, values: Record<string, unknown>): void {
  const rounded = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1000) / 1000 : v]),
  );
  console.log(JSON.stringify({ metric, ...rounded }));
}
