/** Secrets stay credentials: URLs carrying a password are refused, and messages never repeat one. */
import { expect } from 'chai';
import { IpamError, redact } from '../../../lib/errors';
import { openMongoStore } from '../../../lib/store';
import { keaClientOf } from '../../../lib/sync/kea';

function thrown(run: () => unknown): IpamError {
  try {
    run();
  } catch (err) {
    return err as IpamError;
  }
  throw new Error('expected an error');
}

describe('secrets in URLs', () => {
  it('redact masks the user and password part only', () => {
    expect(redact('mongodb://admin:s3cret@db1:27017/x')).to.equal('mongodb://***@db1:27017/x');
    expect(redact('http://127.0.0.1:8000/')).to.equal('http://127.0.0.1:8000/');
  });

  it('a Kea URL with user or password is refused, naming kea.url, without echoing the secret', () => {
    const err = thrown(() => keaClientOf({ url: 'http://kea:s3cret@127.0.0.1:8000/' }));
    expect(err.code).to.equal('VALIDATION');
    expect(err.field).to.equal('kea.url');
    expect(err.message).to.not.contain('s3cret');
  });

  it('a MongoDB URI with a password is refused before connecting, without echoing it', async () => {
    const err = await openMongoStore({ uri: 'mongodb://admin:s3cret@127.0.0.1:1/', database: 'x' }).catch((e: IpamError) => e);
    expect((err as IpamError).code).to.equal('VALIDATION');
    expect((err as IpamError).field).to.equal('uri');
    expect((err as IpamError).message).to.not.contain('s3cret');
  });

  it('a malformed MongoDB URI is STORE_UNAVAILABLE naming uri', async () => {
    const err = await openMongoStore({ uri: 'localhost:27017', database: 'x', serverSelectionTimeoutMs: 200 }).catch((e: IpamError) => e);
    expect((err as IpamError).code).to.equal('STORE_UNAVAILABLE');
    expect((err as IpamError).field).to.equal('uri');
  });
});
