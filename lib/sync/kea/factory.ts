/**
 * The Kea client of an ipam-sync node's settings and the serviceInstance its records carry: the one place
 * lease import, scope discovery and reservation push take them from.
 */
import { invalid, redact } from '../../errors';
import type { KeaSettings } from '../result';
import { KeaClient } from './client';

export function keaClientOf(settings: KeaSettings | undefined): KeaClient {
  if (!settings || typeof settings.url !== 'string' || settings.url.trim() === '') {
    throw invalid('kea.url', settings?.url, 'the Kea Control Agent URL is required, e.g. http://127.0.0.1:8000/');
  }
  if (/^[a-z]+:\/\/[^/@]*@/i.test(settings.url.trim())) {
    throw invalid('kea.url', redact(settings.url), 'put the user and password in the node credentials, not in the URL');
  }
  return new KeaClient({
    url: settings.url.trim(),
    user: settings.user || undefined,
    password: settings.password || undefined,
    timeoutMs: settings.timeoutMs,
  });
}

/** The serviceInstance of a Kea server: its configured name, else the URL's host:port. */
export function keaInstance(settings: KeaSettings): string {
  if (settings.serverName && settings.serverName.trim() !== '') return settings.serverName.trim();
  try {
    return new URL(settings.url).host;
  } catch {
    throw invalid('kea.url', settings.url, 'is not a valid URL');
  }
}
