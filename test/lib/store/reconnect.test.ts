import { expect } from 'chai';
import { IpamError } from '../../../lib/errors';
import { openWithRetry } from '../../../lib/store/reconnect';

describe('openWithRetry', () => {
  it('retries an unavailable store with growing, capped waits until it opens', async () => {
    let calls = 0;
    const waits: number[] = [];
    const opened = await openWithRetry(
      async () => {
        if (++calls < 5) throw new IpamError('STORE_UNAVAILABLE', 'down');
        return 'store';
      },
      { initialMs: 1, maxMs: 4, onRetry: (_attempt, delayMs) => waits.push(delayMs) },
    );
    expect(opened).to.equal('store');
    expect(waits).to.deep.equal([1, 2, 4, 4]);
  });

  it('does not retry what retrying cannot fix, and stops when told', async () => {
    let calls = 0;
    const bad = await openWithRetry(async () => {
      calls++;
      throw new IpamError('VALIDATION', 'password in the URI');
    }).catch((e: IpamError) => e);
    expect([bad.code, calls]).to.deep.equal(['VALIDATION', 1]);
    let stop = false;
    const stopped = await openWithRetry(
      async () => {
        stop = true;
        throw new IpamError('STORE_UNAVAILABLE', 'down');
      },
      { initialMs: 1, stopped: () => stop },
    ).catch((e: IpamError) => e);
    expect(stopped.code).to.equal('STORE_UNAVAILABLE');
  });
});
