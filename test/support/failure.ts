import type { IpamError } from '../../lib/errors';

/** The error an operation fails with; the test fails if it succeeds instead. */
export async function failure(promise: Promise<unknown>): Promise<IpamError> {
  const outcome = await promise.then(
    () => undefined,
    (err: IpamError) => err,
  );
  if (!outcome) throw new Error('expected the operation to fail');
  return outcome;
}
