/**
 * Child process of structural-crash.test.ts: performs one structural operation on a file-backed embedded
 * store through a store wrapper that counts writes and SIGKILLs this process just before write number
 * `killAt` (0: never; then it prints "writes <n>", the number of writes the operation made).
 */
import { Ipam, type NodeKind } from '../../../lib/ipam';
import { openStore } from '../../../lib/store';
import { countingWrites } from '../../support/space-snapshot';

type Payload = Record<string, unknown> | ((ipam: Ipam) => Promise<Record<string, unknown>>);

export const OPERATIONS: Record<string, { kind: NodeKind; operation: string; payload: Payload }> = {
  'add-block': { kind: 'block', operation: 'add', payload: { network: '10.0.0.0/20', description: 'new' } },
  'delete-block': { kind: 'block', operation: 'delete', payload: { network: '10.0.0.0/16' } },
  'add-range': { kind: 'range', operation: 'add', payload: { network: '10.0.16.0/21', managedByService: 'Non-MS DHCP', serviceInstance: 'Router' } },
  'update-range': {
    kind: 'range',
    operation: 'update',
    payload: async (ipam) => {
      const { id } = (await ipam.perform('range', 'get', { network: '10.0.0.0/21' })) as { id: string };
      return { id, network: '10.0.0.0/23', assignmentType: 'Dynamic' };
    },
  },
  'delete-range': { kind: 'range', operation: 'delete', payload: { network: '10.0.0.0/21' } },
  'allocate-subnet': { kind: 'range', operation: 'allocate-subnet', payload: { block: '10.0.0.0/16', prefixLength: 24 } },
};

async function main(): Promise<void> {
  const [directory, name, killAtText] = process.argv.slice(2);
  const opened = await Ipam.open({ kind: 'embedded', directory });
  await opened.close();
  const killAt = Number(killAtText);
  const counted = countingWrites(await openStore({ kind: 'embedded', directory }), (n) => {
    if (n === killAt) process.kill(process.pid, 'SIGKILL');
  });
  const ipam = Ipam.over(counted.store);
  const { kind, operation, payload } = OPERATIONS[name];
  await ipam.perform(kind, operation, typeof payload === 'function' ? await payload(ipam) : payload);
  process.stdout.write(`writes ${counted.writes()}\n`);
  await ipam.close();
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
