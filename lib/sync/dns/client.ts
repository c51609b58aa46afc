/**
 * DNS client for IPAM sync: RFC 2136 dynamic updates signed with TSIG (RFC 8945), the reply's
 * TSIG verified, plus plain queries. UDP first, TCP when the reply is truncated. No dependencies.
 * The parts: codec.ts (wire format), tsig.ts (signatures), transport.ts (UDP/TCP).
 */
import crypto from 'node:crypto';
import { parseAddress, reverseName } from '../../address';
import { ownValue } from '../../own';
import { CLASS_IN, DEFAULT_TTL, OPCODE_QUERY, OPCODE_UPDATE, TYPE_CODES, TYPE_NAMES, decodeRdata, failure, guarded, header, isInside, normaliseName, parseMessage, qualify, question, rcodeText, updateRecord, type DnsChange, type DnsRecord, type RecordType } from './codec';
import { describe, exchange, type DnsServer } from './transport';
import { sign, verifyReply, type TsigKey } from './tsig';

export interface DnsUpdateOptions extends DnsServer {
  key?: TsigKey;
}

export interface HostRecordInput {
  /** Relative to `zone` unless it ends with a dot or already ends with the zone. */
  name: string;
  zone: string;
  address: string;
  ttl?: number;
  /** Remove the name's other records of the same type first. Default false. */
  replace?: boolean;
}

export interface PtrRecordInput {
  address: string;
  /** Reverse zone that holds the PTR, e.g. `2.0.192.in-addr.arpa` (see reverseZoneFor). */
  zone: string;
  /** Target host name (absolute). Required to add; when deleting, omit to remove every PTR of the address. */
  hostname?: string;
  ttl?: number;
  /** Replace any other PTR of the address. Default true: an address should point back to one name. */
  replace?: boolean;
}

function newId(): number {
  return crypto.randomInt(0, 0x10000);
}

/* ------------------------------------------------------------------ public operations */

/** Sends one query (recursion desired) and returns the answer records of `type`; NXDOMAIN gives []. */
export async function query(name: string, type: RecordType, server: DnsServer): Promise<DnsRecord[]> {
  const code = ownValue(TYPE_CODES, type);
  if (code === undefined) throw failure(`record type ${JSON.stringify(type)} is not supported`);
  const message = Buffer.concat([header(newId(), OPCODE_QUERY, true, [1, 0, 0, 0]), question(name, code, CLASS_IN)]);
  const reply = await exchange(message, server);
  const parsed = parseMessage(reply);
  if (parsed.rcode === 3) return [];
  if (parsed.rcode !== 0) {
    throw failure(`DNS server ${describe(server)} answered ${type} ${name} with ${rcodeText(parsed.rcode)}`);
  }
  return parsed.answers
    .filter((r) => type === 'ANY' || r.type === code)
    .map((r) => ({
      name: r.name,
      type: TYPE_NAMES[r.type] ?? String(r.type),
      ttl: r.ttl,
      data: guarded(() => decodeRdata(reply, r)),
    }));
}

/** Host names the PTR records of `address` point to, as the resolver answers them. */
export async function queryPtr(address: string, resolver: DnsServer, timeoutMs?: number): Promise<string[]> {
  const records = await query(reverseName(address), 'PTR', { ...resolver, timeoutMs: timeoutMs ?? resolver.timeoutMs });
  return records.map((r) => r.data);
}

export class DnsUpdateClient {
  constructor(private readonly options: DnsUpdateOptions) {}

  /** Sends one RFC 2136 UPDATE for `zone`; resolves when the server answers NOERROR with a valid signature. */
  async update(zone: string, changes: DnsChange[]): Promise<void> {
    const records = changes.map(updateRecord);
    const unsigned = Buffer.concat([
      header(newId(), OPCODE_UPDATE, false, [1, 0, records.length, 0]),
      question(zone, TYPE_CODES.SOA, CLASS_IN),
      ...records,
    ]);
    const key = this.options.key;
    const { signed, mac } = key ? sign(unsigned, key) : { signed: unsigned, mac: Buffer.alloc(0) };
    const reply = await exchange(signed, this.options);
    const parsed = parseMessage(reply);
    const server = describe(this.options);
    if (parsed.opcode !== OPCODE_UPDATE) {
      throw failure(`DNS server ${server} answered the update with a different opcode`);
    }
    if (key) verifyReply(reply, parsed, key, mac, server);
    if (parsed.rcode !== 0) {
      const who = key ? `is key ${JSON.stringify(key.name)}` : 'is an unsigned update';
      const hint = parsed.rcode === 5 ? ` (${who} allowed to update it?)` : '';
      const reason = `${rcodeText(parsed.rcode)}${hint}`;
      throw failure(`DNS server ${server} refused the update of zone ${normaliseName(zone)}: ${reason}`);
    }
  }

  /** Adds an A or AAAA record (type from the address family). */
  async addHost(input: HostRecordInput): Promise<void> {
    const { name, type, address } = hostParts(input);
    const add: DnsChange = { action: 'add', name, type, data: address, ttl: input.ttl ?? DEFAULT_TTL };
    return this.update(input.zone, input.replace ? [{ action: 'delete-all', name, type }, add] : [add]);
  }

  /** Deletes the A or AAAA record of this name and address; other records of the name stay. */
  async deleteHost(input: Omit<HostRecordInput, 'ttl' | 'replace'>): Promise<void> {
    const { name, type, address } = hostParts(input);
    return this.update(input.zone, [{ action: 'delete', name, type, data: address }]);
  }

  async addPtr(input: PtrRecordInput): Promise<void> {
    const name = ptrName(input);
    if (!input.hostname) throw failure(`adding the PTR of ${input.address} needs a hostname`);
    const target = normaliseName(input.hostname);
    const add: DnsChange = { action: 'add', name, type: 'PTR', data: target, ttl: input.ttl ?? DEFAULT_TTL };
    const replace = input.replace ?? true;
    return this.update(input.zone, replace ? [{ action: 'delete-all', name, type: 'PTR' }, add] : [add]);
  }

  async deletePtr(input: PtrRecordInput): Promise<void> {
    const name = ptrName(input);
    const change: DnsChange = input.hostname
      ? { action: 'delete', name, type: 'PTR', data: normaliseName(input.hostname) }
      : { action: 'delete-all', name, type: 'PTR' };
    return this.update(input.zone, [change]);
  }
}

function hostParts(input: { name: string; zone: string; address: string }): {
  name: string;
  type: 'A' | 'AAAA';
  address: string;
} {
  const address = parseAddress(input.address, 'address');
  return { name: qualify(input.name, input.zone), type: address.family === 4 ? 'A' : 'AAAA', address: address.text };
}

function ptrName(input: PtrRecordInput): string {
  const name = reverseName(input.address);
  if (!isInside(name, input.zone)) {
    throw failure(`${input.address} (${name}) is not inside reverse zone ${JSON.stringify(normaliseName(input.zone))}`);
  }
  return name;
}
