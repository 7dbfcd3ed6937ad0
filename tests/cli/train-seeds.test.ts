// cohort train --seeds (issue 12 item 5): the job once per seed, each followed
// by its control arm (warm-start SFT for the RL phase's wall time), and
// runs/<name>/seeds.json with the spread over seeds.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { summarize } from '../../actors/src/index.js';
import { writeTinyTrainConfig } from '../helpers/tiny-train-config.js';

const run = promisify(execFile);
const bin = new URL('../../cli/bin/cohort.mjs', import.meta.url).pathname;

test('cohort train --seeds runs each seed and its control arm and writes seeds.json', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-cli-seeds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeTinyTrainConfig(dir, { name: 'seeds-tiny', seed: 5, totalSteps: 2, algorithm: 'reinforce' });
  const { stdout } = await run(process.execPath, [bin, 'train', file, '--seeds', '3,4'], { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 });
  t.regex(stdout, /seeds-tiny: seeds 3, 4 \(mean ± sample std, Student-t 95% CI over 2 seeds\); control: warm-start SFT for the RL phase's wall time/);
  t.regex(stdout, /control test average/);
  const runs = path.join(dir, 'runs');
  const seeds = JSON.parse(readFileSync(path.join(runs, 'seeds-tiny', 'seeds.json'), 'utf8')) as Record<string, any>;
  t.deepEqual(seeds.seeds, [3, 4]);
  const reports = [3, 4].map((s) => JSON.parse(readFileSync(path.join(runs, `seeds-tiny-s${s}`, 'report.json'), 'utf8')) as Record<string, any>);
  const controls = [3, 4].map((s) => JSON.parse(readFileSync(path.join(runs, `seeds-tiny-s${s}-control`, 'report.json'), 'utf8')) as Record<string, any>);
  t.deepEqual(reports.map((r) => [r.seed, r.arm]), [[3, 'rl'], [4, 'rl']]);
  t.deepEqual(controls.map((r) => [r.seed, r.arm]), [[3, 'control'], [4, 'control']]);
  // the control arm starts where RL started, and spends at least the RL phase's wall time on SFT
  for (const [i, c] of controls.entries()) {
    t.deepEqual(c.splits.before, reports[i].splits.before);
    t.is(c.control.budget, 'rl_wall_s');
    t.is(c.control.budget_s, reports[i].stages.rl);
    t.true(c.control.sft_s >= c.control.budget_s && c.control.sft_steps >= 1);
  }
  const gains = reports.map((r) => r.em_after - r.em_before);
  const s = summarize(gains);
  t.true(Math.abs(seeds.em_gain_mean - s.mean) < 1e-9);
  t.deepEqual(seeds.em_gain_ci95, [...s.ci95]);
  t.true(Math.abs(seeds.control_em_gain_mean - summarize(controls.map((r) => r.em_after - r.em_before)).mean) < 1e-9);
  // every report says how many questions of each split it evaluated, out of how many
  for (const r of [...reports, ...controls]) {
    t.is(r.splits_sizes.test.evaluated, 4);
    t.true(r.splits_sizes.test.pool >= 4 && r.splits_sizes.dev.pool >= r.splits_sizes.dev.evaluated);
    t.deepEqual(Object.keys(r.simulator ?? {}), r.arm === 'rl' ? ['backend', 'useful_answer_rate', 'noisy_answer_rate', 'format_ok_rate', 'searches_per_s', 'step_share'] : []);
  }
  t.is(reports[0].simulator.backend, 'template');
  t.is(reports[0].simulator.useful_answer_rate, null);
  // Each step's simulator cost: the searches the simulators answered are the trajectories' searches,
  // and the report's figures are the steps' totals (searches / busy seconds, busy-time share).
  for (const [i, s] of [3, 4].entries()) {
    const lines = readFileSync(path.join(runs, `seeds-tiny-s${s}`, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    t.is(lines.length, 2);
    for (const l of lines) {
      t.is(l.simulator.searches, Math.round(l.searches * l.trajectories), `seed ${s} step ${l.step}`);
      t.true(l.simulator.stepShare >= 0 && l.simulator.stepShare <= 1 && l.simulator.busyS <= l.timings.total);
    }
    const searches = lines.reduce((a, l) => a + l.simulator.searches, 0);
    const busy = lines.reduce((a, l) => a + l.simulator.busyS, 0);
    const sim = reports[i].simulator;
    if (busy > 0) t.true(Math.abs(sim.searches_per_s - searches / busy) < 1e-6 * Math.max(1, sim.searches_per_s));
    else t.is(sim.searches_per_s, null);
    const share = lines.reduce((a, l) => a + l.simulator.stepShare * l.timings.total, 0) / lines.reduce((a, l) => a + l.timings.total, 0);
    t.true(Math.abs(sim.step_share - share) < 1e-9);
  }
});

test('--seeds: bad lists and flags that do not go with it are usage errors', async (t) => {
  for (const [args, re] of [
    [['--seeds', '3,x'], /not a seed: "x"/],
    [['--seeds', '3,3'], /a seed is given twice/],
    [['--no-control'], /--no-control goes with --seeds/],
    [['--seeds', '3', '--resume'], /--seeds cannot go with --resume/],
  ] as const) {
    const err = (await t.throwsAsync(run(process.execPath, [bin, 'train', 'configs/zerosearch/smoke.yaml', ...args]))) as unknown as { code: number; stderr: string };
    t.is(err.code, 2, args.join(' '));
    t.regex(err.stderr, re);
  }
});
