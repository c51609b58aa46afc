/**
 * DNS wire format (RFC 1035, RFC 2136): names, message building and parsing, record data, response codes.
 */
import { formatAddress, parseAddress, reverseName } from '../../address';
import { IpamError } from '../../errors';

export type RecordType = 'A' | 'AAAA' | 'PTR' | 'CNAME' | 'NS' | 'SOA' | 'TXT' | 'ANY';

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

export const TYPE_CODES: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, TXT: 16, AAAA: 28, ANY: 255 };

export const TYPE_NAMES = Object.fromEntries(Object.entries(TYPE_CODES).map(([k, v]) => [v, k])) as Record<number, string>;

export const TYPE_TSIG = 250;

export const CLASS_IN = 1;

export const CLASS_NONE = 254;

export const CLASS_ANY = 255;

export const OPCODE_QUERY = 0;

export const OPCODE_UPDATE = 5;
export const DEFAULT_TTL = 3600;

export const RCODES: Record<number, string> = {
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

/** Lower-case, no trailing dot; `''` is the root. */
export function normaliseName(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

export function isInside(name: string, zone: string): boolean {
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

export function encodeName(name: string): Buffer {
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

export function readName(message: Buffer, offset: number): { name: string; next: number } {
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

export function byteAt(message: Buffer, offset: number): number {
  if (offset >= message.length) throw failure('reply is truncated');
  return message[offset];
}

export function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

export function u48(value: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(value, 0, 6);
  return b;
}

export function header(id: number, opcode: number, recursionDesired: boolean, counts: number[]): Buffer {
  const flags = (opcode << 11) | (recursionDesired ? 0x0100 : 0);
  return Buffer.concat([u16(id), u16(flags), ...counts.map(u16)]);
}

export function question(name: string, type: number, klass: number): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(klass)]);
}

export function resourceRecord(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);
}

export function encodeRdata(type: DnsChange['type'], data: string): Buffer {
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

export function updateRecord(change: DnsChange): Buffer {
  const type = TYPE_CODES[change.type];
  if (change.action === 'delete-all') return resourceRecord(change.name, type, CLASS_ANY, 0, Buffer.alloc(0));
  if (change.data === undefined) throw failure(`${change.action} of ${change.type} ${change.name} needs data`);
  const rdata = encodeRdata(change.type, change.data);
  if (change.action === 'delete') return resourceRecord(change.name, type, CLASS_NONE, 0, rdata);
  return resourceRecord(change.name, type, CLASS_IN, change.ttl ?? DEFAULT_TTL, rdata);
}

export interface ParsedRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  rdataOffset: number;
  rdataLength: number;
  /** Offset of the record's first byte, to strip a TSIG record. */
  start: number;
}

export interface ParsedMessage {
  id: number;
  truncated: boolean;
  opcode: number;
  rcode: number;
  answers: ParsedRecord[];
  additional: ParsedRecord[];
}

/** Any read past the end of a malformed reply becomes a SYNC_FAILED error, not a RangeError. */
export function guarded<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof IpamError) throw err;
    throw failure(`reply is malformed: ${(err as Error).message}`);
  }
}

export function parseMessage(message: Buffer): ParsedMessage {
  return guarded(() => parseMessageUnguarded(message));
}

export function parseMessageUnguarded(message: Buffer): ParsedMessage {
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

export function readRecord(message: Buffer, start: number): ParsedRecord {
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

export function decodeRdata(message: Buffer, record: ParsedRecord): string {
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

export function readTxt(rdata: Buffer): string {
  const strings: string[] = [];
  for (let i = 0; i < rdata.length; i += 1 + rdata[i]) strings.push(rdata.toString('utf8', i + 1, i + 1 + rdata[i]));
  return strings.join('');
}

export function rcodeText(rcode: number): string {
  return RCODES[rcode] ?? `rcode ${rcode}`;
}

export function failure(message: string): IpamError {
  return new IpamError('SYNC_FAILED', message);
}
