/**
 * Child process of crash.test.ts: runs one import-and-update on a file-backed embedded store and prints
 * its progress, so the parent can kill it (SIGKILL) at a chosen point.
 */
import { Ipam } from '../../../lib/ipam';
import type { CsvRequest } from '../../../lib/csv';

async function main(): Promise<void> {
  const [directory, filename, managedByService, serviceInstance, stallIn] = process.argv.slice(2);
  const ipam = await Ipam.open({ kind: 'embedded', directory });
  const request: CsvRequest = {
    filename,
    managedByService,
    serviceInstance,
    batchSize: 10,
    onProgress: (done, phase) => {
      process.stdout.write(`${phase} ${done}\n`);
      // Holds the process still at this point (synchronously) so the parent's kill lands exactly here.
      if (phase === stallIn) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30_000);
    },
  };
  await ipam.perform('import', 'import-and-update', request);
  process.stdout.write('finished\n');
  await ipam.close();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
