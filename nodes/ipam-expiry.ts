/**
 * ipam-expiry: checks address expiry on each input and on its own schedule; one message per event.
 * The schedule is measured from the last run recorded in the store, so redeploys and restarts neither
 * postpone it forever nor repeat it early.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { lastExpiryRun, type ExpiryEvent, type ExpiryReport } from '../lib/expiry';
import type { HoldExpiredEvent } from '../lib/holds';
import { withSource } from '../lib/history';
import type { Ipam } from '../lib/ipam';
import { contractError, requireServer, type Message } from './common';

interface ExpiryNodeDef extends NodeDef {
  server: string;
  logging: 'transitions' | 'periodic';
  /** Hours between scheduled checks; 0 = only on input. */
  intervalHours: string | number;
}

const HOUR_MS = 3_600_000;
/** setTimeout's limit is about 24.8 days; the schedule stays below it. */
const MAX_INTERVAL_HOURS = 24 * 24;

export = function register(RED: NodeAPI): void {
  function IpamExpiry(this: Node, config: ExpiryNodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const server = requireServer(RED, node, config);
    if (!server) return;
    const intervalMs = intervalOf(config.intervalHours) * HOUR_MS;
    const runKey = node.id;
    let running: Promise<unknown> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    let closed = false;

    /** Runs one check after any check already running; never two at once from this node. */
    const run = (operation: string): Promise<ExpiryReport> => {
      const next = running.then(async () => {
        node.status({ fill: 'blue', shape: 'dot', text: 'checking...' });
        const ipam = await server.ipam();
        const options = { logging: config.logging || 'transitions', runKey };
        const source = { nodeId: node.id, nodeName: node.name || undefined, flowId: (node as Node & { z?: string }).z };
        return (await withSource(source, 'hold-expired', () => ipam.perform('expiry', operation, options))) as ExpiryReport;
      });
      running = next.catch(() => undefined);
      return next.then(
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
    };

    const schedule = (delayMs: number): void => {
      if (closed || intervalMs === 0) return;
      timer = setTimeout(() => {
        run('check')
          .then((report) => send(eventsOf(report).map((event) => ({ payload: event }) as Message)))
          .catch((err: Error) => node.error(err, { payload: undefined, topic: 'ipam-expiry' } as never))
          .finally(() => schedule(intervalMs));
      }, delayMs);
    };

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
      if (timer) clearTimeout(timer);
      running.finally(done);
    });

    if (intervalMs > 0) {
      server
        .ipam()
        .then((ipam: Ipam) => lastExpiryRun(ipam, runKey))
        .then((last) => {
          const due = last === null ? 0 : Date.parse(last) + intervalMs - Date.now();
          node.status({ fill: 'grey', shape: 'ring', text: `next check ${timeOf(new Date(Date.now() + Math.max(due, 0)))}` });
          schedule(Math.min(Math.max(due, 0), intervalMs));
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

  function intervalOf(value: unknown): number {
    const hours = Number(value === undefined || value === '' ? 24 : value);
    return Number.isFinite(hours) && hours > 0 ? Math.min(hours, MAX_INTERVAL_HOURS) : 0;
  }

  function describe(report: ExpiryReport): string {
    const { expired, expiryDue } = report.counts;
    return `${timeOf(new Date(report.ranAt))}: ${expired} expired, ${expiryDue} due, ${report.reported} reported`;
  }

  function timeOf(date: Date): string {
    return date.toISOString().slice(0, 16).replace('T', ' ') + 'Z';
  }

  RED.nodes.registerType('ipam-expiry', IpamExpiry);
};
