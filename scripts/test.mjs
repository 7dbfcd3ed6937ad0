#!/usr/bin/env node
// Runs ava with TAP output, echoes it, and ends with the plain line CI reads:
// "N passed, N failed" (plus ", N skipped" when some were skipped).
// Usage: node scripts/test.mjs [paths or globs passed to ava...]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const avaBin = path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
const args = process.argv.slice(2);
const child = spawn(process.execPath, [avaBin, '--tap', ...args], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, FORCE_COLOR: '0' },
});

let passed = 0;
let failed = 0;
let skipped = 0;
let todo = 0;
const rl = createInterface({ input: child.stdout });
rl.on('line', (line) => {
  process.stdout.write(line + '\n');
  const m = /^(not ok|ok)\s+\d+\s*(?:-\s*)?(.*)$/.exec(line);
  if (!m) return;
  const directive = /#\s*(SKIP|TODO)\b/i.exec(m[2]);
  if (directive && directive[1].toUpperCase() === 'SKIP') skipped++;
  else if (directive) todo++;
  else if (m[1] === 'ok') passed++;
  else failed++;
});

child.on('close', (code, signal) => {
  // ava exits non-zero on an uncaught exception or a timeout even when every
  // counted test passed: report that as a failure so CI never goes green on it.
  if ((code !== 0 || signal) && failed === 0) failed = 1;
  const extra = skipped ? `, ${skipped} skipped` : '';
  process.stdout.write(`${passed} passed, ${failed} failed${extra}\n`);
  process.exit(failed > 0 ? 1 : 0);
});
