/**
 * ipam-config: owns the store connection (embedded or MongoDB) and shares one Ipam with every node
 * that names it. MongoDB user and password are Node-RED credentials, never flow JSON.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import { Ipam } from '../lib/ipam';
import { checkThreshold } from '../lib/expiry';
import { normaliseChecks } from '../lib/probes';
import { applyDefinitions } from '../lib/range-groups';
import type { StoreConfig } from '../lib/store';
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
  /** [{name, multiValue, allowedValues}]: the store is made to agree on start (lib/range-groups applyDefinitions). */
  customFields?: unknown[];
  /** [{name, criteria: [...]}]: user range groups; the built-in Managed by Service group always exists. */
  rangeGroups?: unknown[];
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
    const opening = openFor(config, (node as unknown as { credentials?: Credentials }).credentials ?? {}).then(
      async (ipam) => {
        await applyConfiguredDefinitions(ipam, config).catch((err: Error) =>
          node.error(`ipam-config: custom fields and range groups not applied: ${err.message}`),
        );
        setState({ state: 'connected', kind: ipam.store.kind });
        return ipam;
      },
      (err: Error) => {
        setState({ state: 'failed', message: err.message });
        node.error(`ipam-config: ${err.message}`);
        throw err;
      },
    );
    opening.catch(() => undefined);
    node.ipam = () => opening;
    node.on('close', (_removed: boolean, done: () => void) => {
      opening
        .then((ipam) => ipam.close())
        .catch(() => undefined)
        .finally(done);
    });
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
    const ipam = await Ipam.open(storeConfig(config, credentials));
    ipam.checks = checks;
    ipam.expiryThresholdDays = expiryThresholdDays;
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
      };
    }
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    return { kind: 'embedded', directory: path.resolve(userDir, config.directory || 'ipam-data') };
  }

  RED.nodes.registerType('ipam-config', IpamConfig as never, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  } as never);
  registerAdminEndpoints(RED);
};
