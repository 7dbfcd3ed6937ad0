// scripts/lint.mjs: the package-boundary rules, on this repository (passes) and on small
// fixture workspaces with one bad import each (fails, naming file:line, the import and the rule).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LINT = path.join(ROOT, 'scripts', 'lint.mjs');

function lint(cwd: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [LINT, '--root', cwd, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

interface Pkg { deps?: string[]; exports?: Record<string, string>; files: Record<string, string> }

/** A workspace of @cohort/<name> packages under a temporary directory. */
function fixture(t: { teardown(f: () => void): void }, pkgs: Record<string, Pkg>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-lint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, workspaces: Object.keys(pkgs) }));
  for (const [name, p] of Object.entries(pkgs)) {
    mkdirSync(path.join(dir, name, 'src'), { recursive: true });
    const dependencies = Object.fromEntries((p.deps ?? []).map((d) => [`@cohort/${d}`, '*']));
    writeFileSync(path.join(dir, name, 'package.json'), JSON.stringify({ name: `@cohort/${name}`, type: 'module', exports: p.exports ?? { '.': './src/index.ts' }, dependencies }));
    for (const [file, text] of Object.entries(p.files)) writeFileSync(path.join(dir, name, 'src', file), text);
  }
  return dir;
}

const lower: Pkg = { exports: { '.': './src/index.ts', './bench': './src/bench.ts' }, files: { 'index.ts': 'export const x = 1;\n', 'bench.ts': 'export const b = 1;\n', 'deep.ts': 'export const d = 1;\n' } };
const other: Pkg = { files: { 'index.ts': 'export const y = 2;\n' } };

test('the repository passes its own package-boundary lint', (t) => {
  const r = lint(ROOT);
  t.is(r.code, 0, r.stderr);
});

test('a fixture whose imports follow the declared graph passes', (t) => {
  const dir = fixture(t, {
    low: lower,
    other,
    top: { deps: ['low'], files: { 'index.ts': "import { x } from '@cohort/low';\nimport { b } from '@cohort/low/bench';\nimport { z } from './z.js';\nexport const t = x + b + z;\n", 'z.ts': 'export const z = 3;\n' } },
  });
  const r = lint(dir);
  t.is(r.code, 0, r.stderr);
});

test('an import of an undeclared package fails, naming file:line, the import, the rule and the fix', (t) => {
  const dir = fixture(t, {
    low: lower,
    other,
    top: { deps: ['low'], files: { 'index.ts': "import { x } from '@cohort/low';\n\nimport { y } from '@cohort/other';\nexport const t = x + y;\n" } },
  });
  const r = lint(dir);
  t.is(r.code, 1);
  t.regex(r.stderr, /top\/src\/index\.ts:3: import '@cohort\/other': @cohort\/top does not declare @cohort\/other/);
  t.regex(r.stderr, /add "@cohort\/other": "\*" to top\/package\.json dependencies/);
  t.regex(r.stderr, /lint: 1 problem\n/);
});

test('an import of a subpath the package does not export fails', (t) => {
  const dir = fixture(t, {
    low: lower,
    top: { deps: ['low'], files: { 'index.ts': "export { d } from '@cohort/low/deep.js';\n" } },
  });
  const r = lint(dir);
  t.is(r.code, 1);
  t.regex(r.stderr, /top\/src\/index\.ts:1: import '@cohort\/low\/deep\.js': @cohort\/low does not export '\.\/deep\.js'/);
  t.regex(r.stderr, /@cohort\/low, @cohort\/low\/bench/);
});

test('a relative import into another package fails even when that package is declared', (t) => {
  const dir = fixture(t, {
    low: lower,
    top: { deps: ['low'], files: { 'index.ts': "// reaches into a sibling\nimport { d } from '../../low/src/deep.js';\nexport const t = d;\n" } },
  });
  const r = lint(dir);
  t.is(r.code, 1);
  t.regex(r.stderr, /top\/src\/index\.ts:2: import '\.\.\/\.\.\/low\/src\/deep\.js': relative path out of @cohort\/top into @cohort\/low; .*import from @cohort\/low instead/);
});

test('a cycle among the declared dependencies fails', (t) => {
  const dir = fixture(t, {
    a: { deps: ['b'], files: { 'index.ts': 'export const a = 1;\n' } },
    b: { deps: ['a'], files: { 'index.ts': 'export const b = 1;\n' } },
  });
  const r = lint(dir);
  t.is(r.code, 1);
  t.regex(r.stderr, /package dependency cycle @cohort\/a -> @cohort\/b -> @cohort\/a/);
});

test("docs/ARCHITECTURE.md's package table is the graph the package.json files declare", (t) => {
  const doc = readFileSync(path.join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const workspaces = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  for (const ws of workspaces) {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, ws, 'package.json'), 'utf8')) as { name: string; exports: Record<string, string>; dependencies?: Record<string, string> };
    const row = new RegExp('^\\| `' + pkg.name + '` \\| ([^|]*) \\| ([^|]*) \\|$', 'm').exec(doc);
    if (!row) {
      t.fail(`no row for ${pkg.name} in the docs/ARCHITECTURE.md package table`);
      continue;
    }
    const declared = Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@cohort/')).map((d) => d.slice('@cohort/'.length)).sort();
    const documented = row[1].trim() === '—' ? [] : row[1].split(',').map((x) => x.trim()).sort();
    t.deepEqual(documented, declared, `${pkg.name} dependencies`);
    const exportsDoc = [...row[2].matchAll(/`(\.[^`]*)`/g)].map((m) => m[1]).sort();
    t.deepEqual(exportsDoc, Object.keys(pkg.exports).sort(), `${pkg.name} exports`);
  }
});
