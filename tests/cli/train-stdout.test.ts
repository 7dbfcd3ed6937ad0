import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

// Logs go to stderr, results to stdout: a one-step training run, through the
// library with the Trainer's default logger and through `cohort train --json`,
// prints nothing on stdout but its results.

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;
const actors = new URL('../../actors/src/index.ts', import.meta.url).href;
/** One RL step, a checkpoint at the end only. */
const ONE_STEP = ['run.totalSteps=1', 'checkpoint.every=0'];
const env = { ...process.env, NO_COLOR: '1', COHORT_LOG_LEVEL: 'info' };

/** JSON log lines (pino) in a stream's text. */
function logLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((l) => {
    try {
      const v = JSON.parse(l) as Record<string, unknown>;
      return typeof v === 'object' && v !== null && 'level' in v && 'msg' in v ? [v] : [];
    } catch {
      return [];
    }
  });
}

test('the Trainer with its default logger writes logs to stderr and nothing to stdout', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-stdout-lib-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeTinyTrainConfig(dir, { name: 'stdout-lib', seed: 2, totalSteps: 2, algorithm: 'reinforce' });
  const script = `const { Trainer, loadTrainConfig } = await import(${JSON.stringify(actors)});
const { config, sha256 } = await loadTrainConfig(${JSON.stringify(file)}, { overrides: ${JSON.stringify(ONE_STEP)} });
await new Trainer({ config, configSha256: sha256 }).run();`;
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, maxBuffer: 64 << 20 });
  t.is(stdout, '', 'stdout carries no log line');
  const logs = logLines(stderr);
  t.true(logs.some((l) => l.run === 'stdout-lib'), 'the trainer logged on stderr');
});

test('cohort train --json prints only the report on stdout; logs go to stderr', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-stdout-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeTinyTrainConfig(dir, { name: 'stdout-cli', seed: 2, totalSteps: 2, algorithm: 'reinforce' });
  const { stdout, stderr } = await run(process.execPath, [bin, 'train', file, '--json', ...ONE_STEP.flatMap((o) => ['--set', o]), '--log-level', 'info'], { env, maxBuffer: 64 << 20 });
  const lines = stdout.trimEnd().split('\n');
  t.is(lines.length, 1, `stdout is one JSON document: ${stdout.slice(0, 500)}`);
  const report = JSON.parse(lines[0]) as Record<string, unknown>;
  t.is(typeof report.em_after, 'number');
  t.false('level' in report, 'the line is the report, not a log line');
  t.true(logLines(stderr).length > 0, 'logs went to stderr');
});
