#!/usr/bin/env node
// `npm start`: links this package into a Node-RED user directory under .dev/, deploys the getting-started
// flow (first run only, so your edits survive), and runs Node-RED on 127.0.0.1:1880.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const userDir = process.env.FLOWIPAM_USER_DIR || path.join(root, '.dev', 'node-red');
const port = Number(process.env.PORT || 1880);
const host = '127.0.0.1';

function linkPackage() {
  const target = path.join(userDir, 'node_modules', '@flowipam', 'node-red-ipam');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { recursive: true, force: true });
  fs.symlinkSync(root, target, 'dir');
  const manifest = path.join(userDir, 'package.json');
  if (!fs.existsSync(manifest)) {
    fs.writeFileSync(manifest, JSON.stringify({ name: 'node-red-project', private: true, dependencies: {} }, null, 2));
  }
}

function deployExampleFlow() {
  const flows = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flows)) fs.copyFileSync(path.join(root, 'examples', 'getting-started.json'), flows);
}

// FLOWIPAM_SETTINGS: a settings module of your own (e.g. with adminAuth) whose top-level keys replace these.
function writeSettings() {
  const settings = path.join(userDir, 'settings.js');
  const extra = process.env.FLOWIPAM_SETTINGS ? path.resolve(process.env.FLOWIPAM_SETTINGS) : '';
  fs.writeFileSync(
    settings,
    `module.exports = Object.assign({
  uiHost: ${JSON.stringify(host)},
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: process.env.NODE_RED_CREDENTIAL_SECRET || 'flowipam-dev-only',
  httpNodeRoot: '/',
  // Malformed JSON gets a JSON error, not Express's HTML page with a stack trace (nodes/http-json.ts). The
  // editor's admin app is mounted at / too and parses every JSON body first, so it needs the check as well.
  httpAdminMiddleware: require(${JSON.stringify(path.join(root, 'dist', 'nodes', 'http-json.js'))}).jsonBodyErrors,
  httpNodeMiddleware: require(${JSON.stringify(path.join(root, 'dist', 'nodes', 'http-json.js'))}).jsonBodyErrors,
  logging: { console: { level: 'info' } },
  // A development instance that asks nothing of the network: no telemetry or update notification, no palette
  // catalogue fetch (catalogue.nodered.org), no welcome tour.
  telemetry: { enabled: false, updateNotification: false },
  editorTheme: { tours: false, palette: { catalogues: [] } },
}, ${extra ? `require(${JSON.stringify(extra)})` : '{}'});
`,
  );
  return settings;
}

fs.mkdirSync(userDir, { recursive: true });
linkPackage();
deployExampleFlow();
const settings = writeSettings();
const red = require.resolve('node-red/red.js');
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'inherit'] });
let announced = false;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && /Started flows|Server now running/.test(String(chunk))) {
    announced = true;
    console.log(`\nFlowIPAM editor: http://${host}:${port}/  (HTTP API of the example flow under http://${host}:${port}/ipam/)\n`);
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
