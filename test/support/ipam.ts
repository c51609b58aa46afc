/** The Ipam a contract test runs on. */
import { Ipam } from '../../lib/ipam';
import type { StoreFactory } from './stores';

/**
 * Gives every test of the suite a fresh Ipam over a new store of `factory` (through `use`, before the test),
 * closes it after the test, and shuts the factory down after the suite. `prepare` runs on each new Ipam.
 */
export function freshIpamEachTest(factory: StoreFactory, use: (ipam: Ipam) => void, prepare?: (ipam: Ipam) => Promise<unknown>): void {
  let ipam: Ipam | undefined;
  beforeEach(async () => {
    ipam = Ipam.over(await factory.open());
    use(ipam);
    await prepare?.(ipam);
  });
  afterEach(() => ipam?.close());
  after(async () => factory.shutdown?.());
}
