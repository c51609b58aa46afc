import { expect } from 'chai';
import { findBinary, freePort, requireBinaries } from '../../support/servers';

describe('test/support/servers harness', () => {
  const skipped = new Error('skipped');
  const fakeContext = { skip: () => { throw skipped; } } as unknown as Mocha.Context;
  let savedCi: string | undefined;

  beforeEach(() => {
    savedCi = process.env.CI;
  });

  afterEach(() => {
    if (savedCi === undefined) delete process.env.CI;
    else process.env.CI = savedCi;
  });

  it('fails with the missing binary named when CI=true', () => {
    process.env.CI = 'true';
    expect(() => requireBinaries(fakeContext, ['flowipam-no-such-binary'])).to.throw(/cannot run: missing flowipam-no-such-binary/);
  });

  it('skips when not under CI', () => {
    delete process.env.CI;
    const log = console.log;
    console.log = () => undefined;
    try {
      expect(() => requireBinaries(fakeContext, ['flowipam-no-such-binary'])).to.throw(skipped);
    } finally {
      console.log = log;
    }
  });

  it('finds binaries in sbin even when PATH lacks it', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(findBinary('sh')).to.match(/\/sh$/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('hands out a loopback port free for TCP and UDP', async () => {
    const port = await freePort(true);
    expect(port).to.be.within(1024, 65535);
  });
});
