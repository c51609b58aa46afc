/**
 * ipam-config: owns the store connection (embedded or MongoDB) and shares one Ipam with every node
 * that names it. MongoDB user and password are Node-RED credentials, never flow JSON.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import { Ipam } from '../lib/ipam';
import { checkThreshold, checkRetention } from '../lib/record';
import { normaliseChecks } from '../lib/address';
import { openWithRetry, type StoreConfig } from '../lib/store';
import { invalid } from '../lib/errors';
import { applyDefinitions } from '../lib/lifecycle';
import { registerAdminEndpoints } from './admin';
import type { IpamConfigNode, StoreState } from './common';

interface ConfigDef extends NodeDef {
  store: 'embedded' | 'mongodb';
  directory: string;
  uri: string;
  database: string;
  /** Availability checks for allocation; absent in flows saved before they existed, which means off. */
  pingCheck?: boolean;
  pingTimeoutMs?: number | string;
  ptrCheck?: boolean;
  ptrServer?: string;
  ptrTimeoutMs?: number | string;
  /** Days before expiryDate at which an address becomes Expiry Due (ipam-expiry reads it). */
  expiryThresholdDays?: number | string;
  /** Days of history kept (pruned by ipam-expiry runs); empty or 0 = unlimited. */
  historyRetentionDays?: number | string;
  /** [{name, multiValue, allowedValues}]: the store is made to agree on start (lib/range-groups applyDefinitions). */
  customFields?: unknown[];
  /** [{name, criteria: [...]}]: user range groups; the built-in Managed by Service group always exists. */
  rangeGroups?: unknown[];
  /* MongoDB connection policy (lib/store/mongodb.ts MONGO_DEFAULTS when empty). */
  serverSelectionTimeoutMs?: number | string;
  connectTimeoutMs?: number | string;
  writeConcern?: string;
  writeTimeoutMs?: number | string;
}

interface Credentials {
  username?: string;
  password?: string;
}

export = function register(RED: NodeAPI): void {
  function IpamConfig(this: IpamConfigNode, config: ConfigDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    node.storeEvents = new EventEmitter();
    node.storeEvents.setMaxListeners(0);
    const setState = (state: StoreState): void => {
      node.storeState = state;
      node.storeEvents.emit('state', state);
    };
    setState({ state: 'connecting' });
    let closed = false;
    // While the store is down after a first failed attempt, operations fail at once with the last error
    // rather than queue; the open is retried with backoff and shown in every node's status.
    let lastError: Error | undefined;
    const credentials = (node as unknown as { credentials?: Credentials }).credentials ?? {};
    const opening = openWithRetry(() => openFor(config, credentials), {
      stopped: () => closed,
      onRetry: (attempt, retryInMs, err) => {
        lastError = err;
        setState({ state: 'reconnecting', message: err.message, attempt, retryInMs });
        node.warn(`ipam-config: store unavailable (attempt ${attempt}), retrying in ${Math.round(retryInMs / 1000)} s: ${err.message}`);
      },
    }).then(
      async (ipam) => {
        lastError = undefined;
        if (closed) {
          await ipam.close();
          throw new Error('ipam-config closed');
        }
        await applyConfiguredDefinitions(ipam, config).catch((err: Error) =>
          node.error(`ipam-config: custom fields and range groups not applied: ${err.message}`),
        );
        const mode = atomicMode(ipam);
        if (mode) node.log(`ipam-config: MongoDB multi-write changes use ${mode}`);
        for (const warning of (ipam.store as { warnings?: string[] }).warnings ?? []) node.warn(`ipam-config: ${warning}`);
        logRecovery(node, ipam);
        const shortMode = (ipam.store as { mode?: string }).mode;
        setState({ state: 'connected', kind: ipam.store.kind, ...(shortMode ? { mode: shortMode } : {}) });
        return ipam;
      },
      (err: Error) => {
        lastError = undefined;
        setState({ state: 'failed', message: err.message });
        node.error(`ipam-config: ${err.message}`);
        throw err;
      },
    );
    opening.catch(() => undefined);
    node.ipam = () => (lastError ? Promise.reject(lastError) : opening);
    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      opening
        .then((ipam) => ipam.close())
        .catch(() => undefined)
        .finally(done);
    });
  }

  /** What the open's recovery pass finished of changes a previous process left half done. */
  function logRecovery(node: { log(text: string): void; warn(text: string): void }, ipam: Ipam): void {
    const { structural, imports } = ipam.recovery;
    for (const entry of structural) {
      const text = `${entry.op} in address space ${JSON.stringify(entry.addressSpace)}: ${entry.outcome}${entry.error ? ` (${entry.error})` : ''}`;
      if (entry.outcome === 'completed') node.log(`ipam-config: finished an interrupted ${text}`);
      else node.warn(`ipam-config: interrupted ${text}`);
    }
    for (const entry of imports) {
      const text = `${entry.name}: ${entry.outcome}${entry.error ? ` (${entry.error})` : ''}`;
      if (entry.outcome === 'completed') node.log(`ipam-config: finished an interrupted ${text}`);
      else node.warn(`ipam-config: interrupted ${text}`);
    }
  }

  /** Definitions absent from an older flow leave the store's ones as they are. */
  async function applyConfiguredDefinitions(ipam: Ipam, config: ConfigDef): Promise<void> {
    if (config.customFields === undefined && config.rangeGroups === undefined) return;
    await applyDefinitions(ipam, { customFields: config.customFields, rangeGroups: config.rangeGroups });
  }

  async function openFor(config: ConfigDef, credentials: Credentials): Promise<Ipam> {
    const checks = normaliseChecks({
      ping: { enabled: config.pingCheck === true, timeoutMs: config.pingTimeoutMs },
      ptr: { enabled: config.ptrCheck === true, server: config.ptrServer, timeoutMs: config.ptrTimeoutMs },
    });
    const threshold = config.expiryThresholdDays;
    const expiryThresholdDays = threshold === undefined || threshold === '' ? undefined : checkThreshold(threshold);
    const retention = checkRetention(config.historyRetentionDays);
    const ipam = await Ipam.open(storeConfig(config, credentials));
    ipam.checks = checks;
    ipam.expiryThresholdDays = expiryThresholdDays;
    ipam.historyRetentionDays = retention;
    return ipam;
  }

  function storeConfig(config: ConfigDef, credentials: Credentials): StoreConfig {
    if (config.store === 'mongodb') {
      return {
        kind: 'mongodb',
        uri: config.uri || 'mongodb://127.0.0.1:27017',
        database: config.database || 'flowipam',
        username: credentials.username || undefined,
        password: credentials.password || undefined,
        serverSelectionTimeoutMs: milliseconds('serverSelectionTimeoutMs', config.serverSelectionTimeoutMs),
        connectTimeoutMs: milliseconds('connectTimeoutMs', config.connectTimeoutMs),
        writeConcern: writeConcern(config.writeConcern),
        writeTimeoutMs: milliseconds('writeTimeoutMs', config.writeTimeoutMs),
      };
    }
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    return { kind: 'embedded', directory: path.resolve(userDir, config.directory || 'ipam-data') };
  }

  /** 'transactions (replica set or mongos)' or 'a journal (standalone)' on MongoDB; undefined elsewhere. */
  function atomicMode(ipam: Ipam): string | undefined {
    const mode = (ipam.store as { mode?: string }).mode;
    if (mode === 'transactions') return 'transactions (replica set or mongos)';
    if (mode === 'journal') return 'a journal (standalone: no transactions)';
    return undefined;
  }

  RED.nodes.registerType('ipam-config', IpamConfig as never, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  } as never);
  registerAdminEndpoints(RED);
};

/** An optional timeout setting: empty means the product default; otherwise whole milliseconds, 1 or more. */
function milliseconds(field: string, value: number | string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) throw invalid(field, value, 'must be a whole number of milliseconds, 1 or more');
  return ms;
}

/** 'majority' (the default) or a number of members, 1 or more (0 would not wait for any acknowledgement). */
function writeConcern(value: string | undefined): 'majority' | number | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'majority') return value;
  const members = Number(value);
  if (!Number.isInteger(members) || members < 1) throw invalid('writeConcern', value, "must be 'majority' or a number of members, 1 or more");
  return members;
}
