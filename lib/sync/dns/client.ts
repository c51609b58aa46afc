/**
 * DNS client for IPAM sync: RFC 2136 dynamic updates signed with TSIG (RFC 8945), the reply's
 * TSIG verified, plus plain queries. UDP first, TCP when the reply is truncated. No dependencies.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { formatAddress, parseAddress, reverseName } from '../../address/math';
import { IpamError } from '../../errors';
import { ownValue } from '../../own';
import { unreachable } from '../reachability';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha384' | 'hmac-sha224' | 'hmac-sha1';
export type RecordType = 'A' | 'AAAA' | 'PTR' | 'CNAME' | 'NS' | 'SOA' | 'TXT' | 'ANY';

export interface DnsServer {
  host: string;
  /** Default 53. */
  port?: number;
  /** Default 5000 ms. */
  timeoutMs?: number;
}

export interface TsigKey {
  name: string;
  /** Base64, as in a BIND `key` statement. */
  secret: string;
  /** Default hmac-sha256. */
  algorithm?: TsigAlgorithm;
}

export interface DnsUpdateOptions extends DnsServer {
  key?: TsigKey;
}

export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  /** Address text, target name (no trailing dot), or hex for types not decoded here. */
  data: string;
}

export interface DnsChange {
  /** `delete` removes one record (needs `data`); `delete-all` removes the name's whole RRset of the type. */
  action: 'add' | 'delete' | 'delete-all';
  /** Absolute name (trailing dot optional). */
  name: string;
  type: 'A' | 'AAAA' | 'PTR' | 'CNAME' | 'TXT';
  ttl?: number;
  data?: string;
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

const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, ANY: 255 };
const TYPE_NAMES = Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k])) as Record<number, string>;
const TYPE_TSIG = 250;
const CLASS_IN = 1;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const OPCODE_QUERY = 0;
const OPCODE_UPDATE = 5;
const FUDGE_SECONDS = 300;
const DEFAULT_TTL = 3600;
const DEFAULT_TIMEOUT_MS = 5000;

const RCODES: Record<number, string> = {
  1: 'FORMERR: the server could not read the request',
  2: 'SERVFAIL: the server failed while processing the request',
  3: 'NXDOMAIN: the name does not exist',
  4: 'NOTIMP: the server does not implement this operation',
  5: 'REFUSED: the server refused the request',
  6: 'YXDOMAIN: a name that should not exist does',
  7: 'YXRRSET: a record set that should not exist does',
  8: 'NXRRSET: a record set that should exist does not',
  9: 'NOTAUTH: the server is not authoritative for the zone',
  10: 'NOTZONE: the name is not inside the zone',
};

const TSIG_ERRORS: Record<number, string> = {
  16: 'BADSIG: the server could not verify the signature (wrong TSIG secret?)',
  17: 'BADKEY: the server does not know this TSIG key name and algorithm',
  18: 'BADTIME: the clocks of this host and the server differ by more than the allowed fudge',
  22: 'BADTRUNC: the server refused the truncated MAC',
};

/* ------------------------------------------------------------------ names */

/** Lower-case, no trailing dot; `''` is the root. */
function normaliseName(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

function isInside(name: string, zone: string): boolean {
  const n = normaliseName(name);
  const z = normaliseName(zone);
  return z === '' || n === z || n.endsWith(`.${z}`);
}

/** `printer1` + `example.test` → `printer1.example.test`; absolute or zone-suffixed names stay. */
export function qualify(name: string, zone: string): string {
  if (name.trim().endsWith('.')) return normaliseName(name);
  return isInside(name, zone) ? normaliseName(name) : `${normaliseName(name)}.${normaliseName(zone)}`;
}

/** The most specific of `zones` that contains the address's reverse name, or undefined. */
export function reverseZoneFor(address: string, zones: string[]): string | undefined {
  const name = reverseName(address);
  const candidates = zones.map(normaliseName).filter((z) => z !== '' && isInside(name, z));
  return candidates.sort((a, b) => b.length - a.length)[0];
}

function encodeName(name: string): Buffer {
  const text = normaliseName(name);
  const labels = text === '' ? [] : text.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length === 0 || bytes.length > 63) {
      throw failure(`name ${JSON.stringify(name)} has an empty or over-long label`);
    }
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw failure(`name ${JSON.stringify(name)} is longer than 255 bytes`);
  return wire;
}

function readName(message: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let position = offset;
  let next = -1;
  for (let jumps = 0; jumps < 128; jumps++) {
    const length = byteAt(message, position);
    if (length === 0) {
      return { name: labels.join('.'), next: next === -1 ? position + 1 : next };
    }
    if ((length & 0xc0) === 0xc0) {
      if (next === -1) next = position + 2;
      position = ((length & 0x3f) << 8) | byteAt(message, position + 1);
      continue;
    }
    if (position + 1 + length > message.length) throw failure('reply has a name running past its end');
    labels.push(message.toString('latin1', position + 1, position + 1 + length));
    position += 1 + length;
  }
  throw failure('reply has a name compression loop');
}

function byteAt(message: Buffer, offset: number): number {
  if (offset >= message.length) throw failure('reply is truncated');
  return message[offset];
}

/* ------------------------------------------------------------------ message building */

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

function u48(value: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(value, 0, 6);
  return b;
}

function header(id: number, opcode: number, recursionDesired: boolean, counts: number[]): Buffer {
  const flags = (opcode << 11) | (recursionDesired ? 0x0100 : 0);
  return Buffer.concat([u16(id), u16(flags), ...counts.map(u16)]);
}

function question(name: string, type: number, klass: number): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(klass)]);
}

function resourceRecord(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);
}

function encodeRdata(type: DnsChange['type'], data: string): Buffer {
  if (type === 'A' || type === 'AAAA') {
    const address = parseAddress(data, 'address');
    if ((type === 'A') !== (address.family === 4)) throw failure(`${data} is not a valid ${type} address`);
    const hex = address.value.toString(16).padStart(address.family === 4 ? 8 : 32, '0');
    return Buffer.from(hex, 'hex');
  }
  if (type === 'TXT') {
    const bytes = Buffer.from(data, 'utf8');
    if (bytes.length > 255) throw failure('TXT string is longer than 255 bytes');
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  }
  return encodeName(data);
}

function updateRecord(change: DnsChange): Buffer {
  const type = TYPE_CODES[change.type];
  if (change.action === 'delete-all') return resourceRecord(change.name, type, CLASS_ANY, 0, Buffer.alloc(0));
  if (change.data === undefined) throw failure(`${change.action} of ${change.type} ${change.name} needs data`);
  const rdata = encodeRdata(change.type, change.data);
  if (change.action === 'delete') return resourceRecord(change.name, type, CLASS_NONE, 0, rdata);
  return resourceRecord(change.name, type, CLASS_IN, change.ttl ?? DEFAULT_TTL, rdata);
}

/* ------------------------------------------------------------------ message parsing */

interface ParsedRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  rdataOffset: number;
  rdataLength: number;
  /** Offset of the record's first byte, to strip a TSIG record. */
  start: number;
}

interface ParsedMessage {
  id: number;
  truncated: boolean;
  opcode: number;
  rcode: number;
  answers: ParsedRecord[];
  additional: ParsedRecord[];
}

/** Any read past the end of a malformed reply becomes a SYNC_FAILED error, not a RangeError. */
function guarded<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof IpamError) throw err;
    throw failure(`reply is malformed: ${(err as Error).message}`);
  }
}

function parseMessage(message: Buffer): ParsedMessage {
  return guarded(() => parseMessageUnguarded(message));
}

function parseMessageUnguarded(message: Buffer): ParsedMessage {
  if (message.length < 12) throw failure('reply is shorter than a DNS header');
  const flags = message.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => message.readUInt16BE(o));
  let offset = 12;
  for (let q = 0; q < counts[0]; q++) offset = readName(message, offset).next + 4;
  const sections: ParsedRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let r = 0; r < counts[s + 1]; r++) {
      const record = readRecord(message, offset);
      sections[s].push(record);
      offset = record.rdataOffset + record.rdataLength;
    }
  }
  return {
    id: message.readUInt16BE(0),
    truncated: (flags & 0x0200) !== 0,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    answers: sections[0],
    additional: sections[2],
  };
}

function readRecord(message: Buffer, start: number): ParsedRecord {
  const { name, next } = readName(message, start);
  if (next + 10 > message.length) throw failure('reply is truncated inside a record');
  const rdataLength = message.readUInt16BE(next + 8);
  if (next + 10 + rdataLength > message.length) throw failure('reply is truncated inside record data');
  return {
    name,
    type: message.readUInt16BE(next),
    klass: message.readUInt16BE(next + 2),
    ttl: message.readUInt32BE(next + 4),
    rdataOffset: next + 10,
    rdataLength,
    start,
  };
}

function decodeRdata(message: Buffer, record: ParsedRecord): string {
  const rdata = message.subarray(record.rdataOffset, record.rdataOffset + record.rdataLength);
  switch (record.type) {
    case TYPE_CODES.A:
      return formatAddress(4, BigInt(`0x${rdata.toString('hex')}`));
    case TYPE_CODES.AAAA:
      return formatAddress(6, BigInt(`0x${rdata.toString('hex')}`));
    case TYPE_CODES.PTR:
    case TYPE_CODES.CNAME:
    case TYPE_CODES.NS:
      return readName(message, record.rdataOffset).name;
    case TYPE_CODES.TXT:
      return readTxt(rdata);
    default:
      return rdata.toString('hex');
  }
}

function readTxt(rdata: Buffer): string {
  const strings: string[] = [];
  for (let i = 0; i < rdata.length; i += 1 + rdata[i]) strings.push(rdata.toString('utf8', i + 1, i + 1 + rdata[i]));
  return strings.join('');
}

/* ------------------------------------------------------------------ TSIG */

interface TsigFields {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function hmacName(algorithm: TsigAlgorithm): string {
  const hash = algorithm.replace(/^hmac-/, '');
  if (!['sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(hash)) {
    throw failure(`TSIG algorithm ${JSON.stringify(algorithm)} is not supported`);
  }
  return hash;
}

function decodeSecret(key: TsigKey): Buffer {
  const secret = Buffer.from(key.secret, 'base64');
  if (secret.length === 0) throw failure(`TSIG key ${JSON.stringify(key.name)} has an empty or non-base64 secret`);
  return secret;
}

/** The TSIG variables that follow the message in the MAC input (RFC 8945 section 4.3.3). */
function tsigVariables(keyName: string, fields: Omit<TsigFields, 'mac' | 'originalId'>): Buffer {
  return Buffer.concat([
    encodeName(keyName),
    u16(CLASS_ANY),
    u32(0),
    encodeName(fields.algorithm),
    u48(fields.timeSigned),
    u16(fields.fudge),
    u16(fields.error),
    u16(fields.other.length),
    fields.other,
  ]);
}

function computeMac(key: TsigKey, parts: Buffer[]): Buffer {
  const hmac = crypto.createHmac(hmacName(key.algorithm ?? 'hmac-sha256'), decodeSecret(key));
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/** Appends a TSIG record to `message` (whose ARCOUNT does not count it yet); returns the signed message and MAC. */
function sign(message: Buffer, key: TsigKey): { signed: Buffer; mac: Buffer } {
  const algorithm = key.algorithm ?? 'hmac-sha256';
  const timeSigned = Math.floor(Date.now() / 1000);
  const fields = { algorithm, timeSigned, fudge: FUDGE_SECONDS, error: 0, other: Buffer.alloc(0) };
  const mac = computeMac(key, [message, tsigVariables(key.name, fields)]);
  const rdata = Buffer.concat([
    encodeName(algorithm),
    u48(fields.timeSigned),
    u16(fields.fudge),
    u16(mac.length),
    mac,
    message.subarray(0, 2),
    u16(0),
    u16(0),
  ]);
  const signed = Buffer.concat([message, resourceRecord(key.name, TYPE_TSIG, CLASS_ANY, 0, rdata)]);
  signed.writeUInt16BE(signed.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

function readTsig(message: Buffer, record: ParsedRecord): TsigFields {
  const { name: algorithm, next } = readName(message, record.rdataOffset);
  const macLength = message.readUInt16BE(next + 8);
  const afterMac = next + 10 + macLength;
  const otherLength = message.readUInt16BE(afterMac + 4);
  return {
    algorithm,
    timeSigned: message.readUIntBE(next, 6),
    fudge: message.readUInt16BE(next + 6),
    mac: message.subarray(next + 10, afterMac),
    originalId: message.readUInt16BE(afterMac),
    error: message.readUInt16BE(afterMac + 2),
    other: message.subarray(afterMac + 6, afterMac + 6 + otherLength),
  };
}

/**
 * Checks the reply's TSIG against the request MAC (RFC 8945 section 5.3). A server that rejects our
 * key answers with a TSIG error and no MAC; that is reported as the server's reason.
 */
function verifyReply(reply: Buffer, parsed: ParsedMessage, key: TsigKey, requestMac: Buffer, server: string): void {
  const record = parsed.additional[parsed.additional.length - 1];
  if (!record || record.type !== TYPE_TSIG) {
    const reason = parsed.rcode !== 0 ? `: ${rcodeText(parsed.rcode)}` : '';
    throw failure(`DNS server ${server} sent an unsigned reply to a TSIG-signed request${reason}`);
  }
  const tsig = guarded(() => readTsig(reply, record));
  if (tsig.error !== 0) {
    throw failure(`DNS server ${server} rejected TSIG key ${JSON.stringify(key.name)}: ${tsigErrorText(tsig.error)}`);
  }
  const sameKey = normaliseName(record.name) === normaliseName(key.name);
  if (!sameKey || normaliseName(tsig.algorithm) !== (key.algorithm ?? 'hmac-sha256')) {
    throw failure(`DNS server ${server} signed its reply with a different key (${record.name}, ${tsig.algorithm})`);
  }
  const unsigned = Buffer.from(reply.subarray(0, record.start));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = computeMac(key, [u16(requestMac.length), requestMac, unsigned, tsigVariables(key.name, tsig)]);
  if (expected.length !== tsig.mac.length || !crypto.timingSafeEqual(expected, tsig.mac)) {
    throw failure(
      `DNS server ${server} reply failed TSIG verification: it was not signed with key ${JSON.stringify(key.name)}`,
    );
  }
  if (Math.abs(Date.now() / 1000 - tsig.timeSigned) > tsig.fudge) {
    throw failure(`DNS server ${server} reply is signed at a time outside the fudge window (clock skew)`);
  }
}

function rcodeText(rcode: number): string {
  return RCODES[rcode] ?? `rcode ${rcode}`;
}

function tsigErrorText(error: number): string {
  return TSIG_ERRORS[error] ?? `TSIG error ${error}`;
}

/* ------------------------------------------------------------------ transport */

function describe(server: DnsServer): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `${host}:${server.port ?? 53}`;
}

/** Sends over UDP and, when the reply is truncated, again over TCP. */
async function exchange(message: Buffer, server: DnsServer): Promise<Buffer> {
  const reply = await exchangeUdp(message, server);
  if (parseMessage(reply).truncated) return exchangeTcp(message, server);
  return reply;
}

function exchangeUdp(message: Buffer, server: DnsServer): Promise<Buffer> {
  const timeoutMs = server.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const id = message.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const finish = (err: Error | null, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply as Buffer);
    };
    const timer = setTimeout(
      () => finish(unreachable(failure(`DNS server ${describe(server)} did not answer within ${timeoutMs} ms`))),
      timeoutMs,
    );
    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(unreachable(failure(`DNS server ${describe(server)}: ${socketReason(err)}`)));
    });
    socket.on('message', (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === id) finish(null, reply);
    });
    // Connecting lets an ICMP port-unreachable surface as ECONNREFUSED instead of a timeout.
    socket.connect(server.port ?? 53, server.host, () => socket.send(message));
  });
}

function exchangeTcp(message: Buffer, server: DnsServer): Promise<Buffer> {
  const timeoutMs = server.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port ?? 53 });
    let received = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy(unreachable(failure(`DNS server ${describe(server)} did not answer over TCP within ${timeoutMs} ms`)));
    });
    socket.on('connect', () => socket.write(Buffer.concat([u16(message.length), message])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        socket.end();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      reject(err instanceof IpamError ? err : unreachable(failure(`DNS server ${describe(server)}: ${socketReason(err)}`))),
    );
    socket.on('close', () => {
      reject(failure(`DNS server ${describe(server)} closed the TCP connection without a reply`));
    });
  });
}

function socketReason(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return 'refused the connection (ECONNREFUSED): is the server running on that port?';
  return `${err.code ? `${err.code} ` : ''}${err.message}`;
}

function failure(message: string): IpamError {
  return new IpamError('SYNC_FAILED', message);
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
