/** Error codes of the public contract (spec: "Errors"). */
export type ErrorCode =
  | 'VALIDATION'
  | 'INVALID_ADDRESS'
  | 'OVERLAP'
  | 'DUPLICATE'
  | 'NOT_FOUND'
  | 'OUT_OF_RANGE'
  | 'RANGE_FULL'
  | 'RESERVED_VALUE'
  | 'IN_USE'
  | 'CONFLICT'
  | 'STORE_UNAVAILABLE'
  | 'SYNC_FAILED';

/** Every failure of the core is an IpamError: a code, and the field and value at fault when there is one. */
export class IpamError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly value?: unknown;

  constructor(code: ErrorCode, message: string, details: { field?: string; value?: unknown } = {}) {
    super(message);
    this.name = 'IpamError';
    this.code = code;
    if (details.field !== undefined) this.field = details.field;
    if (details.value !== undefined) this.value = details.value;
  }

  /** The message alone: Node-RED puts `String(err)` into `msg.error.message`, which needs no class name. */
  override toString(): string {
    return this.message;
  }
}

/** Codes of the contract, for checking an error that came from elsewhere. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'VALIDATION', 'INVALID_ADDRESS', 'OVERLAP', 'DUPLICATE', 'NOT_FOUND', 'OUT_OF_RANGE', 'RANGE_FULL',
  'RESERVED_VALUE', 'IN_USE', 'CONFLICT', 'STORE_UNAVAILABLE', 'SYNC_FAILED',
];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

/** Quotes a user value for an error message, short and unambiguous. */
export function show(value: unknown): string {
  if (value === undefined) return 'no value';
  const text = typeof value === 'string' ? JSON.stringify(value) : safeJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** JSON of any value: BigInts as numbers; a cycle or a prototype-less object without JSON gives a type tag. */
function safeJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) ?? describeType(value);
  } catch {
    return describeType(value);
  }
}

function describeType(value: unknown): string {
  if (typeof value === 'symbol' || typeof value === 'function') return typeof value;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

/** A URL or URI with any `user:password@` part masked, for messages and logs. */
/** Hides a URI's user information: everything between `//` and the last `@` (a password may hold `@` or `/`). */
export function redact(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)[^]*@/i.exec(uri);
  return match ? `${match[1]}***@${uri.slice(match[0].length)}` : uri;
}

/**
 * The message of every field error: `field "value": reason` (`network "10.0.0.0/33": prefix length must
 * be 0 to 32`), or `field: reason` when no value was given (`network: is required`).
 */
export function fieldMessage(field: string, value: unknown, reason: string): string {
  return isAbsent(value) ? `${field}: ${reason}` : `${field} ${show(value)}: ${reason}`;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === '';
}

export function invalid(field: string, value: unknown, reason: string): IpamError {
  return new IpamError('VALIDATION', fieldMessage(field, value, reason), { field, value });
}

export function isIpamError(err: unknown, code?: ErrorCode): err is IpamError {
  return err instanceof IpamError && (code === undefined || err.code === code);
}
