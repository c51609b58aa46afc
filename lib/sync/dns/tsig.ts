/**
 * TSIG (RFC 8945): signing a request and verifying the signed reply.
 */
import crypto from 'node:crypto';
import { CLASS_ANY, TYPE_TSIG, encodeName, failure, guarded, normaliseName, rcodeText, readName, resourceRecord, u16, u32, u48, type ParsedMessage, type ParsedRecord } from './codec';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha384' | 'hmac-sha224' | 'hmac-sha1';

export interface TsigKey {
  name: string;
  /** Base64, as in a BIND `key` statement. */
  secret: string;
  /** Default hmac-sha256. */
  algorithm?: TsigAlgorithm;
}

export const FUDGE_SECONDS = 300;

export const TSIG_ERRORS: Record<number, string> = {
  16: 'BADSIG: the server could not verify the signature (wrong TSIG secret?)',
  17: 'BADKEY: the server does not know this TSIG key name and algorithm',
  18: 'BADTIME: the clocks of this host and the server differ by more than the allowed fudge',
  22: 'BADTRUNC: the server refused the truncated MAC',
};

export interface TsigFields {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

export function hmacName(algorithm: TsigAlgorithm): string {
  const hash = algorithm.replace(/^hmac-/, '');
  if (!['sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(hash)) {
    throw failure(`TSIG algorithm ${JSON.stringify(algorithm)} is not supported`);
  }
  return hash;
}

export function decodeSecret(key: TsigKey): Buffer {
  const secret = Buffer.from(key.secret, 'base64');
  if (secret.length === 0) throw failure(`TSIG key ${JSON.stringify(key.name)} has an empty or non-base64 secret`);
  return secret;
}

/** The TSIG variables that follow the message in the MAC input (RFC 8945 section 4.3.3). */
export function tsigVariables(keyName: string, fields: Omit<TsigFields, 'mac' | 'originalId'>): Buffer {
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

export function computeMac(key: TsigKey, parts: Buffer[]): Buffer {
  const hmac = crypto.createHmac(hmacName(key.algorithm ?? 'hmac-sha256'), decodeSecret(key));
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

/** Appends a TSIG record to `message` (whose ARCOUNT does not count it yet); returns the signed message and MAC. */
export function sign(message: Buffer, key: TsigKey): { signed: Buffer; mac: Buffer } {
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

export function readTsig(message: Buffer, record: ParsedRecord): TsigFields {
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
export function verifyReply(reply: Buffer, parsed: ParsedMessage, key: TsigKey, requestMac: Buffer, server: string): void {
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

export function tsigErrorText(error: number): string {
  return TSIG_ERRORS[error] ?? `TSIG error ${error}`;
}
