/**
 * Network availability checks of a candidate address (the guide's rules 4 and 5): no reply to a ping,
 * no DNS PTR record. Ping runs the system `ping` binary (no raw sockets in this process); PTR asks one
 * configurable resolver. Both are off unless configured, so nothing leaves the machine by default.
 */
import { execFile } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { parseAddress, reverseName, type Address } from './math';
import { IpamError, invalid, show } from '../errors';

/** What `ipam-config` passes in: a plain object, held by the Ipam as `checks`. */
export interface AvailabilityChecks {
  ping?: { enabled?: boolean; timeoutMs?: number };
  /** `server`: resolver address, `ip` or `ip:port` (`[v6]:port`); omitted = the system resolvers. */
  ptr?: { enabled?: boolean; server?: string; timeoutMs?: number };
}

/** The checks an allocation can run; a result lists those that ran, in this order. */
export type CheckName = 'store' | 'reservations' | 'exclusions' | 'ping' | 'ptr';

export interface ProbeVerdict {
  available: boolean;
  /** Why a candidate is not available, e.g. `ping: answered`, `ptr: host1.example.test`. */
  reason?: string;
}

export const DEFAULT_PING_TIMEOUT_MS = 1000;
export const DEFAULT_PTR_TIMEOUT_MS = 2000;

/** The network checks switched on, in check order. */
export function activeProbes(checks: AvailabilityChecks | undefined): ('ping' | 'ptr')[] {
  const active: ('ping' | 'ptr')[] = [];
  if (checks?.ping?.enabled) active.push('ping');
  if (checks?.ptr?.enabled) active.push('ptr');
  return active;
}

/**
 * Validates a checks object (from a config node or a caller) into a complete one.
 * Throws VALIDATION naming the field, so a wrong resolver address fails at deploy time.
 */
export function normaliseChecks(input: unknown): AvailabilityChecks {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid('checks', input, 'must be an object {ping, ptr}');
  const { ping, ptr } = input as AvailabilityChecks;
  const result: AvailabilityChecks = {};
  if (ping) {
    result.ping = { enabled: Boolean(ping.enabled), timeoutMs: timeout('checks.ping.timeoutMs', ping.timeoutMs, DEFAULT_PING_TIMEOUT_MS) };
  }
  if (ptr) {
    result.ptr = { enabled: Boolean(ptr.enabled), timeoutMs: timeout('checks.ptr.timeoutMs', ptr.timeoutMs, DEFAULT_PTR_TIMEOUT_MS) };
    if (ptr.server !== undefined && ptr.server !== '') result.ptr.server = resolverAddress(ptr.server);
  }
  return result;
}

function timeout(field: string, value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 100 || ms > 60_000) throw invalid(field, value, 'must be 100 to 60000 milliseconds');
  return ms;
}

/**
 * `ip`, `ip:port` or `[ipv6]:port` in the form `Resolver.setServers` takes. Node's resolver needs an IP,
 * not a host name.
 */
export function resolverAddress(value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4WithPort = /^([\d.]+):(\d{1,5})$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1], bracketed[2]] : v4WithPort ? [v4WithPort[1], v4WithPort[2]] : [text, undefined];
  let address: Address;
  try {
    address = parseAddress(host, 'checks.ptr.server');
  } catch {
    throw invalid('checks.ptr.server', value, 'must be a resolver IP address with an optional port, e.g. 10.0.0.53 or 10.0.0.53:5353');
  }
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw invalid('checks.ptr.server', value, 'port must be 1 to 65535');
  }
  const p = port ?? '53';
  return address.family === 6 ? `[${address.text}]:${p}` : `${address.text}:${p}`;
}

/** Runs the enabled checks on one address, in parallel; the first that finds it in use decides. */
export async function probe(address: Address, checks: AvailabilityChecks | undefined): Promise<ProbeVerdict> {
  const runs: Promise<string | undefined>[] = [];
  if (checks?.ping?.enabled) {
    const timeoutMs = checks.ping.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    runs.push(pingAnswers(address, timeoutMs).then((answered) => (answered ? 'ping: answered' : undefined)));
  }
  if (checks?.ptr?.enabled) {
    const { server, timeoutMs = DEFAULT_PTR_TIMEOUT_MS } = checks.ptr;
    runs.push(ptrNames(address, { server, timeoutMs }).then((names) => (names.length ? `ptr: ${names.join(', ')}` : undefined)));
  }
  const reasons = (await Promise.all(runs)).filter((r): r is string => r !== undefined);
  return reasons.length ? { available: false, reason: reasons.join('; ') } : { available: true };
}

/**
 * One echo request through the system `ping`. Exit 0 = a reply, 1 = no reply (also "unreachable"
 * answers from a router); anything else (no binary, not permitted, no route here) cannot tell, so it
 * fails the operation rather than hand out an address nobody checked.
 */
export function pingAnswers(address: Address, timeoutMs = DEFAULT_PING_TIMEOUT_MS): Promise<boolean> {
  const seconds = (Math.max(timeoutMs, 100) / 1000).toFixed(1);
  const args = [...(address.family === 6 ? ['-6'] : ['-4']), '-c', '1', '-W', seconds, '-n', address.text];
  return new Promise((resolve, reject) => {
    execFile('ping', args, { timeout: timeoutMs + 2000, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      if (!err) return resolve(true);
      const code: unknown = (err as { code?: unknown }).code;
      if (code === 1) return resolve(false);
      const why = code === 'ENOENT' ? 'the ping binary is not installed' : (String(stderr).trim() || err.message).split('\n')[0];
      reject(new IpamError('SYNC_FAILED', `ping check of ${show(address.text)} failed: ${why}; fix it or switch the ping check off in ipam-config`, {
        field: 'checks.ping',
        value: address.text,
      }));
    });
  });
}

/**
 * PTR names of an address from one resolver. NXDOMAIN and NODATA mean "no PTR record" (available).
 * A timeout, SERVFAIL or refusal cannot tell and fails the operation with SYNC_FAILED: an allocator
 * that silently skipped the check would hand out addresses that may have DNS names.
 * (`resolvePtr` on the reverse name, not `Resolver.reverse`: the latter reports every failure,
 * an unreachable server included, as ENOTFOUND.)
 */
export async function ptrNames(address: Address, options: { server?: string; timeoutMs?: number } = {}): Promise<string[]> {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? DEFAULT_PTR_TIMEOUT_MS, tries: 1 });
  if (options.server) resolver.setServers([resolverAddress(options.server)]);
  try {
    return await resolver.resolvePtr(reverseName(address));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === dns.NOTFOUND || code === dns.NODATA) return [];
    const server = options.server ?? 'the system resolver';
    throw new IpamError('SYNC_FAILED', `PTR check of ${show(address.text)} via ${server} failed: ${code ?? (err as Error).message}; fix the resolver or switch the PTR check off in ipam-config`, {
      field: 'checks.ptr',
      value: address.text,
    });
  } finally {
    resolver.cancel();
  }
}

