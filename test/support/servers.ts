/**
 * Real DHCP and DNS servers for tests: Kea (kea-dhcp4 [+ kea-dhcp6] + kea-ctrl-agent) and BIND
 * (named), each in its own temp dir on 127.0.0.1 high ports. Call stop() in an after hook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin'];
const HOOK_DIRS = [
  '/usr/lib/x86_64-linux-gnu/kea/hooks',
  '/usr/lib/aarch64-linux-gnu/kea/hooks',
  '/usr/lib/kea/hooks',
  '/usr/lib64/kea/hooks',
  '/usr/local/lib/kea/hooks',
  '/usr/local/lib64/kea/hooks',
];
const START_TIMEOUT_MS = 15_000;

/* ------------------------------------------------------------------ binaries */

/** Absolute path of an executable on PATH or in the usual sbin directories. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function findKeaHook(file: string): string | undefined {
  return HOOK_DIRS.map((dir) => path.join(dir, file)).find((candidate) => fs.existsSync(candidate));
}

/**
 * For a `before` hook: when a needed binary is missing the suite FAILS under CI=true and is
 * skipped with a printed reason otherwise.
 */
export function requireBinaries(context: Mocha.Context, names: string[], hooks: string[] = []): void {
  const missing = [
    ...names.filter((name) => !findBinary(name)),
    ...hooks.filter((hook) => !findKeaHook(hook)).map((hook) => `Kea hook ${hook}`),
  ];
  if (missing.length === 0) return;
  const packages = 'kea-dhcp4-server kea-dhcp6-server kea-ctrl-agent bind9 bind9-utils';
  const reason = `missing ${missing.join(', ')} (Debian: apt-get install ${packages})`;
  if (process.env.CI === 'true') throw new Error(`Real-server tests cannot run: ${reason}`);
  console.log(`      skipped: ${reason}`);
  context.skip();
}

/* ------------------------------------------------------------------ ports and processes */

/** A loopback port free for TCP and, with `udp`, for UDP too. */
export async function freePort(udp = false): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeTcpPort();
    if (!udp || (await udpPortFree(port))) return port;
  }
  throw new Error('no free loopback port found');
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

interface Managed {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}

const running = new Set<Managed>();

// Last resort if a test run dies without its after hooks: never leave a server behind.
process.once('exit', () => {
  for (const managed of running) managed.child.kill('SIGKILL');
});

function launch(name: string, binary: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Managed {
  const child = spawn(binary, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      collect(Buffer.from(`spawn failed: ${err.message}\n`));
      resolve();
    });
  });
  const managed: Managed = { name, child, output: () => output, exited };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

async function terminate(managed: Managed): Promise<void> {
  if (managed.child.exitCode !== null || managed.child.signalCode !== null) return;
  managed.child.kill('SIGTERM');
  const timer = setTimeout(() => managed.child.kill('SIGKILL'), 5000);
  await managed.exited;
  clearTimeout(timer);
}

/** Polls `ready` until it resolves true; fails early with the logs if a process exits. */
async function waitUntil(ready: () => Promise<boolean>, processes: Managed[], what: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited while starting ${what}:\n${dead.output()}`);
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const logs = processes.map((p) => `--- ${p.name}\n${p.output()}`).join('\n');
  throw new Error(`${what} did not become ready within ${START_TIMEOUT_MS} ms\n${logs}`);
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/* ------------------------------------------------------------------ Kea */

export interface KeaOptions {
  /** lease4-add / lease6-add arguments seeded after start (family from `ip-address`). */
  leases?: Array<Record<string, unknown>>;
  subnet4?: Array<Record<string, unknown>>;
  /** Also start kea-dhcp6 (if installed) with these subnets. */
  subnet6?: Array<Record<string, unknown>>;
  dhcp6?: boolean;
  user?: string;
  password?: string;
}

export interface KeaServer {
  url: string;
  user: string;
  password: string;
  dir: string;
  /** Paths of the server configuration files (config-write writes here). */
  configFiles: { dhcp4: string; dhcp6?: string };
  dhcp6: boolean;
  stop(): Promise<void>;
}

export const DEFAULT_SUBNET4 = [
  {
    id: 1,
    subnet: '192.0.2.0/24',
    pools: [{ pool: '192.0.2.100 - 192.0.2.199' }],
    reservations: [{ 'hw-address': 'aa:bb:cc:dd:ee:01', 'ip-address': '192.0.2.10', hostname: 'printer' }],
  },
  {
    id: 2,
    subnet: '198.51.100.0/25',
    pools: [{ pool: '198.51.100.10 - 198.51.100.19' }, { pool: '198.51.100.64/27' }],
  },
];

export const DEFAULT_SUBNET6 = [
  {
    id: 10,
    subnet: '2001:db8:1::/64',
    pools: [{ pool: '2001:db8:1::100 - 2001:db8:1::1ff' }],
    reservations: [
      { duid: '00:01:00:01:2a:2b:2c:2d:aa:bb:cc:dd:ee:02', 'ip-addresses': ['2001:db8:1::10'], hostname: 'nas' },
    ],
  },
];

function keaServerConfig(family: 4 | 6, dir: string, subnets: unknown[]): Record<string, unknown> {
  const service = `kea-dhcp${family}`;
  // Kea 2.2 otherwise persists the DHCPv6 server DUID under /var/lib/kea.
  const enterprise = { type: 'EN', 'enterprise-id': 2495, identifier: '0a0b0c0d', persist: false };
  const serverId = family === 6 ? { 'server-id': enterprise } : {};
  return {
    [`Dhcp${family}`]: {
      ...serverId,
      'interfaces-config': { interfaces: [] },
      'control-socket': { 'socket-type': 'unix', 'socket-name': path.join(dir, `${service}.sock`) },
      'lease-database': {
        type: 'memfile',
        persist: true,
        name: path.join(dir, `leases${family}.csv`),
        'lfc-interval': 0,
      },
      'hooks-libraries': [{ library: findKeaHook('libdhcp_lease_cmds.so') }],
      [`subnet${family}`]: subnets,
      loggers: [{ name: service, output_options: [{ output: 'stdout' }], severity: 'WARN' }],
    },
  };
}

/** Starts kea-dhcp4 (and kea-dhcp6 when asked and installed) behind kea-ctrl-agent with basic auth. */
export async function startKea(options: KeaOptions = {}): Promise<KeaServer> {
  const dir = tempDir('flowipam-kea-');
  const user = options.user ?? 'ipam';
  const password = options.password ?? crypto.randomBytes(9).toString('base64url');
  const withDhcp6 = (options.dhcp6 ?? false) && findBinary('kea-dhcp6') !== undefined;
  const env = { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
  const processes: Managed[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map(terminate));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const configFiles: KeaServer['configFiles'] = { dhcp4: path.join(dir, 'kea-dhcp4.json') };
    writeJson(configFiles.dhcp4, keaServerConfig(4, dir, options.subnet4 ?? DEFAULT_SUBNET4));
    processes.push(await launchKeaServer('kea-dhcp4', configFiles.dhcp4, env, dir));
    const sockets: Record<string, unknown> = {
      dhcp4: { 'socket-type': 'unix', 'socket-name': path.join(dir, 'kea-dhcp4.sock') },
    };
    if (withDhcp6) {
      configFiles.dhcp6 = path.join(dir, 'kea-dhcp6.json');
      writeJson(configFiles.dhcp6, keaServerConfig(6, dir, options.subnet6 ?? DEFAULT_SUBNET6));
      processes.push(await launchKeaServer('kea-dhcp6', configFiles.dhcp6, env, dir));
      sockets.dhcp6 = { 'socket-type': 'unix', 'socket-name': path.join(dir, 'kea-dhcp6.sock') };
    }
    const httpPort = await freePort();
    const agentConfig = path.join(dir, 'kea-ctrl-agent.json');
    writeJson(agentConfig, {
      'Control-agent': {
        'http-host': '127.0.0.1',
        'http-port': httpPort,
        authentication: { type: 'basic', realm: 'kea', clients: [{ user, password }] },
        'control-sockets': sockets,
        loggers: [{ name: 'kea-ctrl-agent', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
      },
    });
    processes.push(launch('kea-ctrl-agent', findBinary('kea-ctrl-agent') as string, ['-c', agentConfig], env, dir));
    const url = `http://127.0.0.1:${httpPort}/`;
    const services = withDhcp6 ? ['dhcp4', 'dhcp6'] : ['dhcp4'];
    await waitUntil(
      async () => {
        const ask = (service: string) => keaPost(url, user, password, { command: 'list-commands', service: [service] });
        const answers = await Promise.all(services.map(ask));
        return answers.every((a) => a[0]?.result === 0);
      },
      processes,
      'Kea',
    );
    for (const lease of options.leases ?? []) await seedLease(url, user, password, lease);
    return { url, user, password, dir, configFiles, dhcp6: withDhcp6, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function seedLease(url: string, user: string, password: string, lease: Record<string, unknown>): Promise<void> {
  const v6 = String(lease['ip-address']).includes(':');
  const command = v6 ? 'lease6-add' : 'lease4-add';
  const answer = await keaPost(url, user, password, { command, service: [v6 ? 'dhcp6' : 'dhcp4'], arguments: lease });
  if (answer[0]?.result !== 0) throw new Error(`${command} ${JSON.stringify(lease)} failed: ${JSON.stringify(answer)}`);
}

export interface KeaAnswer {
  result: number;
  text?: string;
  arguments?: unknown;
}

/** With no interfaces configured Kea binds no DHCP socket; a high port still keeps it off 67/547. */
async function launchKeaServer(
  name: string,
  configFile: string,
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<Managed> {
  const port = String(await freePort(true));
  return launch(name, findBinary(name) as string, ['-c', configFile, '-p', port, '-P', port], env, dir);
}

/** Minimal raw client so the harness does not depend on the code under test. */
export function keaPost(url: string, user: string, password: string, body: unknown): Promise<KeaAnswer[]> {
  const payload = Buffer.from(JSON.stringify(body));
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': payload.length,
    Authorization: `Basic ${auth}`,
  };
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            resolve(Array.isArray(parsed) ? parsed : [parsed]);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    request.setTimeout(5000, () => request.destroy(new Error('Kea request timed out')));
    request.on('error', reject);
    request.end(payload);
  });
}

/* ------------------------------------------------------------------ BIND */

export interface BindOptions {
  /** Primary zones, all updatable with the key. Default: DEFAULT_ZONES. */
  zones?: string[];
}

export interface BindServer {
  host: string;
  port: number;
  keyName: string;
  /** Base64 secret of the hmac-sha256 key. */
  secret: string;
  algorithm: 'hmac-sha256';
  zones: string[];
  dir: string;
  stop(): Promise<void>;
}

export const DEFAULT_ZONES = ['example.test', '2.0.192.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa'];

function zoneFile(zone: string): string {
  const lines = [
    '$TTL 300',
    `@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300`,
    '@ IN NS ns1.example.test.',
  ];
  if (zone === 'example.test') lines.push('ns1 IN A 127.0.0.1');
  return `${lines.join('\n')}\n`;
}

function namedConfig(dir: string, port: number, keyName: string, secret: string, zones: string[]): string {
  const zoneBlocks = zones.map(
    (zone) =>
      `zone "${zone}" { type primary; file "${path.join(dir, `${zone}.db`)}"; allow-update { key "${keyName}"; }; };`,
  );
  return [
    'options {',
    `  directory "${dir}";`,
    `  pid-file "${path.join(dir, 'named.pid')}";`,
    `  session-keyfile "${path.join(dir, 'session.key')}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    '  recursion no;',
    '  dnssec-validation no;',
    '  notify no;',
    '};',
    'controls { };',
    `key "${keyName}" { algorithm hmac-sha256; secret "${secret}"; };`,
    ...zoneBlocks,
    '',
  ].join('\n');
}

/** Starts named in the foreground (`-g`) with updatable primary zones and an hmac-sha256 TSIG key; no rndc. */
export async function startBind(options: BindOptions = {}): Promise<BindServer> {
  const zones = options.zones ?? DEFAULT_ZONES;
  const dir = tempDir('flowipam-bind-');
  const keyName = 'ipam-test-key';
  const secret = crypto.randomBytes(32).toString('base64');
  const processes: Managed[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map(terminate));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const zone of zones) fs.writeFileSync(path.join(dir, `${zone}.db`), zoneFile(zone));
    const port = await freePort(true);
    const configPath = path.join(dir, 'named.conf');
    fs.writeFileSync(configPath, namedConfig(dir, port, keyName, secret, zones));
    const named = launch('named', findBinary('named') as string, ['-g', '-4', '-n', '1', '-c', configPath], {}, dir);
    processes.push(named);
    await waitUntil(async () => /\brunning\b/.test(named.output()), processes, 'BIND');
    return { host: '127.0.0.1', port, keyName, secret, algorithm: 'hmac-sha256', zones, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
