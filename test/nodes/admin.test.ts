/**
 * The sidebar's admin endpoints in a real Node-RED with adminAuth: no token is 401, a user without the
 * flowipam.read permission 403, a user with it gets the tree of the store it names.
 */
import { expect } from 'chai';
import { startNodeRed, type RunningNodeRed } from '../support/node-red-process';

const SETTINGS = `
const users = {
  reader: { username: 'reader', permissions: ['flowipam.read', 'flows.read'] },
  other: { username: 'other', permissions: ['flows.read'] },
};
module.exports = {
  adminAuth: {
    type: 'credentials',
    users: (name) => Promise.resolve(users[name] || null),
    authenticate: (name, password) => Promise.resolve(users[name] && password === name + '-pw' ? users[name] : null),
  },
};
`;

describe('sidebar admin endpoints (Node-RED with adminAuth)', function () {
  this.timeout(60000);
  let red: RunningNodeRed;

  before(async () => {
    red = await startNodeRed({ settings: SETTINGS });
  });
  after(() => red?.stop());

  async function token(username: string): Promise<string> {
    const response = await fetch(`${red.base}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-editor', grant_type: 'password', scope: '', username, password: `${username}-pw` }),
    });
    expect(response.status, `token for ${username}`).to.equal(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  const get = (path: string, bearer?: string) =>
    fetch(`${red.base}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

  it('answers 401 without a token and 403 to a user without flowipam.read', async () => {
    for (const path of ['/flowipam/stores', '/flowipam/tree?config=x', '/flowipam/range?config=x&id=y']) {
      expect((await get(path)).status, path).to.equal(401);
      expect((await get(path, await token('other'))).status, path).to.equal(403);
    }
  });

  it('gives a reader the deployed stores and the tree of the one named', async () => {
    const post = (url: string, body: unknown) =>
      fetch(`${red.base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/ipam/blocks', { network: '10.0.0.0/8' })).status).to.equal(200);
    expect((await post('/ipam/ranges', { network: '10.1.0.0/24', description: 'servers' })).status).to.equal(200);
    expect((await post('/ipam/allocate', { range: '10.1.0.0/24', count: 5 })).status).to.equal(200);
    const bearer = await token('reader');
    const stores = (await (await get('/flowipam/stores', bearer)).json()) as { id: string; name: string; state: string }[];
    expect(stores).to.have.length(1);
    expect(stores[0]).to.include({ state: 'connected' });
    const config = encodeURIComponent(stores[0].id);
    const root = await (await get(`/flowipam/tree?config=${config}`, bearer)).json();
    expect(root.items.map((i: { id: string }) => i.id)).to.deep.equal(['Default|4']);
    const space = await (await get(`/flowipam/tree?config=${config}&parent=space&addressSpace=Default&family=4`, bearer)).json();
    expect(space.items.map((i: { label: string }) => i.label)).to.deep.equal(['10.0.0.0/8']);
    const block = await (await get(`/flowipam/tree?config=${config}&parent=block&id=${space.items[0].id}`, bearer)).json();
    expect(block.items[0]).to.deep.include({ kind: 'range', label: '10.1.0.0/24', description: 'servers' });
    expect(block.items[0].utilization).to.include({ size: 254, assigned: 5 });
    const details = await (await get(`/flowipam/range?config=${config}&id=${block.items[0].id}`, bearer)).json();
    expect(details.range).to.include({ network: '10.1.0.0/24', startAddress: '10.1.0.1', endAddress: '10.1.0.254' });
  });

  it('answers bad queries and unknown stores with a JSON error', async () => {
    const bearer = await token('reader');
    const unknown = await get('/flowipam/tree?config=nope', bearer);
    expect(unknown.status).to.equal(404);
    expect(await unknown.json()).to.include({ code: 'NOT_FOUND' });
    const stores = (await (await get('/flowipam/stores', bearer)).json()) as { id: string }[];
    const bad = await get(`/flowipam/tree?config=${encodeURIComponent(stores[0].id)}&limit=9999`, bearer);
    expect(bad.status).to.equal(400);
    expect(await bad.json()).to.include({ code: 'VALIDATION' });
  });
});
