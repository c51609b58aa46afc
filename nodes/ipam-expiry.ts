/**
 * ipam-expiry: checks address expiry on each input and on its own schedule; one message per event.
 * The schedule is measured from the last run recorded in the store, so redeploys and restarts neither
 * postpone it forever nor repeat it early. Checks of one node never overlap: messages queue behind the
 * running one; a scheduled check due while another runs is skipped (lib/schedule.ts).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { lastExpiryRun, type ExpiryEvent, type ExpiryReport } from '../lib/lifecycle';
import type { HoldExpiredEvent } from '../lib/allocation';
import type { Ipam } from '../lib/ipam';
import { firstRunInMs, intervalMsOf, RunQueue, startSchedule, statusTime, type Schedule } from '../lib/schedule';
import { contractError, requireServer, type Message } from './common';

interface ExpiryNodeDef extends NodeDef {
  server: string;
  logging: 'transitions' | 'periodic';
  /** Hours between scheduled checks; 0 = only on input. */
  intervalHours: string | number;
}

const DEFAULT_INTERVAL_HOURS = 24;

export = function register(RED: NodeAPI): void {
  function IpamExpiry(this: Node, config: ExpiryNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = requireServer(RED, node, config);
    if (!server) return;
    const intervalMs = intervalMsOf(config.intervalHours, DEFAULT_INTERVAL_HOURS);
    const runKey = node.id;
    const queue = new RunQueue();
    let schedule: Schedule | undefined;
    let closed = false;

    /** Runs one check after any check already running; never two at once from this node. */
    const run = (operation: string): Promise<ExpiryReport> =>
      queue.run(async () => {
        node.status({ fill: 'blue', shape: 'dot', text: 'checking...' });
        const ipam = await server.ipam();
        const options = { logging: config.logging || 'transitions', runKey };
        const source = { nodeId: node.id, nodeName: node.name || undefined, flowId: (node as Node & { z?: string }).z };
        return (await ipam.withSource(source).perform('expiry', operation, options)) as ExpiryReport;
      }).then(
        (report) => {
          node.status({ fill: report.counts.expired > 0 ? 'yellow' : 'green', shape: 'dot', text: describe(report) });
          return report;
        },
        (err: unknown) => {
          const failure = contractError(err, node);
          node.status({ fill: 'red', shape: 'ring', text: `${failure.code}: ${operation}` });
          throw failure;
        },
      );

    const scheduledRun = (): Promise<unknown> =>
      run('check')
        .then((report) => send(eventsOf(report).map((event) => ({ payload: event }) as Message)))
        .catch((err: Error) => node.error(err, { payload: undefined, topic: 'ipam-expiry' } as never));

    const send = (messages: Message[]): void => {
      if (messages.length > 0) node.send([messages] as never);
    };

    node.on('input', (msg, sendOut, done) => {
      const message = msg as Message;
      const operation = typeof message.operation === 'string' && message.operation ? message.operation : 'check';
      run(operation)
        .then((report) => {
          const messages = eventsOf(report).map((event) => {
            const out = RED.util.cloneMessage(message);
            out.payload = event;
            return out;
          });
          if (messages.length > 0) sendOut([messages] as never);
          done();
        })
        .catch((err: Error) => done(err));
    });

    node.on('close', (done: () => void) => {
      closed = true;
      schedule?.stop();
      void queue.idle().finally(done);
    });

    if (intervalMs > 0) {
      server
        .ipam()
        .then((ipam: Ipam) => lastExpiryRun(ipam, runKey))
        .then((last) => {
          if (closed) return;
          const dueInMs = firstRunInMs(last, intervalMs);
          node.status({ fill: 'grey', shape: 'ring', text: `next check ${statusTime(new Date(Date.now() + dueInMs))}` });
          schedule = startSchedule({
            intervalMs,
            firstRunInMs: dueInMs,
            queue,
            run: scheduledRun,
            onSkip: () => node.warn('ipam-expiry: scheduled check skipped, the previous check is still going'),
          });
        })
        .catch((err: Error) => {
          node.status({ fill: 'red', shape: 'ring', text: `store unavailable: ${err.message}`.slice(0, 80) });
        });
    } else {
      node.status({ fill: 'grey', shape: 'ring', text: 'on input only' });
    }
  }

  /** Expiry events, then hold-expired events. */
  function eventsOf(report: ExpiryReport): (ExpiryEvent | HoldExpiredEvent)[] {
    return [...report.events, ...report.holdEvents];
  }

  function describe(report: ExpiryReport): string {
    const { expired, expiryDue } = report.counts;
    return `${statusTime(new Date(report.ranAt))}: ${expired} expired, ${expiryDue} due, ${report.reported} reported`;
  }

  RED.nodes.registerType('ipam-expiry', IpamExpiry);
};
