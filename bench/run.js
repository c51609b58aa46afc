#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.ts in its own process (tsx), one after the other.
// Each prints one JSON object per line with a `metric` name; a file name given on the command line runs just that one.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const only = process.argv.slice(2);
const files = fs
  .readdirSync(__dirname)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  // The scale benchmark takes minutes: it runs only when named (`npm run bench:scale`).
  .filter((file) => only.length > 0 || file !== 'scale.bench.ts')
  .sort();

let failed = false;
for (const file of files) {
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(__dirname, file)], {
    stdio: 'inherit',
  });
  console.error(`# ${file}: ${((Date.now() - started) / 1000).toFixed(1)} s, exit ${result.status}`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
