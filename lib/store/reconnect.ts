/**
 * Opening a store that may be down: retried with exponential backoff (capped) while the failure is
 * STORE_UNAVAILABLE; anything else (a bad URI, a password in it) fails at once, since retrying cannot fix it.
 */
import { isIpamError } from '../errors';

export interface RetryOptions {
  /** First wait after a failure. Default 1 s. */
  initialMs?: number;
  /** Longest wait between attempts. Default 60 s. */
  maxMs?: number;
  /** Told before each wait, so the caller can show it (ipam-config's status). */
  onRetry?(attempt: number, delayMs: number, err: Error): void;
  /** Checked before each attempt: true stops retrying (the config node was closed). */
  stopped?(): boolean;
}

export async function openWithRetry<T>(open: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const initial = options.initialMs ?? 1000;
  const max = options.maxMs ?? 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      if (!isIpamError(err, 'STORE_UNAVAILABLE') || options.stopped?.()) throw err;
      const delayMs = Math.min(initial * 2 ** (attempt - 1), max);
      options.onRetry?.(attempt, delayMs, err);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (options.stopped?.()) throw err;
    }
  }
}
