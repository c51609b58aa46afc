/**
 * Property-based: generated hostile payloads and msg properties sent to every operation of every node
 * through node-red-node-test-helper. Each message ends in a result or in done(err) with a contract code,
 * in bounded time, with no uncaught error; operator-shaped values never act as operators.
 *
 * Budget: FUZZ_RUNS (default 120 messages per property in `npm test`), FUZZ_SEED (default fixed);
 * `npm run fuzz` runs a longer budget and prints the counts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../../lib/errors';
import { operationsOf, type Ipam, type NodeKind } from '../../lib/ipam';
import type { IpamConfigNode } from '../../nodes/common';
import allocateModule = require('../../nodes/ipam-allocate');
import blockModule = require('../../nodes/ipam-block');
import configModule = require('../../nodes/ipam-config');
import expiryModule = require('../../nodes/ipam-expiry');
import importModule = require('../../nodes/ipam-import');
import rangeModule = require('../../nodes/ipam-range');
import syncModule = require('../../nodes/ipam-sync');
import { catchNode, catchNodes, helper, onTab, startNodeRed, stopNodeRed } from '../support/node-red';
import { hostileCsv, hostilePayload, hostileScalar, hostileValue, operatorObject, FIELD_NAMES } from '../support/hostile';
import { freePort } from '../support/servers';
import { tempDir } from '../support/stores';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const completeNode = require('@node-red/nodes/core/common/24-complete.js');
const NODES = [configModule, blockModule, rangeModule, allocateModule, importModule, syncModule, expiryModule, catchNode, completeNode];

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const OUTCOME_TIMEOUT_MS = 20_000;
/** Outcomes by kind; printed at the end when FUZZ_REPORT is set (`npm run fuzz`). */
const counts: Record<string, number> = Object.create(null);
const count = (key: string): void => void (counts[key] = (counts[key] ?? 0) + 1);
after(() => {
  if (process.env.FUZZ_REPORT) console.log(`fuzz (runs ${RUNS}, seed ${SEED}): ${JSON.stringify(Object.fromEntries(Object.entries(counts).sort()))}`);
});

const NODE_KINDS: Record<string, NodeKind> = {
  blk: 'block', rng: 'range', alc: 'address', imp: 'import', syn: 'sync', exp: 'expiry',
};
const NODE_IDS = Object.keys(NODE_KINDS);

type Msg = Record<string, unknown>;
type Outcome = { kind: 'result'; msg: Msg } | { kind: 'error'; error: { code?: unknown; message?: unknown } };

describe('hostile input to every node operation (fast-check)', function () {
  this.timeout(600_000);
  const dir = tempDir('flowipam-fuzz-');
  let deadDns: string;
  const warnings: string[] = [];
  const uncaught: unknown[] = [];
  const recordUncaught = (err: unknown): number => uncaught.push(err);
  let pending = new Map<string, (outcome: Outcome) => void>();
  let sequence = 0;

  before(async () => {
    deadDns = `127.0.0.1:${await freePort(true)}`;
    const deadKea = `http://127.0.0.1:${await freePort()}/`;
    process.on('unhandledRejection', recordUncaught);
    await startNodeRed();
    const common = { server: 'cfg', wires: [['out']] };
    await helper.load(NODES, onTab([
      { id: 'cfg', type: 'ipam-config', store: 'embedded', directory: path.join(dir, 'store'), pingCheck: false, ptrCheck: false },
      { id: 'blk', type: 'ipam-block', operation: 'list', ...common },
      { id: 'rng', type: 'ipam-range', operation: 'list', ...common },
      { id: 'alc', type: 'ipam-allocate', operation: 'list', ...common },
      { id: 'imp', type: 'ipam-import', operation: 'import', entity: 'addresses', reportFolder: path.join(dir, 'reports'), ...common },
      {
        id: 'syn', type: 'ipam-sync', operation: 'create-dns-host', source: 'kea', keaUrl: deadKea, dnsServer: deadDns,
        leasesFile: path.join(dir, 'no-such-leases'), intervalHours: 0, ...common,
      },
      { id: 'exp', type: 'ipam-expiry', logging: 'transitions', intervalHours: 0, ...common },
      { id: 'out', type: 'helper' },
      { id: 'complete', type: 'complete', scope: NODE_IDS, uncaught: false, wires: [['completed']] },
      { id: 'completed', type: 'helper' },
      ...catchNodes(),
    ]));
    const settle = (kind: 'result' | 'error') => (msg: Msg): void => {
      const resolve = pending.get(String(msg._msgid));
      if (!resolve) return;
      pending.delete(String(msg._msgid));
      resolve(kind === 'result' ? { kind, msg } : { kind, error: msg.error as Outcome extends { error: infer E } ? E : never });
    };
    helper.getNode('completed').on('input', settle('result') as never);
    helper.getNode('caught').on('input', settle('error') as never);
    for (const id of NODE_IDS) {
      const node = helper.getNode(id);
      const warn = node.warn.bind(node);
      node.warn = (text: unknown) => {
        warnings.push(String(text));
        warn(text);
      };
    }
    await seed(await ipam());
  });

  after(async () => {
    process.off('unhandledRejection', recordUncaught);
    await stopNodeRed();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ipam = (): Promise<Ipam> => (helper.getNode('cfg') as unknown as IpamConfigNode).ipam();

  async function seed(core: Ipam): Promise<void> {
    const tolerate = (p: Promise<unknown>) => p.catch(() => undefined);
    await tolerate(core.perform('block', 'add', { network: '10.0.0.0/16' }));
    await tolerate(core.perform('range', 'add', { network: '10.0.1.0/24' }));
    for (const n of [1, 2, 3]) await tolerate(core.perform('address', 'add', { address: `10.0.1.${n + 4}`, deviceName: `h${n}` }));
  }

  /** Sends one message to a node and waits for done() (via a Complete node) or done(err) (via a Catch node). */
  function send(nodeId: string, msg: Msg): Promise<Outcome> {
    const id = `fuzz-${++sequence}`;
    return new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no outcome within ${OUTCOME_TIMEOUT_MS} ms for ${nodeId} ${brief(msg)}`));
      }, OUTCOME_TIMEOUT_MS);
      pending.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
      helper.getNode(nodeId).receive({ ...msg, _msgid: id });
    });
  }

  /** Records written by generated input may name DNS servers: point them at the dead loopback port. */
  async function confineDnsServers(): Promise<void> {
    const addresses = (await ipam()).store.collection('addresses');
    for (const doc of await addresses.find({})) {
      const dns = doc.dns as Record<string, unknown> | undefined;
      if (!dns || (dns.forwardPrimaryServer === undefined && dns.reversePrimaryServer === undefined)) continue;
      await addresses.updateOne({ id: doc.id }, { $set: { dns: { ...dns, forwardPrimaryServer: deadDns, reversePrimaryServer: deadDns } } });
    }
  }

  function checkOutcome(outcome: Outcome, input: unknown): void {
    const warningsSeen = warnings.splice(0);
    const unexpected = warningsSeen.filter((w) => w.startsWith('unexpected failure'));
    expect(unexpected, `a failure without a contract code: ${unexpected.join('; ').slice(0, 600)}`).to.deep.equal([]);
    expect(uncaught.splice(0), 'unhandled rejections').to.deep.equal([]);
    if (outcome.kind === 'result') {
      count('result');
      return;
    }
    const { code, message } = outcome.error;
    count(`error ${String(code)}`);
    expect(ERROR_CODES, `code of "${String(message)}"`).to.include(code);
    expect(message).to.be.a('string').and.not.match(/^(Ipam)?Error: /);
    if (!brief(input).includes('undefined')) expect(message).not.to.match(/\bundefined\b/);
  }

  const filename = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(path.join(dir, 'missing.csv'), path.join(dir, 'export.csv'), dir, path.join(dir, 'no', 'such', 'dir', 'x.csv')),
    hostileScalar.filter((value) => typeof value !== 'string'),
    fc.array(fc.string(), { maxLength: 2 }),
  );
  const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 2 });

  const message = fc.constantFrom(...NODE_IDS).chain((nodeId) => {
    const operations = operationsOf(NODE_KINDS[nodeId]);
    return fc.record({
      nodeId: fc.constant(nodeId),
      msg: fc.record(
        {
          operation: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...operations) }, { weight: 1, arbitrary: hostileScalar }),
          payload: nodeId === 'imp' ? hostileCsv : hostilePayload,
          entity: optional(fc.oneof(fc.constantFrom('addresses', 'ranges', 'blocks', 'rangeGroups', 'Address'), hostileScalar)),
          filter: optional(hostileValue),
          filename: optional(filename),
          dryRun: optional(hostileScalar),
          allOrNothing: optional(hostileScalar),
          managedByService: optional(hostileScalar),
          serviceInstance: optional(hostileScalar),
          topic: optional(hostileScalar),
        },
        { requiredKeys: ['operation', 'payload'] },
      ),
    });
  });

  it('every generated message ends in a result or a contract error code, in bounded time, the process alive', async () => {
    await fc.assert(
      fc.asyncProperty(message, async ({ nodeId, msg }) => {
        count(`sent ${nodeId}`);
        const outcome = await send(nodeId, msg);
        checkOutcome(outcome, msg);
        await confineDnsServers();
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // The flow still works after all of it.
    await seed(await ipam());
    const listed = await send('alc', { operation: 'list', payload: { deviceName: 'h1' } });
    expect(listed.kind).to.equal('result');
  });

  const filterField = fc.constantFrom(...FIELD_NAMES.filter((f) => !['filter', 'groupBy', 'limit', 'cursor'].includes(f)));
  const operatorFilter = fc.oneof(
    fc.record({ field: filterField, value: operatorObject }),
    fc.record({ field: filterField, value: fc.record({ nested: operatorObject }) }),
  );

  it('operator-shaped filter values never act as operators: refused, or matching only records holding that very value', async () => {
    const lists = fc.constantFrom(['blk', 'list', false], ['rng', 'list', false], ['alc', 'list', false], ['alc', 'list', true], ['imp', 'export', false]);
    await fc.assert(
      fc.asyncProperty(lists, operatorFilter, async ([nodeId, operation, structured], { field, value }) => {
        await seed(await ipam());
        const filter = { [field]: value };
        const msg: Msg = nodeId === 'imp'
          ? { operation, entity: 'addresses', filter, payload: '' }
          : { operation, payload: structured ? { filter, limit: 50 } : filter };
        const outcome = await send(nodeId as string, msg);
        checkOutcome(outcome, msg);
        if (outcome.kind === 'error') {
          expect(['VALIDATION', 'INVALID_ADDRESS']).to.include(outcome.error.code);
          return;
        }
        count('operator result');
        const payload = outcome.msg.payload;
        if (typeof payload === 'string') {
          expect(payload.trim().split('\n').length, 'export rows').to.equal(1);
          return;
        }
        const records = (Array.isArray(payload) ? payload : (payload as { items: Msg[] }).items) as Msg[];
        for (const record of records) expect(valueAt(record, field)).to.deep.equal(value);
      }),
      { numRuns: RUNS, seed: SEED + 1, endOnFailure: true },
    );
  });

  it('operator-shaped selectors find nothing: get, update, delete and release change no record', async () => {
    const selectors = fc.constantFrom(['blk', 'get'], ['blk', 'update'], ['blk', 'delete'], ['rng', 'get'], ['rng', 'update'],
      ['rng', 'delete'], ['rng', 'utilization'], ['alc', 'get'], ['alc', 'update'], ['alc', 'release'], ['alc', 'allocate'], ['syn', 'create-dns-host'],
      ['alc', 'confirm'], ['alc', 'history'], ['blk', 'history'], ['rng', 'history']);
    const selector = fc.record({ field: fc.constantFrom('id', 'network', 'address', 'range', 'rangeId', 'addresses', 'ids', 'requestId'), value: operatorObject });
    await fc.assert(
      fc.asyncProperty(selectors, selector, async ([nodeId, operation], { field, value }) => {
        await seed(await ipam());
        const before = await snapshot(await ipam());
        const msg = { operation, payload: { [field]: value, deviceName: 'changed' } };
        const outcome = await send(nodeId, msg);
        checkOutcome(outcome, msg);
        expect(outcome.kind, `${nodeId} ${operation} ${brief(msg.payload)}`).to.equal('error');
        expect(await snapshot(await ipam())).to.deep.equal(before);
      }),
      { numRuns: Math.ceil(RUNS / 2), seed: SEED + 2, endOnFailure: true },
    );
  });
});

describe('hostile ipam-config options (fast-check)', function () {
  this.timeout(600_000);
  // Flows are JSON: options are what JSON can carry (an own __proto__ key included).
  const json = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary.map(asJson), { nil: undefined });
  // (Shallow: Node-RED's own flow parser fails on some deeply nested flow JSON before any node runs.)
  const value = fc.oneof(hostileScalar, operatorObject, fc.jsonValue({ maxDepth: 2 }));
  const definition = fc.record({
    name: fc.oneof(fc.constantFrom('Owner', 'constructor', '__proto__', 'toString', 'AD Site', 'deviceType', '$where', 'a.b'), value),
    multiValue: value,
    allowedValues: fc.oneof(value, fc.array(value, { maxLength: 3 })),
    criteria: fc.oneof(value, fc.array(fc.oneof(fc.constantFrom('Owner', 'managedByService', 'constructor', '__proto__'), value), { maxLength: 3 })),
  }, { requiredKeys: [] });
  const configOptions = fc.record({
    expiryThresholdDays: json(hostileScalar),
    pingTimeoutMs: json(hostileScalar),
    ptrTimeoutMs: json(hostileScalar),
    historyRetentionDays: json(hostileScalar),
    customFields: json(fc.oneof(value, fc.array(definition, { maxLength: 3 }), fc.constant([{ name: 'Owner', multiValue: false }]))),
    rangeGroups: json(fc.oneof(value, fc.array(definition, { maxLength: 3 }), fc.constant([{ name: 'By owner', criteria: ['Owner'] }]))),
  });

  it('a config node with generated options opens its store or reports why; its nodes answer with a result or a contract code', async () => {
    const uncaught: unknown[] = [];
    const record = (err: unknown): number => uncaught.push(err);
    process.on('unhandledRejection', record);
    await startNodeRed();
    try {
      await fc.assert(
        fc.asyncProperty(configOptions, async (options) => {
          const dir = tempDir('flowipam-fuzz-config-');
          try {
            // Ping and PTR checks stay off: they would send traffic off loopback.
            // The helper compares the loaded flow with the one given; Node-RED's copy may differ in __proto__ keys.
            await loadIgnoringEcho(NODES, onTab([
              { id: 'cfg', type: 'ipam-config', store: 'embedded', directory: dir, pingCheck: false, ptrCheck: false, ...options },
              { id: 'alc', type: 'ipam-allocate', server: 'cfg', operation: 'list', wires: [['out']] },
              { id: 'out', type: 'helper' },
              ...catchNodes(),
            ]) as never);
            const outcome = new Promise<{ kind: string; code?: unknown }>((resolve) => {
              helper.getNode('out').once('input', () => resolve({ kind: 'result' }));
              helper.getNode('caught').once('input', (msg: Msg) => resolve({ kind: 'error', code: (msg.error as Msg).code }));
            });
            helper.getNode('alc').receive({ payload: {} });
            const settled = await Promise.race([outcome, new Promise<{ kind: string }>((r) => setTimeout(() => r({ kind: 'timeout' }), OUTCOME_TIMEOUT_MS))]);
            count(`config ${settled.kind}${'code' in settled ? ` ${String(settled.code)}` : ''}`);
            expect(settled.kind).not.to.equal('timeout');
            if ('code' in settled) expect(ERROR_CODES).to.include(settled.code);
            expect(uncaught.splice(0)).to.deep.equal([]);
          } finally {
            await helper.unload();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: Math.max(10, Math.ceil(RUNS / 6)), seed: SEED + 3, endOnFailure: true },
      );
    } finally {
      process.off('unhandledRejection', record);
      await new Promise<void>((resolve) => helper.stopServer(() => resolve())); // each run unloaded its flow
    }
  });
});

function asJson(value: unknown): unknown {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  return text === undefined ? null : JSON.parse(text);
}

async function loadIgnoringEcho(nodes: unknown[], flow: never): Promise<void> {
  await helper.load(nodes as never, flow).catch((err: Error) => {
    if (err.name !== 'AssertionError') throw err;
  });
}

function valueAt(record: Msg, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((value, part) => (value !== null && typeof value === 'object' && Object.hasOwn(value, part) ? (value as Msg)[part] : undefined), record);
}

async function snapshot(core: Ipam): Promise<unknown> {
  const all = async (name: 'blocks' | 'ranges' | 'addresses') =>
    (await core.store.collection(name).find({}, { sort: { id: 1 } })).map((doc) => ({ ...doc, freeHint: undefined, hintVersion: undefined }));
  return { blocks: await all('blocks'), ranges: await all('ranges'), addresses: await all('addresses') };
}

function brief(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v === undefined ? 'undefined' : v)) ?? String(value);
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
