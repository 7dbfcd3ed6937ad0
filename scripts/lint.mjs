#!/usr/bin/env node
// Project lint rules that the type checker does not enforce:
// - no console.log/console.error in library code (use pino child loggers);
// - no default exports (named exports keep the public API greppable).
// Usage: node scripts/lint.mjs <dir> [<dir>...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const roots = process.argv.slice(2);
if (roots.length === 0) {
  process.stderr.write('usage: node scripts/lint.mjs <dir> [<dir>...]\n');
  process.exit(2);
}
const problems = [];
function walk(p) {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const e of readdirSync(p)) walk(path.join(p, e));
    return;
  }
  if (!/\.(ts|mts)$/.test(p)) return;
  const lines = readFileSync(p, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (/\bconsole\.(log|error|warn|info|debug)\(/.test(line) && !/lint-allow-console/.test(line)) {
      problems.push(`${p}:${i + 1}: console.* in library code; use a pino logger (or mark CLI output with // lint-allow-console)`);
    }
    if (/^export default\b/.test(line)) {
      problems.push(`${p}:${i + 1}: default export; use a named export`);
    }
  });
}
for (const r of roots) walk(r);
for (const p of problems) process.stderr.write(p + '\n');
if (problems.length) process.exit(1);
