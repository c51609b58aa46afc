/**
 * The sidebar's tree at 5,000 ranges in one block, on the embedded store: one page of children (50 ranges with
 * their utilization), the space root, and a text search. Baseline, in the same process and interleaved: the raw
 * store work one page needs at least (one sorted page read plus one address count per range).
 */
import { formatAddress, parseNetwork } from '../lib/address';
import { buildAddress, listTree } from '../lib/space';
import { Ipam } from '../lib/ipam';
import { medianMs, report, runBench } from './common';
import { performance } from 'node:perf_hooks';

const RANGES = 5000;
const ADDRESSES = 20000;

async function main(): Promise<void> {
  const ipam = await Ipam.open({ kind: 'embedded' });
  await ipam.perform('block', 'add', { network: '10.0.0.0/8' });
  for (let i = 0; i < RANGES; i++) await ipam.perform('range', 'add', { network: `10.${i >> 8}.${i & 255}.0/24`, description: `rack ${i}` });
  const docs = [];
  for (let i = 0; i < ADDRESSES; i++) {
    const net = parseNetwork(`10.${(i % RANGES) >> 8}.${(i % RANGES) & 255}.0/24`);
    docs.push(await buildAddress(ipam, { address: formatAddress(4, net.first + 1n + BigInt(Math.floor(i / RANGES))) }));
  }
  await ipam.store.collection('addresses').insertMany(docs);
  const block = (await ipam.perform('block', 'get', { network: '10.0.0.0/8' })) as { id: string };
  const middle = await listTree(ipam, { parent: { kind: 'block', id: block.id }, limit: 50 });
  const cursor = middle.nextCursor;

  const pageWork = () => listTree(ipam, { parent: { kind: 'block', id: block.id }, limit: 50, cursor });
  const rawWork = async () => {
    const page = await ipam.store.collection('ranges').find({ blockId: block.id }, { sort: { key: 1 }, limit: 51, skip: 50, fields: ['key'] });
    await Promise.all(page.slice(0, 50).map((range) => ipam.store.collection('addresses').count({ rangeId: range.id })));
  };
  const coldStart = performance.now();
  await listTree(ipam, { parent: { kind: 'block', id: block.id }, limit: 50, cursor: (await pageWork()).nextCursor });
  const cold = performance.now() - coldStart;
  let page = 0;
  let raw = 0;
  for (let round = 0; round < 5; round++) {
    raw += await medianMs(5, rawWork);
    page += await medianMs(5, pageWork);
  }
  page /= 5;
  raw /= 5;
  const root = await medianMs(5, () => listTree(ipam, {}));
  const search = await medianMs(5, () => listTree(ipam, { search: 'rack 4999' }));
  const blockLevel = await medianMs(5, () => listTree(ipam, { parent: { kind: 'space', addressSpace: 'Default', family: 4 } }));
  report('tree.page_of_50_ranges', { ranges: RANGES, addresses: ADDRESSES, ms: page, vsRawStoreWork: page / raw, coldFirstMs: cold });
  report('tree.baseline.raw_page_and_counts', { ms: raw });
  report('tree.root_spaces', { ms: root });
  report('tree.space_level_with_block_of_5000_ranges', { ms: blockLevel });
  report('tree.text_search_last_of_5000', { ms: search });
  await ipam.close();
}

runBench(main);
