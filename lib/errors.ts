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
}

/** Quotes a user value for an error message, short and unambiguous. */
export function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : safeJson(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function safeJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A URL or URI with any `user:password@` part masked, for messages and logs. */
/** Hides a URI's user information: everything between `//` and the last `@` (a password may hold `@` or `/`). */
export function redact(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)[^]*@/i.exec(uri);
  return match ? `${match[1]}***@${uri.slice(match[0].length)}` : uri;
}

export function invalid(field: string, value: unknown, reason: string): IpamError {
  return new IpamError('VALIDATION', `${field} ${show(value)}: ${reason}`, { field, value });
}

export function isIpamError(err: unknown, code?: ErrorCode): err is IpamError {
  return err instanceof IpamError && (code === undefined || err.code === code);
}
