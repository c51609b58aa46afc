#!/usr/bin/env node
// Rewrites relative import paths for the lib/ folder layout (issue 12). Run from the repository root.
//
//   node scripts/relayout.js moves scripts/relayout-moves.json [file...]
//     Every relative import (import/export ... from, import x = require, require(), import()) in lib/, nodes/,
//     test/, bench/ and scripts/ (or only in the files given) that names an old path of the map is rewritten
//     to the new path (relative to the importing file's new place), then `git mv` moves the files still at an
//     old place. After a merge, give the files the other branch added or changed: an old path wins over a new
//     index of the same name (`./space` is read as the old lib/space.ts).
//   node scripts/relayout.js exports scripts/relayout-exports.json
//     After a file was split: imports of each moved name are taken from the file it moved to.
//   node scripts/relayout.js mentions scripts/relayout-moves.json README.md docs/*.md
//     Text that names an old path (docs, comments) names the new one.
//   node scripts/relayout.js indexes
//     An import that reaches into another lib/ folder past its index.ts is pointed at that index, the index
//     gains the re-exports it needs, and imports of one module in one file are merged.
//     Tests under test/lib/<folder>/ count as inside lib/<folder>/ (they may test its internals).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const ts = require('typescript');

const root = process.cwd();
const SOURCE_DIRS = ['lib', 'nodes', 'test', 'bench', 'scripts'];

function isFile(file) {
  return fs.statSync(path.join(root, file), { throwIfNoEntry: false })?.isFile() ?? false;
}

function sourceFiles() {
  const out = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'fixtures') walk(full);
      } else if (/\.(ts|js)$/.test(entry.name)) out.push(path.relative(root, full));
    }
  };
  for (const dir of SOURCE_DIRS) walk(path.join(root, dir));
  return out.sort();
}

/** The relative module specifiers of a file: [{text, start, end}] (start/end of the string literal's content). */
function specifiers(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found = [];
  const add = (literal, declaration) => {
    if (literal && ts.isStringLiteral(literal) && literal.text.startsWith('.')) {
      found.push({ text: literal.text, start: literal.getStart(source) + 1, end: literal.getEnd() - 1, declaration });
    }
  };
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) add(node.moduleSpecifier, node);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) add(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { source, found };
}

/** The file a specifier names, as a path relative to root, or undefined; `exists` says which paths count. */
function resolve(fromFile, spec, exists) {
  const base = path.normalize(path.join(path.dirname(fromFile), spec));
  for (const candidate of [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts')]) {
    if (exists(candidate)) return candidate;
  }
  return undefined;
}

function specFor(fromFile, target, original) {
  let rel = path.relative(path.dirname(fromFile), target).split(path.sep).join('/');
  if (!original.match(/\.(ts|js)$/)) rel = rel.replace(/\.ts$/, '');
  if (rel.endsWith('/index') && !original.endsWith('index')) rel = rel.slice(0, -'/index'.length);
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

function applyEdits(text, edits) {
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) text = text.slice(0, edit.start) + edit.text + text.slice(edit.end);
  return text;
}

function moves(mapFile, only) {
  const map = JSON.parse(fs.readFileSync(mapFile, 'utf8'));
  const moved = new Map(Object.entries(map));
  const newOf = (file) => moved.get(file) ?? file;
  // An old path wins over a new index of the same name (`./space` was lib/space.ts), so give the files to
  // rewrite when re-running over a tree that is already laid out: those another branch added or changed.
  const exists = (candidate) => moved.has(candidate) || isFile(candidate);
  for (const file of only.length > 0 ? only : sourceFiles()) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const edits = [];
    for (const spec of specifiers(file, text).found) {
      const target = resolve(file, spec.text, exists);
      if (!target) continue;
      const next = specFor(newOf(file), newOf(target), spec.text);
      if (next !== spec.text) edits.push({ start: spec.start, end: spec.end, text: next });
    }
    if (edits.length > 0) fs.writeFileSync(path.join(root, file), applyEdits(text, edits));
  }
  for (const [from, to] of moved) {
    if (!fs.existsSync(path.join(root, from))) continue;
    fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
    execFileSync('git', ['mv', from, to], { stdio: 'inherit' });
  }
}

/** Where a file counts as sitting for the index rule: tests under test/lib/ mirror lib/. */
function placeOf(file) {
  return file.startsWith('test/lib/') ? `lib/${file.slice('test/lib/'.length)}` : file;
}

/** The folder index an import from `file` to lib file `target` must go through, or undefined when it may go direct. */
function entranceOf(file, target) {
  if (!target.startsWith('lib/')) return undefined;
  // lib/index.ts is the package's API, not an entrance for this repository's code: from outside lib/, an
  // import goes to a folder's index or a root file as if it sat at the root of lib/.
  const place = placeOf(file);
  const from = path.dirname(place.startsWith('lib/') ? place : `lib/${place}`).split('/');
  const to = target.split('/');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  if (common >= to.length - 1) return undefined; // the target sits in the importer's folder or one above it
  const entered = to.slice(0, common + 1).join('/');
  const index = `${entered}/index.ts`;
  return target === index ? undefined : index;
}

function indexes() {
  const files = sourceFiles().filter((f) => f.endsWith('.ts'));
  const exists = isFile;
  const program = ts.createProgram(files.map((f) => path.join(root, f)), { allowJs: false, skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const isTypeOnly = (target, name) => {
    const module = checker.getSymbolAtLocation(program.getSourceFile(path.join(root, target)));
    const symbol = module && checker.getExportsOfModule(module).find((s) => s.name === name);
    if (!symbol) throw new Error(`${target} exports no ${name}`);
    const real = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return (real.flags & ts.SymbolFlags.Value) === 0;
  };
  /** index file -> target file -> Map(name -> typeOnly) */
  const needed = new Map();
  const need = (index, target, name, typeOnly = isTypeOnly(target, name)) => {
    // A name from a subfolder is re-exported through that subfolder's own index.
    const inner = entranceOf(index, target);
    if (inner) {
      need(inner, target, name, typeOnly);
      target = inner;
    }
    if (!needed.has(index)) needed.set(index, new Map());
    const byTarget = needed.get(index);
    if (!byTarget.has(target)) byTarget.set(target, new Map());
    byTarget.get(target).set(name, typeOnly);
  };
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const { found } = specifiers(file, text);
    const edits = [];
    for (const spec of found) {
      const target = resolve(file, spec.text, exists);
      const index = target && entranceOf(file, target);
      if (!index) continue;
      const declaration = spec.declaration;
      const clause = declaration && (ts.isImportDeclaration(declaration) ? declaration.importClause : declaration);
      const elements = ts.isImportDeclaration(declaration ?? {}) ? clause?.namedBindings?.elements : clause?.exportClause?.elements;
      if (!elements || (ts.isImportDeclaration(declaration) && clause.name)) {
        console.warn(`${file}: ${spec.text} is not a named import; left as it is`);
        continue;
      }
      for (const element of elements) need(index, target, (element.propertyName ?? element.name).text);
      edits.push({ start: spec.start, end: spec.end, text: specFor(file, index, spec.text) });
    }
    if (edits.length > 0) fs.writeFileSync(path.join(root, file), mergeImports(file, applyEdits(text, edits)));
  }
  for (const [index, byTarget] of needed) writeIndex(index, byTarget);
}

/** Merges named imports of one module into one declaration (value names first, then `type` ones). */
function mergeImports(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const groups = new Map();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !statement.importClause) continue;
    const clause = statement.importClause;
    if (clause.name || !clause.namedBindings || !ts.isNamedImports(clause.namedBindings)) continue;
    const spec = statement.moduleSpecifier.text;
    if (!groups.has(spec)) groups.set(spec, []);
    groups.get(spec).push(statement);
  }
  const edits = [];
  for (const [spec, statements] of groups) {
    if (statements.length < 2) continue;
    const values = [];
    const types = [];
    for (const statement of statements) {
      const allTypes = statement.importClause.isTypeOnly;
      for (const element of statement.importClause.namedBindings.elements) {
        const name = element.propertyName ? `${element.propertyName.text} as ${element.name.text}` : element.name.text;
        const list = allTypes || element.isTypeOnly ? types : values;
        if (!list.includes(name)) list.push(name);
      }
    }
    const merged =
      values.length === 0
        ? `import type { ${types.join(', ')} } from '${spec}';`
        : `import { ${[...values, ...types.map((t) => `type ${t}`)].join(', ')} } from '${spec}';`;
    edits.push({ start: statements[0].getStart(source), end: statements[0].getEnd(), text: merged });
    for (const statement of statements.slice(1)) {
      let end = statement.getEnd();
      if (text[end] === '\n') end++;
      edits.push({ start: statement.getFullStart() + (text.slice(statement.getFullStart(), statement.getStart(source)).lastIndexOf('\n') + 1), end, text: '' });
    }
  }
  return edits.length > 0 ? applyEdits(text, edits) : text;
}

/** Adds the missing re-exports to a folder's index.ts (created when absent). */
function writeIndex(index, byTarget) {
  const full = path.join(root, index);
  let text = fs.existsSync(full) ? fs.readFileSync(full, 'utf8') : '';
  const present = new Set();
  if (text) {
    const source = ts.createSourceFile(index, text, ts.ScriptTarget.ES2022, true);
    for (const statement of source.statements) {
      if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
        for (const element of statement.exportClause.elements) present.add(element.name.text);
      } else if (statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) {
        const name = statement.name?.text;
        if (name) present.add(name);
        if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) present.add(d.name.text);
      }
    }
  }
  const lines = [];
  for (const [target, names] of [...byTarget].sort(([a], [b]) => a.localeCompare(b))) {
    const spec = specFor(index, target, '');
    const values = [...names].filter(([name, type]) => !type && !present.has(name)).map(([name]) => name).sort();
    const types = [...names].filter(([name, type]) => type && !present.has(name)).map(([name]) => name).sort();
    if (values.length > 0) lines.push(`export { ${values.join(', ')} } from '${spec}';`);
    if (types.length > 0) lines.push(`export type { ${types.join(', ')} } from '${spec}';`);
  }
  if (lines.length === 0) return;
  text = text && !text.endsWith('\n') ? `${text}\n` : text;
  fs.writeFileSync(full, `${text}${lines.join('\n')}\n`);
}

/**
 * After a split: every import of a moved name (map: old file -> name -> new file) is taken from the new file.
 * Declarations left empty are removed; imports of one module in one file are merged.
 */
function movedExports(mapFile) {
  const map = JSON.parse(fs.readFileSync(mapFile, 'utf8'));
  for (const file of sourceFiles().filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const { source, found } = specifiers(file, text);
    const edits = [];
    for (const spec of found) {
      const declaration = spec.declaration;
      const target = declaration && resolve(file, spec.text, isFile);
      const names = target && Object.hasOwn(map, target) ? map[target] : undefined;
      if (!names) continue;
      const isImport = ts.isImportDeclaration(declaration);
      const clause = isImport ? declaration.importClause : declaration;
      const bindings = isImport ? clause?.namedBindings : clause?.exportClause;
      if (!bindings || !('elements' in bindings)) continue;
      const allTypes = clause.isTypeOnly;
      const kept = [];
      const added = [];
      for (const element of bindings.elements) {
        const name = (element.propertyName ?? element.name).text;
        const elementText = element.getText(source);
        const destination = Object.hasOwn(names, name) ? names[name] : undefined;
        if (!destination || destination === file) kept.push(elementText);
        else added.push({ destination, text: allTypes && !element.isTypeOnly ? `type ${elementText}` : elementText });
      }
      if (added.length === 0) continue;
      const keyword = isImport ? 'import' : 'export';
      const lines = [];
      if (kept.length > 0 || (isImport && clause.name)) {
        const head = isImport && clause.name ? `${clause.name.text}${kept.length ? ', ' : ''}` : '';
        lines.push(`${keyword} ${allTypes ? 'type ' : ''}${head}${kept.length ? `{ ${kept.join(', ')} }` : ''} from '${spec.text}';`);
      }
      const byDestination = new Map();
      for (const entry of added) {
        if (!byDestination.has(entry.destination)) byDestination.set(entry.destination, []);
        byDestination.get(entry.destination).push(entry.text);
      }
      for (const [destination, elements] of byDestination) {
        const types = elements.every((e) => e.startsWith('type '));
        const list = types ? elements.map((e) => e.slice('type '.length)) : elements;
        lines.push(`${keyword} ${types ? 'type ' : ''}{ ${list.join(', ')} } from '${specFor(file, destination, '')}';`);
      }
      edits.push({ start: declaration.getStart(source), end: declaration.getEnd(), text: lines.join('\n') });
    }
    if (edits.length > 0) fs.writeFileSync(path.join(root, file), mergeImports(file, applyEdits(text, edits)));
  }
}

/** Rewrites the old paths of the map where text names them (docs, comments): `lib/counters.ts` and the like. */
function mentions(mapFile, files) {
  const map = Object.entries(JSON.parse(fs.readFileSync(mapFile, 'utf8')));
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    let next = text;
    for (const [from, to] of map) next = next.replace(new RegExp(`(?<![\\w/.-])${escape(from)}(?![\\w/-])`, 'g'), to);
    if (next !== text) fs.writeFileSync(path.join(root, file), next);
  }
}

const [mode, arg, ...rest] = process.argv.slice(2);
if (mode === 'moves' && arg) moves(arg, rest);
else if (mode === 'mentions' && arg) mentions(arg, rest);
else if (mode === 'exports' && arg) movedExports(arg);
else if (mode === 'indexes') indexes();
else {
  console.error('usage: node scripts/relayout.js moves <map.json> | exports <map.json> | indexes | mentions <map.json> <file>...');
  process.exit(2);
}
