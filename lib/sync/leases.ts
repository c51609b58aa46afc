/**
 * DHCP lease parsers: ISC dhcpd.leases, dnsmasq leases files and Kea REST lease objects,
 * all normalised to one `Lease` shape. Malformed entries are reported by line, the rest kept.
 */
import { parseAddress, parseMac, type Family } from '../address';

export type LeaseState = 'active' | 'expired' | 'released' | 'free' | 'declined' | (string & {});

export interface Lease {
  /** Canonical text (dotted decimal, RFC 5952). */
  address: string;
  family: Family;
  /** Canonical `aa:bb:cc:dd:ee:ff`; absent when the hardware address is not a 6-byte MAC. */
  macAddress?: string;
  /** Lower-case colon-separated hex. */
  duid?: string;
  iaid?: number;
  hostname?: string;
  /** `null` means the lease never expires; absent when the source does not say. */
  expires?: Date | null;
  state: LeaseState;
  /** Kea subnet id, when the source has one. */
  subnetId?: number;
}

export interface LeaseError {
  /** 1-based line of the file, or 1-based position in a Kea lease list. */
  line: number;
  message: string;
}

export interface ParsedLeases {
  leases: Lease[];
  errors: LeaseError[];
}

/** `aa:bb:cc:dd:ee:ff` from colon, dash or unseparated hex (single-digit octets allowed); undefined otherwise. */
export function canonicalMac(input: string): string | undefined {
  return parseMac(input, true);
}

function bytesToHex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function canonicalDuid(input: string): string | undefined {
  const text = input.trim().toLowerCase();
  const octets = /^[0-9a-f]+$/.test(text) && text.length % 2 === 0 ? (text.match(/../g) ?? []) : text.split(':');
  if (octets.length === 0 || !octets.every((o) => /^[0-9a-f]{1,2}$/.test(o))) return undefined;
  return octets.map((o) => o.padStart(2, '0')).join(':');
}

/* ------------------------------------------------------------------ ISC dhcpd.leases */

interface Token {
  text: string;
  line: number;
  quoted: boolean;
  /** Decoded bytes of a quoted string (octal and backslash escapes resolved). */
  bytes?: number[];
}

interface Statement {
  words: Token[];
  line: number;
  block?: Statement[];
}

class SyntaxFault extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

function tokenize(text: string, errors: LeaseError[]): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '{' || ch === '}' || ch === ';') {
      tokens.push({ text: ch, line, quoted: false });
      i++;
    } else if (ch === '"') {
      const start = line;
      const quoted = readQuoted(text, i + 1);
      if (!quoted) {
        errors.push({ line: start, message: 'unterminated quoted string' });
        break;
      }
      const { bytes, end, newlines } = quoted;
      line += newlines;
      tokens.push({ text: Buffer.from(bytes).toString('latin1'), line: start, quoted: true, bytes });
      i = end;
    } else {
      const start = i;
      while (i < text.length && !/[\s{};"#]/.test(text[i])) i++;
      tokens.push({ text: text.slice(start, i), line, quoted: false });
    }
  }
  return tokens;
}

function readQuoted(text: string, from: number): { bytes: number[]; end: number; newlines: number } | undefined {
  const bytes: number[] = [];
  let newlines = 0;
  let i = from;
  while (i < text.length && text[i] !== '"') {
    if (text[i] === '\n') newlines++;
    if (text[i] === '\\' && /^[0-7]{3}/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 4;
    } else if (text[i] === '\\' && i + 1 < text.length) {
      bytes.push(text.charCodeAt(i + 1) & 0xff);
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
      i++;
    }
  }
  if (i >= text.length) return undefined;
  return { bytes, end: i + 1, newlines };
}

const TOP_LEVEL_KEYWORDS = new Set([
  'lease',
  'ia-na',
  'ia-ta',
  'ia-pd',
  'failover',
  'server-duid',
  'authoring-byte-order',
  'host',
  'class',
  'subclass',
]);

/**
 * Groups tokens into top-level statements with nested `{ }` blocks. A statement that cannot be
 * read is reported and skipped up to the next line that starts a top-level statement.
 */
function parseTopLevel(tokens: Token[], errors: LeaseError[]): Statement[] {
  const statements: Statement[] = [];
  const pos = { i: 0 };
  while (pos.i < tokens.length) {
    const start = pos.i;
    try {
      const statement = parseStatement(tokens, pos, false);
      if (statement) statements.push(statement);
    } catch (err) {
      if (!(err instanceof SyntaxFault)) throw err;
      errors.push({ line: err.line, message: err.message });
      pos.i = nextTopLevelStart(tokens, start + 1);
    }
  }
  return statements;
}

function nextTopLevelStart(tokens: Token[], from: number): number {
  for (let k = from; k < tokens.length; k++) {
    const startsLine = tokens[k - 1].line !== tokens[k].line;
    if (startsLine && !tokens[k].quoted && TOP_LEVEL_KEYWORDS.has(tokens[k].text)) return k;
  }
  return tokens.length;
}

/** One statement ending in `;` or a `{ }` block; returns undefined at the `}` closing a block. */
function parseStatement(tokens: Token[], pos: { i: number }, nested: boolean): Statement | undefined {
  const words: Token[] = [];
  while (pos.i < tokens.length) {
    const token = tokens[pos.i++];
    const punctuation = token.quoted ? '' : token.text;
    // dhcpd writes one statement per line, so a statement running onto the next line lost its ";".
    if (words.length > 0 && token.line !== words[0].line && punctuation !== ';') {
      throw new SyntaxFault(words[0].line, 'statement is missing its ";"');
    }
    if (punctuation === ';') {
      if (words.length > 0) return { words, line: words[0].line };
    } else if (punctuation === '{') {
      return { words, line: words[0]?.line ?? token.line, block: parseBlock(tokens, pos, token.line) };
    } else if (punctuation === '}') {
      if (!nested) throw new SyntaxFault(token.line, 'unexpected "}"');
      if (words.length > 0) throw new SyntaxFault(words[0].line, 'statement is missing its ";"');
      pos.i--;
      return undefined;
    } else {
      words.push(token);
    }
  }
  if (words.length > 0) throw new SyntaxFault(words[0].line, 'statement is missing its ";"');
  return undefined;
}

function parseBlock(tokens: Token[], pos: { i: number }, openLine: number): Statement[] {
  const block: Statement[] = [];
  while (pos.i < tokens.length) {
    if (!tokens[pos.i].quoted && tokens[pos.i].text === '}') {
      pos.i++;
      return block;
    }
    const statement = parseStatement(tokens, pos, true);
    if (statement) block.push(statement);
  }
  throw new SyntaxFault(openLine, 'block opened here is never closed');
}

/** ISC dates: `never`, `epoch <seconds>`, or `<weekday> yyyy/mm/dd hh:mm:ss` in UTC. */
export function parseIscDate(words: string[]): Date | null {
  if (words.length === 1 && words[0] === 'never') return null;
  if (words.length === 2 && words[0] === 'epoch' && /^\d+$/.test(words[1])) {
    return new Date(Number(words[1]) * 1000);
  }
  const date = /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/.exec(words[1] ?? '');
  const time = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(words[2] ?? '');
  if (words.length !== 3 || !/^[0-6]$/.test(words[0]) || !date || !time) {
    throw new Error(`unreadable date "${words.join(' ')}"`);
  }
  const [y, mo, d] = date.slice(1).map(Number);
  const [h, mi, s] = time.slice(1).map(Number);
  const result = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const roundTrip =
    result.getUTCFullYear() === y && result.getUTCMonth() === mo - 1 && result.getUTCDate() === d;
  if (!roundTrip || h > 23 || mi > 59 || s > 60) throw new Error(`impossible date "${words.join(' ')}"`);
  return result;
}

function plainWords(statement: Statement): string[] {
  return statement.words.map((w) => w.text);
}

/** Reads `binding state`, `ends`, `hardware ethernet`, `client-hostname` from a lease or iaaddr block. */
function readLeaseBody(body: Statement[], lease: Lease, errors: LeaseError[]): boolean {
  let ok = true;
  for (const statement of body) {
    const words = plainWords(statement);
    try {
      if (words[0] === 'binding' && words[1] === 'state' && words.length === 3) lease.state = words[2];
      else if (words[0] === 'ends') lease.expires = parseIscDate(words.slice(1));
      else if (words[0] === 'hardware' && words[1] === 'ethernet') lease.macAddress = requireMac(words[2]);
      else if (words[0] === 'client-hostname' && statement.words[1]?.quoted) lease.hostname = words[1];
    } catch (err) {
      errors.push({ line: statement.line, message: (err as Error).message });
      ok = false;
    }
  }
  return ok;
}

function requireMac(text: string | undefined): string {
  const mac = canonicalMac(text ?? '');
  if (!mac) throw new Error(`hardware ethernet "${text ?? ''}" is not a MAC address`);
  return mac;
}

/** The ia-na key is the IAID (4 bytes, in the file's authoring byte order) followed by the client DUID. */
function splitIaKey(bytes: number[], littleEndian: boolean): { iaid: number; duid: string } {
  if (bytes.length < 5) throw new Error('ia-na identifier is too short to hold an IAID and a DUID');
  const buffer = Buffer.from(bytes.slice(0, 4));
  const iaid = littleEndian ? buffer.readUInt32LE(0) : buffer.readUInt32BE(0);
  return { iaid, duid: bytesToHex(bytes.slice(4)) };
}

function iscLease(statement: Statement, errors: LeaseError[]): Lease | undefined {
  const address = parseAddress(statement.words[1]?.text, 'lease address');
  if (address.family !== 4) throw new Error(`lease ${address.text} is not IPv4 (IPv6 leases are ia-na blocks)`);
  const lease: Lease = { address: address.text, family: 4, state: 'active' };
  return readLeaseBody(statement.block ?? [], lease, errors) ? lease : undefined;
}

function iscIaLeases(statement: Statement, littleEndian: boolean, errors: LeaseError[]): Lease[] {
  const key = statement.words[1];
  if (!key?.quoted || !key.bytes) throw new Error(`${statement.words[0].text} needs a quoted identifier`);
  const { iaid, duid } = splitIaKey(key.bytes, littleEndian);
  const leases: Lease[] = [];
  for (const inner of statement.block ?? []) {
    if (inner.words[0]?.text !== 'iaaddr' || !inner.block) continue;
    try {
      const address = parseAddress(inner.words[1]?.text, 'iaaddr');
      if (address.family !== 6) throw new Error(`iaaddr ${address.text} is not IPv6`);
      const lease: Lease = { address: address.text, family: 6, duid, iaid, state: 'active' };
      if (readLeaseBody(inner.block, lease, errors)) leases.push(lease);
    } catch (err) {
      errors.push({ line: inner.line, message: (err as Error).message });
    }
  }
  return leases;
}

/**
 * Parses an ISC dhcpd `dhcpd.leases` file. dhcpd appends a new block on every change, so the last
 * block for an address wins. Statements other than `lease`, `ia-na` and `ia-ta` (server-duid,
 * failover, ia-pd, authoring-byte-order...) are read past.
 */
export function parseIscLeases(text: string): ParsedLeases {
  const errors: LeaseError[] = [];
  const statements = parseTopLevel(tokenize(text, errors), errors);
  // dhcpd stores the IAID in host byte order; without a declaration assume the usual little-endian host.
  let littleEndian = true;
  const byAddress = new Map<string, Lease>();
  const keep = (lease: Lease): void => {
    byAddress.delete(lease.address);
    byAddress.set(lease.address, lease);
  };
  for (const statement of statements) {
    const head = statement.words[0]?.text;
    try {
      if (head === 'authoring-byte-order' && !statement.block) {
        littleEndian = statement.words[1]?.text !== 'big-endian';
      } else if (head === 'lease' && statement.block) {
        const lease = iscLease(statement, errors);
        if (lease) keep(lease);
      } else if ((head === 'ia-na' || head === 'ia-ta') && statement.block) {
        iscIaLeases(statement, littleEndian, errors).forEach(keep);
      }
    } catch (err) {
      errors.push({ line: statement.line, message: (err as Error).message });
    }
  }
  return { leases: [...byAddress.values()], errors: errors.sort((a, b) => a.line - b.line) };
}

/* ------------------------------------------------------------------ dnsmasq */

export interface DnsmasqOptions {
  /** Leases whose expiry is before `now` are reported as `expired`. Defaults to the current time. */
  now?: Date;
}

/**
 * Parses a dnsmasq leases file: `<expiry> <mac> <ip> <hostname|*> <client-id|*>` for IPv4, then after
 * the `duid <server-duid>` line `<expiry> <iaid> <ip6> <hostname|*> <client-duid|*>` for IPv6.
 * Expiry 0 means an infinite lease.
 */
export function parseDnsmasqLeases(text: string, options: DnsmasqOptions = {}): ParsedLeases {
  const now = options.now ?? new Date();
  const leases: Lease[] = [];
  const errors: LeaseError[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0] === 'duid') return;
    try {
      leases.push(dnsmasqLease(fields, now));
    } catch (err) {
      errors.push({ line: index + 1, message: (err as Error).message });
    }
  });
  return { leases, errors };
}

function dnsmasqLease(fields: string[], now: Date): Lease {
  if (fields.length < 4 || fields.length > 5) {
    const expected = 'expected 4 or 5 fields (expiry, MAC or IAID, address, hostname, client id)';
    throw new Error(`${expected}, found ${fields.length}`);
  }
  const [expiryText, hardware, addressText, host, clientId] = fields;
  if (!/^\d+$/.test(expiryText)) throw new Error(`expiry "${expiryText}" is not a number of seconds`);
  const expires = expiryText === '0' ? null : new Date(Number(expiryText) * 1000);
  const address = parseAddress(addressText, 'lease address');
  const lease: Lease = {
    address: address.text,
    family: address.family,
    expires,
    state: expires !== null && expires < now ? 'expired' : 'active',
  };
  if (host !== '*') lease.hostname = host;
  if (address.family === 4) {
    const mac = canonicalMac(hardware);
    if (mac) lease.macAddress = mac;
  } else {
    const iaid = /^T?(\d+)$/.exec(hardware);
    if (!iaid) throw new Error(`IAID "${hardware}" is not a number`);
    lease.iaid = Number(iaid[1]);
    const duid = clientId && clientId !== '*' ? canonicalDuid(clientId) : undefined;
    if (duid) lease.duid = duid;
  }
  return lease;
}

/* ------------------------------------------------------------------ Kea */

/** Kea's infinite lifetime. */
const KEA_INFINITY = 0xffffffff;
const KEA_STATES: Record<number, LeaseState> = { 0: 'active', 1: 'declined', 2: 'expired' };

/**
 * Normalises the `leases` array of Kea `lease4-get-page` / `lease6-get-page` (and `-get-all`).
 * Prefix delegations (`type: IA_PD`) are not addresses and are left out without an error.
 */
export function parseKeaLeases(entries: unknown[]): ParsedLeases {
  const leases: Lease[] = [];
  const errors: LeaseError[] = [];
  entries.forEach((entry, index) => {
    try {
      const lease = keaLease(entry);
      if (lease) leases.push(lease);
    } catch (err) {
      errors.push({ line: index + 1, message: (err as Error).message });
    }
  });
  return { leases, errors };
}

function keaLease(entry: unknown): Lease | undefined {
  if (!entry || typeof entry !== 'object') throw new Error('lease is not an object');
  const raw = entry as Record<string, unknown>;
  if (raw.type === 'IA_PD') return undefined;
  const address = parseAddress(raw['ip-address'], 'ip-address');
  const lease: Lease = { address: address.text, family: address.family, state: keaState(raw.state) };
  const mac = typeof raw['hw-address'] === 'string' ? canonicalMac(raw['hw-address']) : undefined;
  if (mac) lease.macAddress = mac;
  if (typeof raw.hostname === 'string' && raw.hostname !== '') lease.hostname = raw.hostname;
  if (typeof raw.duid === 'string' && raw.duid !== '') lease.duid = canonicalDuid(raw.duid) ?? raw.duid;
  if (typeof raw.iaid === 'number') lease.iaid = raw.iaid;
  if (typeof raw['subnet-id'] === 'number') lease.subnetId = raw['subnet-id'];
  const expires = keaExpiry(raw.cltt, raw['valid-lft']);
  if (expires !== undefined) lease.expires = expires;
  return lease;
}

function keaState(state: unknown): LeaseState {
  if (state === undefined) return 'active';
  if (typeof state !== 'number') throw new Error(`state ${JSON.stringify(state)} is not a number`);
  return KEA_STATES[state] ?? `state-${state}`;
}

function keaExpiry(cltt: unknown, validLft: unknown): Date | null | undefined {
  if (validLft === KEA_INFINITY) return null;
  if (typeof cltt !== 'number' || typeof validLft !== 'number') return undefined;
  return new Date((cltt + validLft) * 1000);
}
