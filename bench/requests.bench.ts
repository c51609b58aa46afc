/**
 * What requestId idempotency in its own collection (lib/space/requests.ts) costs an allocation.
 * - embedded (memory) store: ms per allocation with a requestId against the same allocation without one,
 *   measured interleaved in this process (warm rounds; the first call of each kind reported as cold).
 * - MongoDB adapter over the fake driver: driver calls per allocation (a round trip each on a server),
 *   with and without requestId, in transaction mode (replica set) and journal mode (standalone). No timing:
 *   the fake's speed says nothing about a server's.
 */
import { performance } from 'node:perf_hooks';
import { Ipam } from '../lib/ipam';
import type { RangeRecord } from '../lib/record';
import { openStore } from '../lib/store';
import { fakeClientFactory, fakeDeployment } from '../test/support/fake-mongo';
import { median } from './common';

const ROUNDS = 9;
const PER_ROUND = 50;

function emit(metric: string, values: Record<string, unknown>): void {
  console.log(JSON.stringify({ metric, ...values }));
}

async function range(ipam: Ipam, network: string): Promise<string> {
  return ((await ipam.perform('range', 'add', { network })) as RangeRecord).id;
}

async function embedded(): Promise<void> {
  const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
  const plain = await range(ipam, '10.1.0.0/16');
  const keyed = await range(ipam, '10.2.0.0/16');
  let n = 0;
  const time = async (rangeId: string, withRequest: boolean): Promise<number> => {
    const start = performance.now();
    await ipam.perform('address', 'allocate', { range: rangeId, ...(withRequest ? { requestId: `job-${n++}` } : {}) });
    return performance.now() - start;
  };
  emit('allocate.cold', { store: 'embedded-memory', withoutRequestIdMs: round(await time(plain, false)), withRequestIdMs: round(await time(keyed, true)) });
  const without: number[] = [];
  const withRequest: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < PER_ROUND; i++) {
      without.push(await time(plain, false));
      withRequest.push(await time(keyed, true));
    }
  }
  const a = median(without);
  const b = median(withRequest);
  emit('allocate.requestId.ms', { store: 'embedded-memory', baselineMs: round(a), withRequestIdMs: round(b), ratio: round(b / a), samples: without.length });
  await ipam.close();
}

async function driverCalls(topology: 'replicaSet' | 'standalone'): Promise<void> {
  const deployment = fakeDeployment({ topology });
  const ipam = await Ipam.open({ kind: 'mongodb', uri: 'mongodb://127.0.0.1:27017', database: 'bench', createClient: fakeClientFactory(deployment) });
  const plain = await range(ipam, '10.1.0.0/16');
  const keyed = await range(ipam, '10.2.0.0/16');
  let calls = 0;
  deployment.faults.push(() => {
    calls++;
    return undefined;
  });
  const count = async (rangeId: string, requestId?: string): Promise<number> => {
    calls = 0;
    await ipam.perform('address', 'allocate', { range: rangeId, ...(requestId ? { requestId } : {}) });
    return calls;
  };
  await count(plain);
  await count(keyed, 'warm');
  emit('allocate.driverCalls', {
    store: `mongodb-fake-${topology}`,
    withoutRequestId: await count(plain),
    withRequestId: await count(keyed, 'new-request'),
    replayedRequestId: await count(keyed, 'new-request'),
  });
  await ipam.close();
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

void (async () => {
  await embedded();
  await driverCalls('replicaSet');
  await driverCalls('standalone');
})();
