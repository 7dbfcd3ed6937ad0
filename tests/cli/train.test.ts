import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

function tinyConfig(dir: string, extra = ''): string {
  return writeTinyTrainConfig(dir, { name: 'cli-tiny', seed: 5, totalSteps: 2, algorithm: 'reinforce', extra });
}

test('cohort train runs the job as a real process: results table, report, metrics and SVG plots in the run directory', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-cli-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { stdout, stderr } = await run(process.execPath, [bin, 'train', tinyConfig(dir)], { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 });
  t.regex(stdout, /EM/);
  t.regex(stdout, /two-hop/i);
  // Not a TTY: progress comes as plain lines on stderr, no carriage returns.
  t.false(stderr.includes('\r'));
  t.regex(stderr, /: done /);
  const runDir = path.join(dir, 'runs', 'cli-tiny');
  const report = JSON.parse(readFileSync(path.join(runDir, 'report.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['em_before', 'em_after', 'em_twohop_before', 'em_twohop_after', 'wall_s']) t.is(typeof report[k], 'number', k);
  t.is(readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 2);
  for (const f of ['reward.svg', 'em.svg', 'em-by-type.svg']) {
    t.true(existsSync(path.join(runDir, f)), f);
    t.regex(readFileSync(path.join(runDir, f), 'utf8'), /^<svg[\s>]/);
  }
});

test('cohort train rejects a mistyped config key with exit code 2 and a suggestion', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-cli-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = tinyConfig(dir, 'evall: {}\n');
  const err = (await t.throwsAsync(run(process.execPath, [bin, 'train', file]))) as unknown as { code: number; stderr: string };
  t.is(err.code, 2);
  t.regex(err.stderr, /evall/);
  t.regex(err.stderr, /did you mean "eval"/);
});
