import test from 'ava';
import { buildReport, buildSeedsReport, formatSeedsTable, writeSeedsReport, type EvalSplitResult, type RunReport } from '../../actors/src/index.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const split = (name: string, kind: 'single-hop' | 'multi-hop', em: number): EvalSplitResult => ({ split: name, kind, questions: 10, em, coverEm: em, turnsPerQuestion: 1, searchesPerQuestion: 1 });

function report(run: string, seed: number, before: [number, number], after: [number, number], arm: 'rl' | 'control' = 'rl', dev?: [number, number]): RunReport {
  return buildReport({
    run,
    seed,
    algorithm: arm === 'rl' ? 'grpo' : 'sft-control',
    steps: 4,
    wallS: 10,
    stages: { rl: 5 },
    before: [split('single-hop', 'single-hop', before[0]), split('two-hop', 'multi-hop', before[1])],
    after: [split('single-hop', 'single-hop', after[0]), split('two-hop', 'multi-hop', after[1])],
    devBefore: dev ? [split('single-hop', 'single-hop', dev[0]), split('two-hop', 'multi-hop', dev[0])] : undefined,
    devAfter: dev ? [split('single-hop', 'single-hop', dev[1]), split('two-hop', 'multi-hop', dev[1])] : undefined,
    arm,
    ...(arm === 'control' ? { control: { budget: 'rl_wall_s' as const, budget_s: 5, sft_steps: 17, sft_s: 5.1, sft_lr: 0.002, sft_batch_size: 8 } } : {}),
  });
}

test('seeds.json: mean, std and Student-t CI of test EM before, after and gain, per split and average, for RL and control', (t) => {
  // averages over the two splits, before → after: seed 1: 5 → 20 (gain 15); seed 2: 10 → 20 (10); seed 3: 5 → 25 (20)
  const runs = [
    { seed: 1, rl: report('x-s1', 1, [10, 0], [30, 10], 'rl', [8, 12]), control: report('x-s1-control', 1, [10, 0], [12, 2], 'control', [8, 9]) },
    { seed: 2, rl: report('x-s2', 2, [15, 5], [25, 15], 'rl', [10, 13]), control: report('x-s2-control', 2, [15, 5], [15, 5], 'control', [10, 10]) },
    { seed: 3, rl: report('x-s3', 3, [5, 5], [35, 15], 'rl', [6, 14]), control: report('x-s3-control', 3, [5, 5], [9, 3], 'control', [6, 5]) },
  ];
  const r = buildSeedsReport('x', runs, 'abc');
  t.deepEqual(r.seeds, [1, 2, 3]);
  t.is(r.em_gain_mean, 15);
  // gains 15, 10, 20: sample std 5; CI half-width t(0.975, 2) · 5 / √3
  t.true(Math.abs(r.em_gain_std - 5) < 1e-12);
  const half = (4.302652729911275 * 5) / Math.sqrt(3);
  t.true(Math.abs(r.em_gain_ci95[0] - (15 - half)) < 1e-6 && Math.abs(r.em_gain_ci95[1] - (15 + half)) < 1e-6);
  // control gains: (7−5)=2, (10−10)=0, (6−5)=1 → mean 1, std 1
  t.is(r.control_em_gain_mean, 1);
  t.true(Math.abs(r.control_em_gain_std! - 1) < 1e-12);
  t.is(r.control_budget, 'rl_wall_s');
  // per split: single-hop before 10, 15, 5 → mean 10; after 30, 25, 35 → 30
  t.is(r.test['single-hop'].before.mean, 10);
  t.is(r.test['single-hop'].after.mean, 30);
  t.is(r.test['two-hop'].gain.mean, 10);
  t.deepEqual(Object.keys(r.test), ['average', 'single-hop', 'two-hop']);
  // dev: gains 4, 3, 8
  t.is(r.dev!.gain.mean, 5);
  t.deepEqual(r.runs.map((x) => x.control?.sft_steps), [17, 17, 17]);
  const table = formatSeedsTable(r);
  t.regex(table, /seeds 1, 2, 3/);
  t.regex(table, /test average\s+6\.7 ± 2\.9\s+21\.7 ± 2\.9\s+15\.0 ± 5\.0\s+\[2\.6, 27\.4\]/);
  t.regex(table, /control test average/);
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-seeds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = writeSeedsReport(dir, r);
  t.deepEqual(JSON.parse(readFileSync(file, 'utf8')), r);
});

test('seeds.json without a control arm; mixed arms and missing splits are refused', (t) => {
  const a = report('y-s1', 1, [10, 10], [20, 20]);
  const b = report('y-s2', 2, [10, 10], [30, 30]);
  const r = buildSeedsReport('y', [{ seed: 1, rl: a }, { seed: 2, rl: b }]);
  t.is(r.control_em_gain_mean, null);
  t.is(r.control_test, null);
  t.is(r.dev, null);
  t.is(r.em_gain_mean, 15);
  t.throws(() => buildSeedsReport('y', [{ seed: 1, rl: a, control: a }, { seed: 2, rl: b }]), { message: /1 of 2 seeds have a control arm/ });
  const odd = { ...b, splits: { ...b.splits, before: b.splits.before.slice(0, 1) } };
  t.throws(() => buildSeedsReport('y', [{ seed: 1, rl: a }, { seed: 2, rl: odd }]), { message: /no eval split "two-hop" before RL/ });
  t.throws(() => buildSeedsReport('y', []), { message: /no seeds ran/ });
});
