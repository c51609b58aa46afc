/**
 * The ping and PTR availability checks, for real: ping into a network namespace this test creates
 * (one address answers, one stays silent), PTR against BIND on loopback with records added by nsupdate.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { parseAddress } from '../../../lib/address/math';
import type { AllocatedRecord } from '../../../lib/allocation';
import { IpamError } from '../../../lib/errors';
import { Ipam } from '../../../lib/ipam';
import { normaliseChecks, pingAnswers, probe, ptrNames, resolverAddress } from '../../../lib/address/probes';
import type { RangeRecord } from '../../../lib/record';
import { openStore } from '../../../lib/store';
import { findBinary, freePort, requireBinaries, startBind, type BindServer } from '../../support/servers';
import { failure } from '../../support/failure';

/** Skips (or, under CI=true, fails) with the reason printed. */
function skipBecause(context: Mocha.Context, reason: string): void {
  if (process.env.CI === 'true') throw new Error(`cannot run: ${reason}`);
  console.log(`      skipped: ${reason}`);
  context.skip();
}

// Test-only networks: 198.18.0.0/15 is for benchmarking (RFC 2544), fd00::/8 is unique local.
const NET4 = { host: '198.18.77.1', answers: '198.18.77.2', silent: '198.18.77.3' };
const NET6 = { host: 'fd42:77::1', answers: 'fd42:77::2', silent: 'fd42:77::3' };

describe('availability checks: ping (network namespace)', function () {
  this.timeout(30_000);
  const tag = String(process.pid % 100000);
  const ns = `fipam-${tag}`;
  const hostIf = `fiph${tag}`;
  const nsIf = `fipn${tag}`;
  let created = false;

  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, 'ip', ...args], { stdio: 'pipe' });

  before(function () {
    if (!findBinary('ip') || !findBinary('ping')) return skipBecause(this, 'needs the ip and ping commands (iproute2, iputils-ping)');
    if (process.getuid?.() !== 0) return skipBecause(this, 'needs root to create a network namespace');
    const probe = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
    if (probe.status !== 0) return skipBecause(this, `ip netns add is not permitted here: ${probe.stderr.trim()}`);
    created = true;
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', ns);
    ip('addr', 'add', `${NET4.host}/24`, 'dev', hostIf);
    ip('-6', 'addr', 'add', `${NET6.host}/64`, 'dev', hostIf, 'nodad');
    ip('link', 'set', hostIf, 'up');
    inNs('link', 'set', 'lo', 'up');
    inNs('addr', 'add', `${NET4.answers}/24`, 'dev', nsIf);
    inNs('-6', 'addr', 'add', `${NET6.answers}/64`, 'dev', nsIf, 'nodad');
    inNs('link', 'set', nsIf, 'up');
  });

  after(() => {
    if (!created) return;
    spawnSync('ip', ['link', 'del', hostIf]);
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('IPv4: the address in the namespace answers, the unused one stays silent', async () => {
    expect(await pingAnswers(parseAddress(NET4.answers), 1000)).to.equal(true);
    expect(await pingAnswers(parseAddress(NET4.silent), 500)).to.equal(false);
  });

  it('IPv6: the same with ping -6', async () => {
    expect(await pingAnswers(parseAddress(NET6.answers), 1000)).to.equal(true);
    expect(await pingAnswers(parseAddress(NET6.silent), 500)).to.equal(false);
  });

  it('probe() reports the ping answer as the reason', async () => {
    const checks = normaliseChecks({ ping: { enabled: true, timeoutMs: 500 } });
    expect(await probe(parseAddress(NET4.answers), checks)).to.deep.equal({ available: false, reason: 'ping: answered' });
    expect(await probe(parseAddress(NET4.silent), checks)).to.deep.equal({ available: true });
  });

  it('allocation and find skip the address that answers, and say ping ran', async () => {
    const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
    ipam.checks = normaliseChecks({ ping: { enabled: true, timeoutMs: 500 } });
    try {
      const range = (await ipam.perform('range', 'add', {
        network: '198.18.77.0/24',
        startAddress: NET4.answers,
        endAddress: '198.18.77.10',
      })) as RangeRecord;
      expect(await ipam.perform('address', 'find', { range: range.id, count: 2 })).to.deep.equal(['198.18.77.3', '198.18.77.4']);
      const record = (await ipam.perform('address', 'allocate', { range: range.id })) as AllocatedRecord;
      expect(record.address).to.equal(NET4.silent);
      expect(record.checks).to.deep.equal(['store', 'reservations', 'exclusions', 'ping']);
      const six = (await ipam.perform('range', 'add', { network: 'fd42:77::/64', startAddress: NET6.answers })) as RangeRecord;
      expect(((await ipam.perform('address', 'allocate', { range: six.id })) as AllocatedRecord).address).to.equal(NET6.silent);
    } finally {
      await ipam.close();
    }
  });

  it('a ping that cannot run fails the operation with SYNC_FAILED instead of guessing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const err = await failure(pingAnswers(parseAddress(NET4.silent), 500));
      expect(err).to.include({ code: 'SYNC_FAILED', field: 'checks.ping' });
      expect(err.message).to.contain('not installed');
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('availability checks: PTR (BIND on loopback)', function () {
  this.timeout(30_000);
  const ZONE4 = '77.18.198.in-addr.arpa';
  const ZONE6 = '0.0.0.0.0.0.0.0.7.7.0.0.2.4.d.f.ip6.arpa';
  let bind: BindServer | undefined;
  let server = '';

  before(async function () {
    requireBinaries(this, ['named', 'nsupdate']);
    bind = await startBind({ zones: [ZONE4, ZONE6] });
    server = `${bind.host}:${bind.port}`;
    const updates = [
      `server ${bind.host} ${bind.port}`,
      `zone ${ZONE4}`,
      `update add 5.${ZONE4}. 300 PTR host5.example.test.`,
      'send',
      `zone ${ZONE6}`,
      `update add ${nibbles('fd42:77::5')}. 300 PTR host5v6.example.test.`,
      'send',
      '',
    ].join('\n');
    execFileSync('nsupdate', ['-y', `hmac-sha256:${bind.keyName}:${bind.secret}`], { input: updates, stdio: 'pipe' });
  });

  after(async () => bind?.stop());

  it('finds the PTR name of an address that has one, and none (NXDOMAIN) for one that has not', async () => {
    expect(await ptrNames(parseAddress('198.18.77.5'), { server })).to.deep.equal(['host5.example.test']);
    expect(await ptrNames(parseAddress('198.18.77.6'), { server })).to.deep.equal([]);
    expect(await ptrNames(parseAddress('fd42:77::5'), { server })).to.deep.equal(['host5v6.example.test']);
    expect(await ptrNames(parseAddress('fd42:77::6'), { server })).to.deep.equal([]);
  });

  it('a refusing or unreachable resolver fails with SYNC_FAILED naming the resolver', async () => {
    const refused = await failure(ptrNames(parseAddress('10.99.0.1'), { server }));
    expect(refused).to.include({ code: 'SYNC_FAILED', field: 'checks.ptr' });
    expect(refused.message).to.contain(server).and.to.contain('EREFUSED');
    const nobody = `127.0.0.1:${await freePort(true)}`;
    const unreachable = await failure(ptrNames(parseAddress('198.18.77.6'), { server: nobody, timeoutMs: 300 }));
    expect(unreachable.code).to.equal('SYNC_FAILED');
    expect(unreachable.message).to.contain(nobody).and.to.contain('ECONNREFUSED');
    // A server that receives but never answers: the timeout is a failure too, not "no PTR".
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const quiet = `127.0.0.1:${silent.address().port}`;
      const timedOut = await failure(ptrNames(parseAddress('198.18.77.6'), { server: quiet, timeoutMs: 300 }));
      expect(timedOut.code).to.equal('SYNC_FAILED');
      expect(timedOut.message).to.contain('ETIMEOUT');
    } finally {
      silent.close();
    }
  });

  it('allocation skips an address with a PTR record and says ptr ran', async () => {
    const ipam = Ipam.over(await openStore({ kind: 'embedded' }));
    ipam.checks = normaliseChecks({ ptr: { enabled: true, server } });
    try {
      const range = (await ipam.perform('range', 'add', {
        network: '198.18.77.0/24',
        startAddress: '198.18.77.4',
        endAddress: '198.18.77.10',
      })) as RangeRecord;
      const records = (await ipam.perform('address', 'allocate', { range: range.id, count: 3 })) as AllocatedRecord[];
      expect(records.map((r) => r.address)).to.deep.equal(['198.18.77.4', '198.18.77.6', '198.18.77.7']);
      expect(records[0].checks).to.deep.equal(['store', 'reservations', 'exclusions', 'ptr']);
      const six = (await ipam.perform('range', 'add', { network: 'fd42:77::/64', startAddress: 'fd42:77::5' })) as RangeRecord;
      expect(await ipam.perform('address', 'find', { range: six.id })).to.deep.equal(['fd42:77::6']);
    } finally {
      await ipam.close();
    }
  });
});

describe('availability checks: configuration', () => {
  it('normalises the config object and refuses a bad resolver address by field', () => {
    expect(normaliseChecks(undefined)).to.deep.equal({});
    expect(normaliseChecks({ ping: { enabled: true }, ptr: { enabled: false, server: '10.0.0.53' } })).to.deep.equal({
      ping: { enabled: true, timeoutMs: 1000 },
      ptr: { enabled: false, timeoutMs: 2000, server: '10.0.0.53:53' },
    });
    expect(resolverAddress('[::1]:5353')).to.equal('[::1]:5353');
    expect(resolverAddress('::1')).to.equal('[::1]:53');
    let err: IpamError | undefined;
    try {
      normaliseChecks({ ptr: { enabled: true, server: 'dns.example.com' } });
    } catch (e) {
      err = e as IpamError;
    }
    expect(err).to.include({ code: 'VALIDATION', field: 'checks.ptr.server' });
    expect(() => normaliseChecks({ ping: { enabled: true, timeoutMs: 5 } })).to.throw(/checks.ping.timeoutMs/);
  });
});

/** The ip6.arpa name of an IPv6 address. */
function nibbles(address: string): string {
  const hex = parseAddress(address).value.toString(16).padStart(32, '0');
  return `${hex.split('').reverse().join('.')}.ip6.arpa`;
}
