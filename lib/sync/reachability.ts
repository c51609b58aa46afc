/**
 * A server that does not answer is tried once per run: the transport failures of the DNS and Kea
 * clients are marked unreachable, and a run's DownServers fails every later address of that server
 * at once (one timeout per run, not one per address).
 */
import { IpamError } from '../errors';

const UNREACHABLE = new WeakSet<IpamError>();

/** Marks a failure as the server not answering or refusing the connection (not an answer it gave). */
export function unreachable(err: IpamError): IpamError {
  UNREACHABLE.add(err);
  return err;
}

export function isUnreachable(err: unknown): boolean {
  return err instanceof IpamError && UNREACHABLE.has(err);
}

/** The servers found unreachable during one run, by name. */
export class DownServers {
  private readonly down = new Map<string, IpamError>();

  /** Runs `work` against `server`, unless the server already failed to answer in this run. */
  async call<T>(server: string, work: () => Promise<T>): Promise<T> {
    const known = this.down.get(server);
    if (known) {
      throw new IpamError('SYNC_FAILED', `not tried: earlier in this run, ${known.message}`, { field: known.field, value: known.value });
    }
    try {
      return await work();
    } catch (err) {
      if (isUnreachable(err)) this.down.set(server, err as IpamError);
      throw err;
    }
  }
}
