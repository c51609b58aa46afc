/**
 * ipam-config: owns the store connection (embedded or MongoDB) and shares one Ipam with every node
 * that names it. MongoDB user and password are Node-RED credentials, never flow JSON.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import { Ipam } from '../lib/ipam';
import type { StoreConfig } from '../lib/store';
import { codedError, type IpamConfigNode, type StoreState } from './common';

interface ConfigDef extends NodeDef {
  store: 'embedded' | 'mongodb';
  directory: string;
  uri: string;
  database: string;
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
      (ipam) => {
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

  async function openFor(config: ConfigDef, credentials: Credentials): Promise<Ipam> {
    return Ipam.open(storeConfig(config, credentials));
  }

  function storeConfig(config: ConfigDef, credentials: Credentials): StoreConfig {
    if (config.store === 'mongodb') {
      if (/\/\/[^/@]*:[^/@]*@/.test(config.uri ?? '')) {
        throw codedError('VALIDATION', 'uri: put the MongoDB password in the credentials fields, not in the URI');
      }
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
};
