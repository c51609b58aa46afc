/**
 * HTTP benchmark (issue 13): a real Node-RED (started as `npm start` starts it, on loopback) running the
 * getting-started flow, plus one HTTP flow that does no IPAM work (`POST /bench/noop`: http in -> function
 * -> http response). Allocation over HTTP (`POST /ipam/allocate`) at 0%, 50% and 99% fill of a /16 against
 * the no-IPAM flow, in the same run: the first (cold) call after each fill is its own metric, then one
 * unreported warm-up round, then ROUNDS interleaved rounds of PER_ROUND sequential requests each; each
 * metric is the median of the per-round medians, with their min and max.
 *
 * The fill goes through the same HTTP API (allocations of up to 1,024 addresses per call), so the range is
 * filled from the bottom as allocation fills it. Needs `npm run build` (dist/) first; `npm run bench` does it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNodeRed } from '../test/support/node-red-process';
import { median, runBench } from './common';

const root = path.resolve(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 7);
const PER_ROUND = 20;
/** Usable addresses of 10.0.0.0/16. */
const USABLE = 65_534;

const NOOP_FLOW = [
  { id: 'b0bench0tab00001', type: 'tab', label: 'No-IPAM baseline' },
  { id: 'b0bench0httpin01', type: 'http in', z: 'b0bench0tab00001', url: '/bench/noop', method: 'post', upload: false, swaggerDoc: '', wires: [['b0bench0func0001']] },
  {
    id: 'b0bench0func0001',
    type: 'function',
    z: 'b0bench0tab00001',
    name: 'echo a record',
    // The same shape of answer as an allocation, without any IPAM work.
    func: "msg.payload = { address: '10.0.0.1', range: msg.payload.range, deviceName: msg.payload.deviceName };\nreturn msg;",
    outputs: 1,
    wires: [['b0bench0resp0001']],
  },
  { id: 'b0bench0resp0001', type: 'http response', z: 'b0bench0tab00001', statusCode: '', headers: {}, wires: [] },
];

async function post(base: string, route: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(`${route}: HTTP ${response.status} ${JSON.stringify(payload)}`);
  return payload;
}

/** Milliseconds of one request. */
async function timedPost(base: string, route: string, body: unknown): Promise<number> {
  const start = performance.now();
  await post(base, route, body);
  return performance.now() - start;
}

function emit(metric: string, values: Record<string, unknown>): void {
  const rounded = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(3)) : v]));
  console.log(JSON.stringify({ metric, ...rounded, store: 'embedded-file' }));
}

const sides = {
  ipam: { route: '/ipam/allocate', body: (i: number) => ({ range: '10.0.0.0/16', deviceName: `bench-${i}` }) },
  noop: { route: '/bench/noop', body: (i: number) => ({ range: '10.0.0.0/16', deviceName: `bench-${i}` }) },
} as const;

let sequence = 0;

/** Cold first call of each side, a warm-up round, then interleaved measured rounds. */
async function measureLevel(base: string, fill: number): Promise<{ ipam: number; noop: number }> {
  const cold = { ipam: await timedPost(base, sides.ipam.route, sides.ipam.body(sequence++)), noop: await timedPost(base, sides.noop.route, sides.noop.body(sequence++)) };
  const samples = { ipam: [] as number[], noop: [] as number[] };
  for (let round = -1; round < ROUNDS; round++) {
    for (const side of ['noop', 'ipam'] as const) {
      const times: number[] = [];
      for (let i = 0; i < PER_ROUND; i++) times.push(await timedPost(base, sides[side].route, sides[side].body(sequence++)));
      if (round >= 0) samples[side].push(median(times));
    }
  }
  const result = { ipam: median(samples.ipam), noop: median(samples.noop) };
  for (const side of ['ipam', 'noop'] as const) {
    const rounds = samples[side];
    emit(side === 'ipam' ? 'http_allocate_ms' : 'http_noop_baseline_ms', {
      fill,
      median: result[side],
      min: Math.min(...rounds),
      max: Math.max(...rounds),
      coldFirstMs: cold[side],
      rounds: ROUNDS,
      perRound: PER_ROUND,
    });
  }
  emit('ratio_http_allocate_vs_noop', { fill, value: result.ipam / result.noop, aim: fill === 99 ? '<= 2' : 'reported' });
  return result;
}

/** Allocates over HTTP until about `fraction` of the range is used. */
async function fillTo(base: string, fraction: number): Promise<void> {
  const utilization = (await (await fetch(`${base}/ipam/ranges/utilization?network=10.0.0.0/16`)).json()) as { assigned: number };
  let missing = Math.round(USABLE * fraction) - utilization.assigned;
  while (missing > 0) {
    const count = Math.min(missing, 1024);
    await post(base, '/ipam/allocate', { range: '10.0.0.0/16', count, deviceName: 'fill' });
    missing -= count;
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(root, 'dist', 'nodes', 'ipam-config.js'))) throw new Error('dist/ is missing: run npm run build first');
  const started = Date.now();
  const flows = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'getting-started.json'), 'utf8')) as unknown[];
  const red = await startNodeRed({ flows: [...flows, ...NOOP_FLOW] });
  try {
    await post(red.base, '/ipam/blocks', { network: '10.0.0.0/8' });
    await post(red.base, '/ipam/ranges', { network: '10.0.0.0/16' });
    for (const fill of [0, 50, 99]) {
      await fillTo(red.base, fill / 100);
      await measureLevel(red.base, fill);
    }
  } finally {
    await red.stop();
    fs.rmSync(red.userDir, { recursive: true, force: true });
  }
  emit('bench_seconds', { value: (Date.now() - started) / 1000, file: 'http.bench.ts' });
}

runBench(main);
