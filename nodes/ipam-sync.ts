/**
 * ipam-sync: imports DHCP leases, discovers Kea scopes, pushes DHCP reservations and DNS records.
 * Runs on input and, for import-leases and discover-scopes, on its own schedule. Runs of one node never
 * overlap: messages queue behind the running one; a scheduled run due while another runs is skipped.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Ipam } from '../lib/ipam';
import { intervalMsOf, intervalText, RunQueue, startSchedule, statusTime, type Schedule } from '../lib/schedule';
import { SCHEDULABLE, type SyncRequest, type SyncResult, type TsigAlgorithm } from '../lib/sync';
import { contractError, requireServer, sourceOf, type Message } from './common';

interface SyncNodeDef extends NodeDef {
  server: string;
  operation: string;
  source: 'kea' | 'isc' | 'dnsmasq';
  keaUrl: string;
  serverName: string;
  dhcp6: boolean;
  leasesFile: string;
  serviceInstance: string;
  addressSpace: string;
  dnsServer: string;
  tsigKeyName: string;
  tsigAlgorithm: string;
  /** Hours between scheduled runs of import-leases / discover-scopes; 0 = only on input. */
  intervalHours: string | number;
}

interface SyncCredentials {
  keaUser?: string;
  keaPassword?: string;
  tsigSecret?: string;
}

const DEFAULT_INTERVAL_HOURS = 6;
const PROGRESS_EVERY_MS = 500;

export = function register(RED: NodeAPI): void {
  function IpamSync(this: Node, config: SyncNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const credentials = ((node as unknown as { credentials?: SyncCredentials }).credentials ?? {}) as SyncCredentials;
    const server = requireServer(RED, node, config);
    if (!server) return;
    const intervalMs = intervalMsOf(config.intervalHours, DEFAULT_INTERVAL_HOURS);
    const scheduled = intervalMs > 0 && SCHEDULABLE.includes(config.operation);
    const queue = new RunQueue();
    let schedule: Schedule | undefined;

    const requestFor = (msg: Message | undefined): SyncRequest => ({
      source: config.source || 'kea',
      kea: {
        url: config.keaUrl,
        user: credentials.keaUser,
        password: credentials.keaPassword,
        serverName: config.serverName,
        dhcp6: config.dhcp6 === true,
      },
      file: typeof msg?.filename === 'string' && msg.filename ? msg.filename : config.leasesFile,
      serviceInstance: config.serviceInstance || undefined,
      addressSpace: config.addressSpace || undefined,
      dns: {
        server: config.dnsServer,
        keyName: config.tsigKeyName || undefined,
        secret: credentials.tsigSecret,
        algorithm: (config.tsigAlgorithm || 'hmac-sha256') as TsigAlgorithm,
      },
      ...(msg && msg.payload !== undefined && msg.payload !== null && msg.payload !== '' ? { selection: msg.payload } : {}),
    });

    /** Queues one run behind any run of this node; the core does the work in one call. */
    const run = (operation: string, msg: Message | undefined): Promise<SyncResult> =>
      queue.run(async () => {
        node.status({ fill: 'blue', shape: 'dot', text: `${operation}...` });
        let shown = 0;
        const request: SyncRequest = {
          ...requestFor(msg),
          onProgress: (done, total) => {
            if (Date.now() - shown < PROGRESS_EVERY_MS && done < total) return;
            shown = Date.now();
            node.status({ fill: 'blue', shape: 'dot', text: `${operation}: ${done}/${total}` });
          },
        };
        const ipam: Ipam = await server.ipam();
        return (await ipam.withSource(sourceOf(node, msg ?? ({} as Message))).perform('sync', operation, request)) as SyncResult;
      }).then(
        (result) => {
          const fill = result.failed > 0 ? 'yellow' : 'green';
          node.status({ fill, shape: 'dot', text: describe(result) });
          return result;
        },
        (err: unknown) => {
          const failure = contractError(err, node);
          node.status({ fill: 'red', shape: 'ring', text: `${statusTime(new Date())} ${operation}: ${failure.code}`.slice(0, 80) });
          throw failure;
        },
      );

    const scheduledRun = (): Promise<unknown> =>
      run(config.operation, undefined)
        .then((result) => node.send({ payload: result, operation: config.operation } as never))
        .catch((err: Error) => node.error(err, { payload: undefined, operation: config.operation, topic: 'ipam-sync' } as never));

    node.on('input', (msg, send, done) => {
      const message = msg as Message;
      const operation = typeof message.operation === 'string' && message.operation ? message.operation : config.operation;
      run(operation, message)
        .then((result) => {
          message.payload = result;
          send(message);
          done();
        })
        .catch((err: Error) => done(err));
    });

    node.on('close', (done: () => void) => {
      schedule?.stop();
      void queue.idle().finally(done);
    });

    if (scheduled) {
      node.status({ fill: 'grey', shape: 'ring', text: `every ${intervalText(intervalMs)}` });
      // The first run right after deploy; then one interval after each run ends.
      schedule = startSchedule({
        intervalMs,
        queue,
        run: scheduledRun,
        onSkip: () => node.warn(`ipam-sync: scheduled ${config.operation} skipped, the previous run is still going`),
      });
    } else {
      node.status({ fill: 'grey', shape: 'ring', text: 'on input only' });
    }
  }

  function describe(result: SyncResult): string {
    const parts = [`${result.created} created`, `${result.updated} updated`];
    if (result.deleted > 0) parts.push(`${result.deleted} removed`);
    if (result.failed > 0) parts.push(`${result.failed} failed`);
    return `${statusTime(new Date())} ${result.operation}: ${parts.join(', ')}`;
  }

  RED.nodes.registerType('ipam-sync', IpamSync, {
    credentials: {
      keaUser: { type: 'text' },
      keaPassword: { type: 'password' },
      tsigSecret: { type: 'password' },
    },
  });
};
