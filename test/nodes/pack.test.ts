/**
 * Packaging: a fresh checkout (no dist/) packed with `npm pack` (prepack builds dist/), the tarball unpacked as
 * npm installs it into a clean Node-RED user directory, and a real Node-RED loading all seven nodes from it.
 * The package's runtime dependencies are linked from this checkout's node_modules rather than downloaded.
 */
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../support/servers';
import { tempDir } from '../support/stores';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const MODULE = '@flowipam/node-red-ipam';

/** The files a clone would hold: tracked and new ones, not ignored ones (so no node_modules, no dist/). */
function freshCheckout(): string {
  const dir = tempDir('flowipam-clone-');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file && fs.existsSync(path.join(root, file)));
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(dir, file));
  }
  linkDependencies(dir);
  return dir;
}

/**
 * The checkout's node_modules as a directory of links to this one's packages (never one link to the whole
 * directory: an `npm ci` there would empty this one), with the install marker and lock file dated as here so
 * scripts/ensure-deps.js sees an installed tree.
 */
function linkDependencies(dir: string): void {
  const source = path.join(root, 'node_modules');
  const target = linkPackages(dir);
  const marker = fs.statSync(path.join(source, '.package-lock.json'));
  fs.copyFileSync(path.join(source, '.package-lock.json'), path.join(target, '.package-lock.json'));
  fs.utimesSync(path.join(target, '.package-lock.json'), marker.atime, marker.mtime);
  const lock = fs.statSync(path.join(root, 'package-lock.json'));
  fs.utimesSync(path.join(dir, 'package-lock.json'), lock.atime, lock.mtime);
}

/** `dir`/node_modules: a real directory of links to each of this checkout's packages. */
function linkPackages(dir: string): string {
  const source = path.join(root, 'node_modules');
  const target = path.join(dir, 'node_modules');
  fs.mkdirSync(target);
  for (const entry of fs.readdirSync(source)) {
    if (entry !== '.package-lock.json') fs.symlinkSync(path.join(source, entry), path.join(target, entry));
  }
  return target;
}

describe('npm pack of a fresh checkout, installed into a clean Node-RED', function () {
  this.timeout(180000);
  let tarball: string;
  let contents: string[];
  let red: ChildProcess | undefined;

  before(() => {
    const clone = freshCheckout();
    expect(fs.existsSync(path.join(clone, 'dist'))).to.equal(false);
    const out = tempDir('flowipam-pack-');
    const npm = process.env.npm_execpath;
    const [command, prefix] = npm ? [process.execPath, [npm]] : ['npm', []];
    const report = execFileSync(command, [...prefix, 'pack', '--json', '--pack-destination', out], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [packed] = JSON.parse(report.slice(report.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(out, path.basename(packed.filename));
    contents = packed.files.map((f) => f.path);
  });

  after(() => red?.kill('SIGTERM'));

  it('ships dist/, resources/, examples, icons and the LICENSE, and no sources or tests', () => {
    for (const file of Object.values(manifest['node-red'].nodes as Record<string, string>)) expect(contents).to.include(file);
    expect(contents).to.include.members(['LICENSE', 'README.md', 'package.json', 'resources/editor.js', 'resources/sidebar.js', 'examples/provisioning.json']);
    expect(contents.some((f) => f.startsWith('dist/nodes/locales/en-US/'))).to.equal(true);
    expect(contents.filter((f) => /^(test|lib|nodes|scripts|bench)\//.test(f))).to.deep.equal([]);
  });

  it('Node-RED loads all seven nodes and serves the editor resources from the installed tarball', async () => {
    const userDir = tempDir('flowipam-userdir-');
    const target = path.join(userDir, 'node_modules', MODULE);
    fs.mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
    linkPackages(target);
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, dependencies: { [MODULE]: manifest.version } }));
    const port = await freePort();
    fs.writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', telemetry: { enabled: false, updateNotification: false }, editorTheme: { tours: false, palette: { catalogues: [] } } };`,
    );
    red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`Node-RED did not start:\n${output}`)), 60000);
      const read = (chunk: Buffer) => {
        output += String(chunk);
        if (output.includes('Started flows')) {
          clearTimeout(timer);
          resolve();
        }
      };
      red!.stdout!.on('data', read);
      red!.stderr!.on('data', read);
    });
    const base = `http://127.0.0.1:${port}`;
    const nodes = (await (await fetch(`${base}/nodes`, { headers: { accept: 'application/json' } })).json()) as { id: string; enabled: boolean; err?: string }[];
    const ours = nodes.filter((n) => n.id.startsWith(`${MODULE}/`));
    expect(ours.map((n) => n.id.split('/').pop()).sort()).to.deep.equal(Object.keys(manifest['node-red'].nodes).sort());
    expect(ours.filter((n) => !n.enabled || n.err)).to.deep.equal([]);
    const editor = await fetch(`${base}/resources/${MODULE}/editor.js`);
    expect(editor.status).to.equal(200);
    expect(await editor.text()).to.contain('registerOperationNode');
  });
});
