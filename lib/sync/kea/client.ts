/**
 * Kea Control Agent client (REST over HTTP/HTTPS): commands, lease paging, scope discovery and
 * host reservation editing. Reading Kea's configuration is config.ts; the client of a node's settings, factory.ts. Every failure is an IpamError('SYNC_FAILED') carrying Kea's own reason.
 */
import http from 'node:http';
import https from 'node:https';
import { parseAddress, type Family } from '../../address';
import { IpamError, invalid, redact } from '../../errors';
import { canonicalMac, parseKeaLeases, type ParsedLeases } from '../leases';
import { unreachable } from '../reachability';
import { reservationsOf, reservesAddress, scopesOf, subnetNetwork, subnetsOf, type Json, type KeaScope } from './config';

export type KeaService = 'dhcp4' | 'dhcp6' | 'd2';

export interface KeaClientOptions {
  /** Control Agent URL, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  user?: string;
  password?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** Passed to https.request (e.g. `ca`, `rejectUnauthorized`). */
  tls?: https.RequestOptions;
}

export interface KeaResponse {
  result: number;
  text?: string;
  arguments?: Record<string, unknown>;
}

/** Kea result codes that are not failures. */
export const KEA_SUCCESS = 0;
export const KEA_EMPTY = 3;

export interface Reservation4Input {
  subnetId?: number;
  ipAddress: string;
  hwAddress: string;
  hostname?: string;
}

/** Kea host reservations are keyed by DUID or hardware address; they have no IAID. */
export interface Reservation6Input {
  subnetId?: number;
  ipAddress: string;
  duid?: string;
  hwAddress?: string;
  hostname?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_PAGE_SIZE = 500;

export class KeaClient {
  private readonly url: URL;
  private readonly commandLists = new Map<string, Promise<string[]>>();

  constructor(private readonly options: KeaClientOptions) {
    try {
      this.url = new URL(options.url);
    } catch {
      throw new IpamError('SYNC_FAILED', `Kea URL ${JSON.stringify(redact(options.url))} is not a valid URL`, {
        field: 'url',
        value: redact(options.url),
      });
    }
  }

  /**
   * Sends one command. `service` null addresses the Control Agent itself. Resolves on result 0
   * (success) and 3 (empty); any other result is a SYNC_FAILED error quoting Kea's text.
   */
  async command(name: string, service: KeaService | null = 'dhcp4', args?: Json): Promise<KeaResponse> {
    const body: Json = { command: name };
    if (service) body.service = [service];
    if (args) body.arguments = args;
    const reply = await this.post(body);
    const response = Array.isArray(reply) ? reply[0] : reply;
    if (!response || typeof response !== 'object' || typeof (response as Json).result !== 'number') {
      throw this.failure(`answered ${name} with something that is not a Kea response`);
    }
    const typed = response as KeaResponse;
    if (typed.result !== KEA_SUCCESS && typed.result !== KEA_EMPTY) {
      const where = service ? ` (${service})` : '';
      throw this.failure(`${name}${where} failed: result ${typed.result}: ${typed.text ?? 'no reason given'}`);
    }
    return typed;
  }

  async listCommands(service: KeaService | null = 'dhcp4'): Promise<string[]> {
    const response = await this.command('list-commands', service);
    return Array.isArray(response.arguments) ? (response.arguments as string[]) : [];
  }

  /** Full configuration, e.g. `{Dhcp4: {...}}`. */
  async configGet(service: KeaService = 'dhcp4'): Promise<Json> {
    const response = await this.command('config-get', service);
    return response.arguments ?? {};
  }

  async configTest(service: KeaService, config: Json): Promise<void> {
    await this.command('config-test', service, config);
  }

  async configSet(service: KeaService, config: Json): Promise<void> {
    await this.command('config-set', service, config);
  }

  /** Writes the running configuration to the server's configuration file (or `filename`). */
  async configWrite(service: KeaService = 'dhcp4', filename?: string): Promise<void> {
    await this.command('config-write', service, filename ? { filename } : {});
  }

  allLeases4(pageSize = DEFAULT_PAGE_SIZE): Promise<ParsedLeases> {
    return this.allLeases('lease4-get-page', 'dhcp4', pageSize);
  }

  allLeases6(pageSize = DEFAULT_PAGE_SIZE): Promise<ParsedLeases> {
    return this.allLeases('lease6-get-page', 'dhcp6', pageSize);
  }

  /** Scopes (subnets) of the server with pools, reservations and exclusions. */
  async discover(service: 'dhcp4' | 'dhcp6' = 'dhcp4'): Promise<KeaScope[]> {
    return scopesOf(await this.configGet(service));
  }

  /** Creates the reservation, replacing any reservation for the same IP address. */
  async upsertReservation4(input: Reservation4Input): Promise<void> {
    const hwAddress = canonicalMac(input.hwAddress ?? '');
    if (!hwAddress) throw this.invalid('hwAddress', input.hwAddress, 'is not a MAC address');
    const address = this.requireFamily(input.ipAddress, 4);
    const entry: Json = { 'hw-address': hwAddress, 'ip-address': address };
    if (input.hostname) entry.hostname = input.hostname;
    await this.upsertReservation('dhcp4', address, input.subnetId, entry);
  }

  async upsertReservation6(input: Reservation6Input): Promise<void> {
    const address = this.requireFamily(input.ipAddress, 6);
    const entry: Json = { 'ip-addresses': [address] };
    if (input.duid) entry.duid = input.duid.toLowerCase();
    else if (input.hwAddress && canonicalMac(input.hwAddress)) entry['hw-address'] = canonicalMac(input.hwAddress);
    else throw this.invalid('duid', input.duid, 'an IPv6 reservation needs a DUID or a MAC address');
    if (input.hostname) entry.hostname = input.hostname;
    await this.upsertReservation('dhcp6', address, input.subnetId, entry);
  }

  /** Removes every reservation of the address; resolves false when there was none. */
  deleteReservation4(ipAddress: string): Promise<boolean> {
    return this.deleteReservation('dhcp4', this.requireFamily(ipAddress, 4));
  }

  deleteReservation6(ipAddress: string): Promise<boolean> {
    return this.deleteReservation('dhcp6', this.requireFamily(ipAddress, 6));
  }

  /* ---------------------------------------------------------------- internals */

  private async allLeases(command: string, service: KeaService, pageSize: number): Promise<ParsedLeases> {
    const entries: unknown[] = [];
    let from = 'start';
    for (;;) {
      const response = await this.command(command, service, { from, limit: pageSize });
      const page = response.result === KEA_EMPTY ? [] : (response.arguments?.leases as unknown[]) ?? [];
      entries.push(...page);
      if (page.length < pageSize) break;
      from = String((page[page.length - 1] as Json)['ip-address']);
    }
    return parseKeaLeases(entries);
  }

  private hasCommand(service: KeaService, name: string): Promise<boolean> {
    let list = this.commandLists.get(service);
    if (!list) {
      list = this.listCommands(service);
      this.commandLists.set(service, list);
      list.catch(() => this.commandLists.delete(service));
    }
    return list.then((names) => names.includes(name));
  }

  private async upsertReservation(
    service: 'dhcp4' | 'dhcp6',
    address: string,
    subnetId: number | undefined,
    entry: Json,
  ): Promise<void> {
    if (await this.hasCommand(service, 'reservation-add')) {
      const id = subnetId ?? this.subnetIdFor(await this.configGet(service), address);
      await this.hostCmdsDelete(service, id, address);
      await this.command('reservation-add', service, { reservation: { ...entry, 'subnet-id': id } });
      return;
    }
    const config = await this.configGet(service);
    const id = subnetId ?? this.subnetIdFor(config, address);
    await this.editConfig(service, config, (subnets) => {
      const subnet = subnets.find((s) => s.id === id);
      if (!subnet) throw this.failure(`has no ${service} subnet with id ${id}`);
      const kept = reservationsOf(subnet).filter((r) => !reservesAddress(r, address));
      subnet.reservations = [...kept, entry];
    });
  }

  private async deleteReservation(service: 'dhcp4' | 'dhcp6', address: string): Promise<boolean> {
    const config = await this.configGet(service);
    if (await this.hasCommand(service, 'reservation-del')) {
      const id = this.subnetIdFor(config, address);
      return this.hostCmdsDelete(service, id, address);
    }
    const reserved = subnetsOf(config).some((s) => reservationsOf(s).some((r) => reservesAddress(r, address)));
    if (!reserved) return false;
    await this.editConfig(service, config, (editable) => {
      for (const subnet of editable) {
        subnet.reservations = reservationsOf(subnet).filter((r) => !reservesAddress(r, address));
      }
    });
    return true;
  }

  /** reservation-del answers "not found" with result 3 (newer Kea) or 1 and a "not found" text (older). */
  private async hostCmdsDelete(service: KeaService, subnetId: number, address: string): Promise<boolean> {
    try {
      const response = await this.command('reservation-del', service, { 'subnet-id': subnetId, 'ip-address': address });
      return response.result === KEA_SUCCESS;
    } catch (err) {
      if (err instanceof IpamError && /not (found|deleted)/i.test(err.message)) return false;
      throw err;
    }
  }

  /** config-get → edit → config-test → config-set → config-write, so the change survives a restart. */
  private async editConfig(service: 'dhcp4' | 'dhcp6', config: Json, edit: (subnets: Json[]) => void) {
    const rootKey = service === 'dhcp4' ? 'Dhcp4' : 'Dhcp6';
    const root = config[rootKey];
    if (!root || typeof root !== 'object') throw this.failure(`config-get returned no ${rootKey} section`);
    const copy = structuredClone(root) as Json;
    edit(subnetsOf({ [rootKey]: copy }));
    const next = { [rootKey]: copy };
    await this.configTest(service, next);
    await this.configSet(service, next);
    await this.configWrite(service);
  }

  private subnetIdFor(config: Json, address: string): number {
    const value = parseAddress(address).value;
    const matches = subnetsOf(config).filter((s) => {
      const network = subnetNetwork(s);
      return network !== undefined && network.first <= value && value <= network.last;
    });
    if (matches.length === 0) throw this.failure(`has no subnet containing ${address}`);
    return Number(matches[0].id);
  }

  private requireFamily(input: string, family: Family): string {
    const address = parseAddress(input, 'ipAddress');
    if (address.family !== family) throw this.invalid('ipAddress', input, `is not an IPv${family} address`);
    return address.text;
  }

  private invalid(field: string, value: unknown, reason: string): IpamError {
    return invalid(field, value, reason);
  }

  private failure(reason: string): IpamError {
    return new IpamError('SYNC_FAILED', `Kea at ${this.url.origin} ${reason}`, { field: 'url', value: this.url.href });
  }

  private post(body: Json): Promise<unknown> {
    const payload = Buffer.from(JSON.stringify(body));
    const secure = this.url.protocol === 'https:';
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/json',
      'Content-Length': payload.length,
    };
    if (this.options.user !== undefined) {
      const token = Buffer.from(`${this.options.user}:${this.options.password ?? ''}`).toString('base64');
      headers.Authorization = `Basic ${token}`;
    }
    const requestOptions: https.RequestOptions = { ...(secure ? this.options.tls : {}), method: 'POST', headers };
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(this.url, requestOptions, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => reject(this.failure(`response failed: ${err.message}`)));
        res.on('end', () => {
          try {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve(this.readReply(res.statusCode ?? 0, res.statusMessage ?? '', text));
          } catch (err) {
            reject(err);
          }
        });
      });
      request.setTimeout(timeoutMs, () => {
        request.destroy(unreachable(this.failure(`did not answer ${String(body.command)} within ${timeoutMs} ms`)));
      });
      request.on('error', (err) => reject(err instanceof IpamError ? err : unreachable(this.failure(connectionReason(err)))));
      request.end(payload);
    });
  }

  private readReply(status: number, statusText: string, text: string): unknown {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (status === 401 || status === 403) {
      throw this.failure(`refused the credentials: HTTP ${status} ${statusText || 'Unauthorized'}`);
    }
    if (status < 200 || status >= 300) {
      const reason = keaText(parsed) ?? (text.trim().slice(0, 200) || statusText);
      throw this.failure(`answered HTTP ${status}: ${reason}`);
    }
    if (parsed === undefined) throw this.failure('answered with a body that is not JSON');
    return parsed;
  }
}

function connectionReason(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return `refused the connection (ECONNREFUSED): is the Control Agent running?`;
  if (err.code === 'ENOTFOUND') return `could not be resolved (ENOTFOUND)`;
  return `could not be reached: ${err.code ? `${err.code} ` : ''}${err.message}`;
}

function keaText(parsed: unknown): string | undefined {
  const item = Array.isArray(parsed) ? parsed[0] : parsed;
  if (item && typeof item === 'object' && typeof (item as Json).text === 'string') {
    return `result ${String((item as Json).result)}: ${(item as Json).text as string}`;
  }
  return undefined;
}
