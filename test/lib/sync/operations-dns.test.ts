import { expect } from 'chai';
import crypto from 'node:crypto';
import { Ipam } from '../../../lib/ipam';
import type { AddressRecord } from '../../../lib/record';
import { query, queryPtr } from '../../../lib/sync/dns';
import type { SyncResult } from '../../../lib/sync/operations';
import { freePort, requireBinaries, startBind, type BindServer } from '../../support/servers';
import { failure } from '../../support/failure';

type Json = Record<string, unknown>;

describe('ipam-sync DNS records with a real BIND server', function () {
  this.timeout(30_000);
  let bind: BindServer;
  let ipam: Ipam;
  let dns: Json;
  let server: { host: string; port: number; timeoutMs: number };

  const sync = async (operation: string, request: Json): Promise<SyncResult> =>
    (await ipam.perform('sync', operation, { dns, ...request })) as SyncResult;
  const add = async (fields: Json): Promise<AddressRecord> => (await ipam.perform('address', 'add', fields)) as AddressRecord;
  const get = async (address: string): Promise<AddressRecord> => (await ipam.perform('address', 'get', { address })) as AddressRecord;
  const aRecords = async (name: string, type: 'A' | 'AAAA' = 'A'): Promise<string[]> =>
    (await query(name, type, server)).map((r) => r.data);

  before(async function () {
    requireBinaries(this, ['named']);
    bind = await startBind();
    server = { host: bind.host, port: bind.port, timeoutMs: 3000 };
  });
  after(async () => {
    await bind?.stop();
  });
  beforeEach(async () => {
    ipam = await Ipam.open({ kind: 'embedded' });
    dns = { server: `${bind.host}:${bind.port}`, keyName: bind.keyName, secret: bind.secret, algorithm: 'hmac-sha256', timeoutMs: 3000 };
  });
  afterEach(async () => {
    await ipam.close();
  });

  it('creates and deletes host and PTR records, read back from BIND, with the status on the address', async () => {
    await add({ address: '192.0.2.20', deviceName: 'web1', dns: { forwardZone: 'example.test', reverseZone: '2.0.192.in-addr.arpa' } });
    const host = await sync('create-dns-host', { addresses: ['192.0.2.20'] });
    expect(host).to.include({ operation: 'create-dns-host', source: 'dns', created: 1, failed: 0 });
    expect(await aRecords('web1.example.test')).to.deep.equal(['192.0.2.20']);
    await sync('create-dns-ptr', { addresses: ['192.0.2.20'] });
    expect(await queryPtr('192.0.2.20', server)).to.deep.equal(['web1.example.test']);
    let stored = await get('192.0.2.20');
    expect(stored.dns).to.include({ hostSyncStatus: 'Create Success', ptrSyncStatus: 'Create Success', forwardZone: 'example.test' });
    expect(stored.dns?.syncMessage).to.match(/PTR 20\.2\.0\.192\.in-addr\.arpa -> web1\.example\.test added/);

    await sync('delete-dns-host', { addresses: ['192.0.2.20'] });
    expect(await aRecords('web1.example.test')).to.deep.equal([]);
    await sync('delete-dns-ptr', { addresses: ['192.0.2.20'] });
    expect(await queryPtr('192.0.2.20', server)).to.deep.equal([]);
    stored = await get('192.0.2.20');
    expect(stored.dns).to.include({ hostSyncStatus: 'Delete Success', ptrSyncStatus: 'Delete Success' });
  });

  it('IPv6: AAAA and an ip6.arpa PTR', async () => {
    await add({
      address: '2001:db8::42',
      deviceName: 'v6web',
      dns: { forwardZone: 'example.test', reverseZone: '8.b.d.0.1.0.0.2.ip6.arpa' },
    });
    await sync('create-dns-host', { addresses: ['2001:db8::42'] });
    await sync('create-dns-ptr', { addresses: ['2001:db8::42'] });
    expect(await aRecords('v6web.example.test', 'AAAA')).to.deep.equal(['2001:db8::42']);
    expect(await queryPtr('2001:db8::42', server)).to.deep.equal(['v6web.example.test']);
  });

  it('refuses a reverse zone that does not contain the address (VALIDATION naming dns.reverseZone)', async () => {
    await add({ address: '192.0.2.21', deviceName: 'x', dns: { forwardZone: 'example.test', reverseZone: '100.51.198.in-addr.arpa' } });
    const err = await failure(sync('create-dns-ptr', { addresses: ['192.0.2.21'] }));
    expect(err).to.include({ code: 'VALIDATION', field: 'dns.reverseZone' });
    expect((await get('192.0.2.21')).dns).to.include({ ptrSyncStatus: 'Create Failed' });
  });

  it('a reverse zone the server does not hold: SYNC_FAILED with the server’s NOTAUTH', async () => {
    await add({ address: '198.51.100.5', deviceName: 'y', dns: { forwardZone: 'example.test', reverseZone: '100.51.198.in-addr.arpa' } });
    const err = await failure(sync('create-dns-ptr', { addresses: ['198.51.100.5'] }));
    expect(err.code).to.equal('SYNC_FAILED');
    expect(err.message).to.match(/NOTAUTH/);
  });

  it('refuses a host record without deviceName or forwardZone, naming the field', async () => {
    await add({ address: '192.0.2.22', dns: { forwardZone: 'example.test' } });
    await add({ address: '192.0.2.23', deviceName: 'nozone' });
    const result = await sync('create-dns-host', { addresses: ['192.0.2.22', '192.0.2.23', '192.0.2.24'] }).catch((e: unknown) => e);
    expect(result).to.include({ code: 'VALIDATION', field: 'deviceName' });
    expect((await get('192.0.2.23')).dns).to.include({ hostSyncStatus: 'Create Failed' });
    expect(String((await get('192.0.2.23')).dns?.syncMessage)).to.match(/dns\.forwardZone/);
  });

  it('a wrong TSIG secret: SYNC_FAILED with the server’s BADSIG; nothing else on the record changes', async () => {
    const before = await add({ address: '192.0.2.25', deviceName: 'web5', dns: { forwardZone: 'example.test' } });
    dns.secret = crypto.randomBytes(32).toString('base64');
    const err = await failure(sync('create-dns-host', { ids: [before.id] }));
    expect(err.code).to.equal('SYNC_FAILED');
    expect(err.message).to.match(/BADSIG/);
    const after = await get('192.0.2.25');
    expect(after.dns).to.deep.equal({ forwardZone: 'example.test', hostSyncStatus: 'Create Failed', syncMessage: err.message });
    expect({ ...after, dns: undefined, updatedAt: undefined }).to.deep.equal({ ...before, dns: undefined, updatedAt: undefined });
    expect(await aRecords('web5.example.test')).to.deep.equal([]);
  });

  it('an unknown TSIG key name: SYNC_FAILED with BADKEY', async () => {
    await add({ address: '192.0.2.26', deviceName: 'web6', dns: { forwardZone: 'example.test' } });
    dns.keyName = 'no-such-key';
    const err = await failure(sync('create-dns-host', { addresses: ['192.0.2.26'] }));
    expect(err.message).to.match(/BADKEY/);
  });

  it('a record’s forwardPrimaryServer wins over the node’s server; a dead server is ECONNREFUSED', async () => {
    const dead = `127.0.0.1:${await freePort(true)}`;
    dns.server = dead;
    await add({
      address: '192.0.2.27',
      deviceName: 'web7',
      dns: { forwardZone: 'example.test', forwardPrimaryServer: `${bind.host}:${bind.port}` },
    });
    await add({ address: '192.0.2.28', deviceName: 'web8', dns: { forwardZone: 'example.test' } });
    const result = await sync('create-dns-host', { addresses: ['192.0.2.27', '192.0.2.28'] });
    expect(result).to.include({ created: 1, failed: 1 });
    expect(result.errors[0]).to.include({ address: '192.0.2.28', code: 'SYNC_FAILED' });
    expect(result.errors[0].message).to.match(/ECONNREFUSED/);
    expect(await aRecords('web7.example.test')).to.deep.equal(['192.0.2.27']);
  });
});
