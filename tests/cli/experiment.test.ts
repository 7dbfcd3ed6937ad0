// `cohort experiment`: a tiny experiment (2 arms × 2 seeds, two RL steps each) end to end, killed
// between runs and resumed without redoing a finished run; its statistics recomputed here.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'cohort-exp-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const base = writeTinyTrainConfig(dir, { name: 'exp-base', seed: 1, totalSteps: 2, algorithm: 'reinforce', extra: '' });

function experimentFile(name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nbase: ${path.basename(base)}\noutDir: ${JSON.stringify(path.join(dir, 'runs'))}\n${body}`);
  return file;
}

async function fails(file: string): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [bin, 'experiment', file, '--check']);
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
  throw new Error('expected the command to fail');
}

test('bad experiment files get errors naming the arm and the key (exit 2)', async (t) => {
  const unknownKey = await fails(experimentFile('bad1', 'seeds: [1]\narms:\n  - { name: a, set: { algorithm.nme: grpo } }\n'));
  t.is(unknownKey.code, 2);
  t.regex(unknownKey.stderr, /arm "a": algorithm\.nme: .*/);
  const badValue = await fails(experimentFile('bad2', 'seeds: [1]\narms:\n  - { name: ok }\n  - { name: b, set: { run.totalSteps: -3 } }\n'));
  t.regex(badValue.stderr, /arm "b": run\.totalSteps: /);
  t.notRegex(badValue.stderr, /arm "ok"/);
  const armShape = await fails(experimentFile('bad3', 'seeds: [1, 1]\narms:\n  - { name: a, sett: {} }\n'));
  t.regex(armShape.stderr, /arm "a": .*sett/);
  t.regex(armShape.stderr, /seeds: seeds repeat/);
  const dup = await fails(experimentFile('bad4', 'seeds: [1]\narms:\n  - { name: a }\n  - { name: a }\n'));
  t.regex(dup.stderr, /arm names repeat/);
  const control = await fails(experimentFile('bad5', 'seeds: [1]\narms:\n  - { name: c, control: a }\n  - { name: a }\n  - { name: d, control: nope }\n'));
  t.regex(control.stderr, /arm "c": control: control "a" must name an arm listed before it/);
  t.regex(control.stderr, /arm "d": control: control "nope" names no arm/);
  const compare = await fails(experimentFile('bad6', 'seeds: [1]\narms:\n  - { name: a }\ncompare:\n  - { a: a, b: nope }\n  - { a: a, b: a }\n'));
  t.regex(compare.stderr, /compare\.0\.b: "nope" names no arm \(arms: a\)/);
  t.regex(compare.stderr, /compare\.1: compares arm "a" with itself/);
  const { stdout } = await run(process.execPath, [bin, 'experiment', experimentFile('good', 'seeds: [1, 2]\narms:\n  - { name: a }\n  - { name: b, set: { algorithm.name: grpo } }\n'), '--check']);
  t.regex(stdout, /2 arms × 2 seeds = 4 runs, all valid/);
});

test.serial('a tiny experiment runs every arm × seed, resumes after a kill without redoing a finished run, and its statistics hold', async (t) => {
  // Five tiny training jobs in a row (~40 s on a quiet 2-core machine; minutes under load).
  t.timeout(10 * 60_000);
  const file = experimentFile(
    'tiny',
    'seeds: [1, 2]\nset: { eval.every: 1, eval.sampleSize: 2 }\narms:\n  - { name: reinforce, description: plain REINFORCE }\n  - { name: no-masking, set: { rollout.maskObservations: false } }\n  - { name: control-sft, control: reinforce }\ncompare:\n  - { a: reinforce, b: no-masking, finding: masking helps }\n',
  );
  const expDir = path.join(dir, 'runs', 'tiny');
  const firstMarker = path.join(expDir, 'reinforce-s1', 'trial.json');
  // First attempt: killed (SIGKILL) as soon as the first run has finished.
  const child = spawn(process.execPath, [bin, 'experiment', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr1 = '';
  child.stderr.on('data', (d) => (stderr1 += String(d)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (existsSync(firstMarker)) {
        clearInterval(timer);
        child.kill('SIGKILL');
        resolve();
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (!existsSync(firstMarker)) reject(new Error(`experiment exited (${code}) before its first run finished:\n${stderr1}`));
    });
  });
  const markerBefore = readFileSync(firstMarker, 'utf8');
  const mtimeBefore = statSync(path.join(expDir, 'reinforce-s1', 'report.json')).mtimeMs;
  t.false(existsSync(path.join(expDir, 'results.json')));

  // Second attempt: the finished run is read back, the others run.
  const { stdout, stderr } = await run(process.execPath, [bin, 'experiment', file, '--json'], { maxBuffer: 16 << 20 });
  t.regex(stderr, /\[1\/6\] reinforce-s1: finished before, read back/);
  t.notRegex(stderr, /reinforce-s1: running/);
  t.regex(stderr, /\[6\/6\] control-sft-s2: done/);
  t.is(readFileSync(firstMarker, 'utf8'), markerBefore);
  t.is(statSync(path.join(expDir, 'reinforce-s1', 'report.json')).mtimeMs, mtimeBefore);

  const results = JSON.parse(stdout);
  t.deepEqual(JSON.parse(readFileSync(path.join(expDir, 'results.json'), 'utf8')).arms, results.arms);
  t.is(results.runs.length, 6);
  // The control arm: the RL arm's starting point and before-evaluation, SFT for that run's RL wall time instead of RL.
  for (const seed of [1, 2]) {
    const rl = results.runs.find((r: { arm: string; seed: number }) => r.arm === 'reinforce' && r.seed === seed).report;
    const ctl = results.runs.find((r: { arm: string; seed: number }) => r.arm === 'control-sft' && r.seed === seed).report;
    t.is(ctl.arm, 'control');
    t.is(ctl.control.budget_s, rl.stages.rl);
    t.is(ctl.em_before, rl.em_before);
  }
  for (const arm of results.arms.filter((a: { name: string }) => a.name !== 'control-sft')) {
    const reports = results.runs.filter((r: { arm: string }) => r.arm === arm.name).map((r: { report: Record<string, number> }) => r.report);
    t.is(reports.length, 2);
    // Independent computation: mean, sample std and the t(0.975, 1 dof) = 12.706 CI for two seeds.
    const gains = reports.map((r: Record<string, number>) => r.em_after - r.em_before);
    const mean = (gains[0] + gains[1]) / 2;
    const std = Math.abs(gains[0] - gains[1]) / Math.sqrt(2);
    t.true(Math.abs(arm.em_gain.mean - mean) < 1e-9);
    t.true(Math.abs(arm.em_gain.std - std) < 1e-9);
    t.true(Math.abs(arm.em_gain.ci95[1] - (mean + (12.706 * std) / Math.sqrt(2))) < 1e-3 * Math.max(1, std));
    t.true(Math.abs(arm.em_after.mean - (reports[0].em_after + reports[1].em_after) / 2) < 1e-9);
    for (const [name, s] of Object.entries(arm.splits) as Array<[string, { em_after: { mean: number; min: number; max: number } }]>) {
      const fromReports = reports.map((r: { splits: { after: Array<{ split: string; em: number }> } }) => r.splits.after.find((x) => x.split === name)!.em);
      t.true(Math.abs(s.em_after.mean - (fromReports[0] + fromReports[1]) / 2) < 1e-9);
      t.deepEqual([s.em_after.min, s.em_after.max], [Math.min(...fromReports), Math.max(...fromReports)]);
    }
    // The dev curve: one point per RL step (eval.every 1), from both seeds.
    t.deepEqual(arm.dev_curve.map((p: { step: number }) => p.step), [0, 1]);
    t.true(arm.dev_curve.every((p: { seeds: number }) => p.seeds === 2));
  }
  // The paired comparison, recomputed: per seed reinforce's EM after minus no-masking's, then mean and sample std.
  const after = (arm: string, seed: number, key: string) => results.runs.find((r: { arm: string; seed: number }) => r.arm === arm && r.seed === seed).report[key] as number;
  const [c] = results.comparisons;
  t.deepEqual([c.a, c.b, c.finding, c.seeds], ['reinforce', 'no-masking', 'masking helps', [1, 2]]);
  for (const [key, fig] of [['em_after', c.test_after_diff], ['dev_em_after', c.dev_after_diff]] as const) {
    const d = [1, 2].map((s) => after('reinforce', s, key) - after('no-masking', s, key));
    t.true(Math.abs(fig.mean - (d[0] + d[1]) / 2) < 1e-9, key);
    t.true(Math.abs(fig.std - Math.abs(d[0] - d[1]) / Math.sqrt(2)) < 1e-9, key);
  }
  // A moved runs directory is still read back: where the runs live is not part of a trial's identity.
  const moved = path.join(dir, 'moved');
  cpSync(expDir, path.join(moved, 'tiny'), { recursive: true });
  const movedFile = path.join(dir, 'moved.yaml');
  writeFileSync(movedFile, readFileSync(file, 'utf8').replace(/^outDir: .*$/m, `outDir: ${JSON.stringify(moved)}`));
  const again = await run(process.execPath, [bin, 'experiment', movedFile], { maxBuffer: 16 << 20 });
  t.is((again.stderr.match(/finished before, read back/g) ?? []).length, 6, again.stderr);
  const md = readFileSync(path.join(expDir, 'results.md'), 'utf8');
  t.regex(md, /\| reinforce − no-masking \| masking helps \|/);
  t.regex(md, /\| reinforce \|/);
  t.regex(md, /one question = /);
  for (const f of ['em-per-arm.svg', 'gain-per-arm.svg', 'dev-em-curve.svg']) t.regex(readFileSync(path.join(expDir, f), 'utf8'), /^<svg[\s>]/);
  t.regex(readFileSync(path.join(expDir, 'em-per-arm.svg'), 'utf8'), /class="error-bar"/);
});

test('the paper experiment file validates: every arm the issue names (or the arm that stands for it), at least 3 seeds', async (t) => {
  const file = new URL('../../configs/experiments/zerosearch-paper.yaml', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, [bin, 'experiment', file, '--check']);
  const m = /(\d+) arms × (\d+) seeds/.exec(stdout)!;
  t.true(Number(m[2]) >= 3);
  const text = readFileSync(file, 'utf8');
  for (const arm of ['sim-sft', 'real-bm25', 'sim-prompt', 'random', 'no-masking', 'reinforce', 'ppo', 'control-sft']) t.regex(text, new RegExp(`- name: ${arm}\\n`));
  // sim-sft stands for the curriculum, masking and grpo arms: the base config has those settings.
  t.regex(readFileSync(new URL('../../configs/zerosearch/local.yaml', import.meta.url).pathname, 'utf8'), /curriculum: \{ mode: curriculum/);
});
