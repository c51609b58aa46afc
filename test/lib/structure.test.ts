/**
 * The layout of lib/ (README "Architecture"): each folder's index.ts is its only entrance from outside it.
 *
 * The rules, checked on every .ts file of lib/, nodes/, bench/ and test/:
 * - an import that enters a lib/ folder it does not sit in names that folder's index (`../space`, never
 *   `../space/ranges`); files in lib/'s root (errors, own, ids, ipam, schedule, index) are imported directly;
 * - a test under test/lib/<folder>/ counts as sitting in lib/<folder>/, so it may import that folder's
 *   internals (tests of a folder test its parts); every other test, nodes/ and bench/ go through indexes;
 * - lib/ never imports node-red (the core runs without it);
 * - no import cycle runs between the folders (and root files) of one directory: a file cycle may exist
 *   inside a folder, never across folders;
 * - a lib/ folder imports only the folders listed before it in LAYERS (the README's order).
 * Type-only imports count like any other.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const SCANNED = ['lib', 'nodes', 'bench', 'test'];

interface Import {
  file: string;
  specifier: string;
  /** The lib/ file it names, relative to the repository root; undefined for packages and non-lib files. */
  target?: string;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'fixtures' && entry.name !== 'node_modules') out.push(...tsFiles(rel));
    } else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

function isFile(rel: string): boolean {
  return fs.statSync(path.join(ROOT, rel), { throwIfNoEntry: false })?.isFile() ?? false;
}

function resolveLib(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
  const found = [base, `${base}.ts`, `${base}/index.ts`].find(isFile);
  return found?.startsWith('lib/') ? found : undefined;
}

/** Every module specifier of a file: import/export from, import = require, require(), import(), import types. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: Import[] = [];
  const add = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteral(node)) found.push({ file, specifier: node.text, target: resolveLib(file, node.text) });
  };
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && node.arguments.length === 1) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Where a file counts as sitting: a test under test/lib/ mirrors lib/; anything else outside lib/ sits at lib/'s root. */
function placeOf(file: string): string {
  if (file.startsWith('lib/')) return file;
  if (file.startsWith('test/lib/')) return `lib/${file.slice('test/lib/'.length)}`;
  return `lib/${path.posix.basename(file)}`;
}

/** The index an import must go through, or undefined when it may name its target directly. */
export function requiredEntrance(file: string, target: string): string | undefined {
  const from = path.posix.dirname(placeOf(file)).split('/');
  const to = target.split('/');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  if (common >= to.length - 1) return undefined; // the target sits in the importer's folder or one above it
  const index = `${to.slice(0, common + 1).join('/')}/index.ts`;
  return target === index ? undefined : index;
}

/** lib/'s folders in the README's order: each may import only those before it. */
const LAYERS = ['store', 'address', 'record', 'space', 'allocation', 'lifecycle', 'csv', 'sync'];

/** An import from one top-level lib/ folder into another that comes later in LAYERS (or is not listed). */
export function layerViolation(file: string, target: string): string | undefined {
  const [, fromFolder, ...fromRest] = file.split('/');
  const [, toFolder, ...toRest] = target.split('/');
  if (!file.startsWith('lib/') || fromRest.length === 0 || toRest.length === 0 || fromFolder === toFolder) return undefined;
  const from = LAYERS.indexOf(fromFolder);
  const to = LAYERS.indexOf(toFolder);
  if (from < 0 || to < 0) return `lib/${from < 0 ? fromFolder : toFolder} is not in LAYERS`;
  return to < from ? undefined : `lib/${fromFolder} may import only ${LAYERS.slice(0, from).join(', ') || 'no folder'}`;
}

/** Import cycles between the children (folders and files) of one directory that involve a folder. */
export function crossFolderCycles(imports: Import[]): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const { file, target } of imports) {
    if (!target || !file.startsWith('lib/')) continue;
    const a = file.split('/');
    const b = target.split('/');
    let common = 0;
    while (common < a.length - 1 && common < b.length - 1 && a[common] === b[common]) common++;
    const from = a.slice(0, common + 1).join('/');
    const to = b.slice(0, common + 1).join('/');
    if (from === to) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from)!.add(to);
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const connect = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 && component.some((c) => !c.endsWith('.ts'))) cycles.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) connect(node);
  return cycles;
}

describe('lib/ structure', () => {
  const files = SCANNED.flatMap(tsFiles);
  const imports = files.flatMap(importsOf);

  it('finds the files and imports it checks', () => {
    expect(files.filter((f) => f.startsWith('lib/')).length).to.be.greaterThan(50);
    expect(imports.filter((i) => i.target).length).to.be.greaterThan(300);
  });

  it('every import that enters a lib/ folder goes through its index.ts', () => {
    const violations = imports
      .filter((i) => i.target && requiredEntrance(i.file, i.target))
      .map((i) => `${i.file} imports '${i.specifier}' (${i.target}): go through ${requiredEntrance(i.file, i.target!)}`);
    expect(violations, violations.join('\n')).to.deep.equal([]);
  });

  it('lib/ never imports node-red', () => {
    const violations = imports
      .filter((i) => i.file.startsWith('lib/') && /^(node-red|@node-red\/)/.test(i.specifier))
      .map((i) => `${i.file} imports '${i.specifier}'`);
    expect(violations, violations.join('\n')).to.deep.equal([]);
  });

  it('no import cycle runs across lib/ folders', () => {
    const cycles = crossFolderCycles(imports);
    expect(cycles, cycles.map((c) => c.join(' <-> ')).join('\n')).to.deep.equal([]);
  });

  it('a lib/ folder imports only the folders before it (README order)', () => {
    const violations = imports
      .filter((i) => i.target && layerViolation(i.file, i.target))
      .map((i) => `${i.file} imports '${i.specifier}': ${layerViolation(i.file, i.target!)}`);
    expect(violations, violations.join('\n')).to.deep.equal([]);
    const folders = [...new Set(files.filter((f) => f.split('/').length > 2 && f.startsWith('lib/')).map((f) => f.split('/')[1]))];
    expect(folders.sort(), 'every top-level folder has its place in LAYERS').to.deep.equal([...LAYERS].sort());
  });

  it('every lib/ folder has an index.ts', () => {
    const folders = [...new Set(files.filter((f) => f.startsWith('lib/')).map((f) => path.posix.dirname(f)))].filter((d) => d !== 'lib');
    const missing = folders.filter((d) => !isFile(`${d}/index.ts`));
    expect(missing).to.deep.equal([]);
  });

  describe('the rules themselves', () => {
    it('flag a reach past an index, from lib/, nodes/ and a test of another folder', () => {
      expect(requiredEntrance('lib/sync/push.ts', 'lib/space/ranges.ts')).to.equal('lib/space/index.ts');
      expect(requiredEntrance('lib/sync/push.ts', 'lib/sync/dns/client.ts')).to.equal('lib/sync/dns/index.ts');
      expect(requiredEntrance('nodes/ipam-sync.ts', 'lib/sync/dns/codec.ts')).to.equal('lib/sync/index.ts');
      expect(requiredEntrance('test/lib/csv/csv.test.ts', 'lib/space/blocks.ts')).to.equal('lib/space/index.ts');
      expect(requiredEntrance('bench/common.ts', 'lib/store/port.ts')).to.equal('lib/store/index.ts');
    });

    it('allow the index, a sibling, a file above, a root file, and a test of the folder itself', () => {
      expect(requiredEntrance('lib/sync/push.ts', 'lib/space/index.ts')).to.equal(undefined);
      expect(requiredEntrance('lib/space/blocks.ts', 'lib/space/ranges.ts')).to.equal(undefined);
      expect(requiredEntrance('lib/sync/dns/transport.ts', 'lib/sync/reachability.ts')).to.equal(undefined);
      expect(requiredEntrance('nodes/ipam-config.ts', 'lib/ipam.ts')).to.equal(undefined);
      expect(requiredEntrance('test/lib/space/lock.test.ts', 'lib/space/lock.ts')).to.equal(undefined);
    });

    it('flag an import into a later layer, allow an earlier one and a root file', () => {
      expect(layerViolation('lib/record/history.ts', 'lib/space/index.ts')).to.equal('lib/record may import only store, address');
      expect(layerViolation('lib/space/blocks.ts', 'lib/record/index.ts')).to.equal(undefined);
      expect(layerViolation('lib/sync/push.ts', 'lib/errors.ts')).to.equal(undefined);
      expect(layerViolation('lib/ipam.ts', 'lib/sync/index.ts')).to.equal(undefined);
    });

    it('find a cycle between two folders, not one between two files of a folder', () => {
      const edge = (file: string, target: string): Import => ({ file, specifier: '', target });
      expect(crossFolderCycles([edge('lib/space/a.ts', 'lib/record/index.ts'), edge('lib/record/b.ts', 'lib/space/index.ts')])).to.deep.equal([
        ['lib/record', 'lib/space'],
      ]);
      expect(crossFolderCycles([edge('lib/space/a.ts', 'lib/space/b.ts'), edge('lib/space/b.ts', 'lib/space/a.ts')])).to.deep.equal([]);
      expect(crossFolderCycles([edge('lib/ipam.ts', 'lib/space/index.ts'), edge('lib/space/a.ts', 'lib/ipam.ts')])).to.deep.equal([
        ['lib/ipam.ts', 'lib/space'],
      ]);
    });
  });
});
