import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MetricsWriter, buildReport, formatResultsTable, summarizeTrajectories, writeReport, type EvalSplitResult, type StepMetrics } from '../../actors/src/core.js';
import { makeTrajectory } from './helpers.js';

const timings = { generate: 1, search: 0.5, oldLogprob: 0.2, ref: 0.2, update: 0.8, allreduce: 0.1, weightSync: 0.05, total: 2.9 };

test('metrics.jsonl gets one validated line per step', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const w = new MetricsWriter(dir);
  const trajs = [
    { ...makeTrajectory({ promptIndex: 0, reward: 1, segments: [{ by: 'policy', ids: [1, 2] }, { by: 'env', ids: [3] }, { by: 'policy', ids: [4] }] }), noisySearches: 1 },
    makeTrajectory({ promptIndex: 1, reward: 0, segments: [{ by: 'policy', ids: [1] }] }),
  ];
  const summary = summarizeTrajectories(trajs);
  t.is(summary.reward, 0.5);
  t.is(summary.responseLength, 2.5);
  t.is(summary.searches, 0.5);
  t.is(summary.noisyShare, 1);
  const line = (step: number): StepMetrics => ({
    step,
    time: new Date(0).toISOString(),
    policyVersion: step,
    ...summary,
    noiseP: 0.1,
    timings,
    simulatorBatch: { mean: 3.5, max: 8, batches: 4 },
    idleRatio: 0.25,
  });
  w.write(line(0));
  w.write(line(1));
  const lines = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(lines.map((l) => l.step), [0, 1]);
  t.is(lines[1].timings.allreduce, 0.1);
  t.throws(() => w.write({ ...line(2), idleRatio: 1.5 }), { message: /step 2: idleRatio/ });
  w.write(line(2));

  // Resumed at step 1: the lines of steps 1 and later are dropped (they are redone), none is lost before.
  const resumed = new MetricsWriter(dir, { resumeFrom: 1 });
  t.is(resumed.previous, undefined);
  resumed.write(line(1));
  const steps = () => readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  t.deepEqual(steps(), [0, 1]);
  // A fresh run under the same name starts an empty file and keeps the earlier one beside it.
  const fresh = new MetricsWriter(dir);
  t.truthy(fresh.previous);
  t.deepEqual(readFileSync(fresh.previous!, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step), [0, 1]);
  t.false(existsSync(path.join(dir, 'metrics.jsonl')));
  fresh.write(line(0));
  t.deepEqual(steps(), [0]);
});

test('report.json and the results table (before/after EM, two-hop, turns, searches)', (t) => {
  const split = (name: string, kind: EvalSplitResult['kind'], em: number, turns: number): EvalSplitResult => ({
    split: name,
    kind,
    questions: 50,
    em,
    coverEm: em + 5,
    turnsPerQuestion: turns,
    searchesPerQuestion: turns - 1,
  });
  const report = buildReport({
    run: 'r',
    seed: 7,
    algorithm: 'grpo',
    steps: 30,
    wallS: 600,
    before: [split('single-hop', 'single-hop', 20, 1.5), split('two-hop', 'multi-hop', 10, 1.5)],
    after: [split('single-hop', 'single-hop', 30, 2.5), split('two-hop', 'multi-hop', 16, 2.5)],
  });
  t.is(report.em_before, 15);
  t.is(report.em_after, 23);
  t.is(report.em_twohop_before, 10);
  t.is(report.em_twohop_after, 16);
  t.is(report.em_gain, 8);
  t.is(report.cover_em_after, 28);
  t.is(report.wall_s, 600);
  const dir = mkdtempSync(path.join(tmpdir(), 'cohort-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const back = JSON.parse(readFileSync(writeReport(dir, report), 'utf8'));
  for (const k of ['em_before', 'em_after', 'em_twohop_before', 'em_twohop_after', 'wall_s', 'seed']) t.true(k in back, k);
  const table = formatResultsTable(report);
  t.regex(table, /EM single-hop \(%\)\s+20\.0\s+30\.0\s+\+10\.0/);
  t.regex(table, /EM two-hop \(%\)\s+10\.0\s+16\.0\s+\+6\.0/);
  t.regex(table, /EM average \(%\)\s+15\.0\s+23\.0\s+\+8\.0/);
  t.regex(table, /searches \/ question\s+0\.50\s+1\.50\s+\+1\.00/);
  t.throws(() => buildReport({ run: 'r', seed: 1, algorithm: 'x', steps: 0, wallS: 0, before: [], after: [] }), { message: /no split results/ });
});

test('simulatorCost: searches from the batch sizes, busy seconds summed, the busy share per simulator of the step', async (t) => {
  const { simulatorCost } = await import('../../actors/src/trainer/stages/step-metrics.js');
  const stats = (meanBatch: number, batches: number, busyS: number) => ({ index: 0, requests: 999, batches, meanBatch, maxBatch: 16, useful: 0, noisy: 0, fallbacks: 0, busyS });
  // Two simulators over a 10 s step: 4 batches of 12 and 2 of 6 searches; busy 3 s and 1 s.
  t.deepEqual(simulatorCost([stats(12, 4, 3), stats(6, 2, 1)], 10), { searches: 60, busyS: 4, searchesPerS: 15, stepShare: 0.2 });
  // No simulator answered (all lost), or an idle step: zeros, no division by zero.
  t.deepEqual(simulatorCost([], 10), { searches: 0, busyS: 0, searchesPerS: 0, stepShare: 0 });
  t.deepEqual(simulatorCost([stats(0, 0, 0)], 0), { searches: 0, busyS: 0, searchesPerS: 0, stepShare: 0 });
  // The share is capped at 1 (a backend call that began before the step).
  t.is(simulatorCost([stats(8, 1, 12)], 10).stepShare, 1);
});
