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
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function report(metric: string, values: Record<string, unknown>): void {
  const rounded = Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1000) / 1000 : v]),
  );
  console.log(JSON.stringify({ metric, ...rounded }));
}
