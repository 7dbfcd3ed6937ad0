#!/usr/bin/env node
// Project lint rules that the type checker does not enforce:
// - no console.log/console.error in library code (use pino child loggers);
// - no default exports (named exports keep the public API greppable);
// - package boundaries: a file in a workspace package may import another `@cohort/*` package
//   only when its package.json `dependencies` declares it, only through a subpath that package
//   exports, and never through a relative path into another package's folder. The declared
//   `@cohort/*` dependencies must form no cycle.
// Usage: node scripts/lint.mjs [--root <repo>] [<dir>...]
// With no <dir>, every workspace package's src/ under <repo> (default: this repository) is
// checked. Uses Node built-ins and the TypeScript compiler API only.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ts = require('typescript');

const argv = process.argv.slice(2);
let root = path.resolve(here, '..');
const dirs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--root') {
    const v = argv[++i];
    if (!v) usage('--root needs a directory');
    root = path.resolve(v);
  } else dirs.push(argv[i]);
}
function usage(msg) {
  process.stderr.write(`lint: ${msg}\nusage: node scripts/lint.mjs [--root <repo>] [<dir>...]\n`);
  process.exit(2);
}

/** The workspace packages: name, folder, declared @cohort/* dependencies, export keys. */
function loadPackages() {
  const rootPkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const byName = new Map();
  for (const ws of rootPkg.workspaces ?? []) {
    const dir = path.join(root, ws);
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    const exportsField = pkg.exports ?? { '.': pkg.main ?? './index.js' };
    const exportKeys = typeof exportsField === 'string' ? ['.'] : Object.keys(exportsField);
    const deps = Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@cohort/'));
    byName.set(pkg.name, { name: pkg.name, dir, rel: ws, deps, exportKeys });
  }
  return byName;
}

/** Whether subpath ('.' or './x') matches an export key (exact, or a single '*' pattern). */
function exported(subpath, keys) {
  for (const k of keys) {
    if (k === subpath) return true;
    const star = k.indexOf('*');
    if (star >= 0 && subpath.startsWith(k.slice(0, star)) && subpath.endsWith(k.slice(star + 1))
      && subpath.length >= k.length - 1) return true;
  }
  return false;
}

const packages = loadPackages();
const pkgList = [...packages.values()];
function packageOf(file) {
  const abs = path.resolve(file);
  return pkgList.find((p) => abs === p.dir || abs.startsWith(p.dir + path.sep));
}

const problems = [];

// The declared graph has no cycle.
{
  const state = new Map();
  const stack = [];
  const visit = (name) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'open') {
      const cycle = [...stack.slice(stack.indexOf(name)), name].join(' -> ');
      problems.push(`${root}/package.json: package dependency cycle ${cycle}; rule: the @cohort/* packages form a DAG; fix: move the shared code into the lower package`);
      return;
    }
    state.set(name, 'open');
    stack.push(name);
    for (const d of packages.get(name)?.deps ?? []) if (d !== name && packages.has(d)) visit(d);
    stack.pop();
    state.set(name, 'done');
  };
  for (const p of pkgList) visit(p.name);
}

function checkImport(file, line, spec, pkg) {
  const where = `${path.relative(process.cwd(), file) || file}:${line}`;
  if (spec.startsWith('@cohort/')) {
    const parts = spec.split('/');
    const target = parts.slice(0, 2).join('/');
    const subpath = parts.length > 2 ? './' + parts.slice(2).join('/') : '.';
    const dep = packages.get(target);
    if (!dep) {
      problems.push(`${where}: import '${spec}': no workspace package is named ${target}; rule: @cohort/* names a workspace package; fix: use one of ${[...packages.keys()].join(', ')}`);
      return;
    }
    if (target !== pkg.name && !pkg.deps.includes(target)) {
      problems.push(`${where}: import '${spec}': ${pkg.name} does not declare ${target}; rule: a package imports only the @cohort/* packages its package.json "dependencies" lists; fix: add "${target}": "*" to ${pkg.rel}/package.json dependencies (keeping the graph acyclic), or move the code`);
    }
    if (!exported(subpath, dep.exportKeys)) {
      const alt = dep.exportKeys.map((k) => (k === '.' ? target : `${target}/${k.slice(2)}`)).join(', ');
      problems.push(`${where}: import '${spec}': ${target} does not export '${subpath}'; rule: import a package only through its "exports" (${alt}); fix: import the name from ${target} (export it from its index.ts, or from an explicit ./internal entry when only sibling packages need it)`);
    }
    return;
  }
  if (spec.startsWith('.')) {
    const resolved = path.resolve(path.dirname(file), spec);
    if (resolved === pkg.dir || resolved.startsWith(pkg.dir + path.sep)) return;
    const other = packageOf(resolved);
    const name = other ? other.name : `${path.relative(root, resolved)} (outside ${pkg.rel}/)`;
    problems.push(`${where}: import '${spec}': relative path out of ${pkg.name} into ${name}; rule: code in one package reaches another only by its package name; fix: import from ${other ? other.name : 'a declared @cohort/* package'} instead`);
  }
}

function checkFile(file, pkg) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (/\bconsole\.(log|error|warn|info|debug)\(/.test(line) && !/lint-allow-console/.test(line)) {
      problems.push(`${file}:${i + 1}: console.* in library code; use a pino logger (or mark CLI output with // lint-allow-console)`);
    }
    if (/^export default\b/.test(line)) {
      problems.push(`${file}:${i + 1}: default export; use a named export`);
    }
  });
  if (!pkg) return;
  const info = ts.preProcessFile(text, true, true);
  for (const ref of info.importedFiles) {
    const line = text.slice(0, ref.pos).split('\n').length;
    checkImport(file, line, ref.fileName, pkg);
  }
}

function walk(p) {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const e of readdirSync(p)) if (e !== 'node_modules') walk(path.join(p, e));
    return;
  }
  if (!/\.(ts|mts|tsx)$/.test(p) || /\.d\.ts$/.test(p)) return;
  checkFile(p, packageOf(p));
}

const targets = dirs.length ? dirs.map((d) => path.resolve(d)) : pkgList.map((p) => path.join(p.dir, 'src'));
for (const t of targets) {
  if (!existsSync(t)) usage(`no such directory: ${t}`);
  walk(t);
}
for (const p of problems) process.stderr.write(p + '\n');
if (problems.length) {
  process.stderr.write(`lint: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
  process.exit(1);
}
