import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { MetricsWriter, buildReport, writeReport, type EvalSplitResult, type StepMetrics } from '../../actors/src/core.js';
import { barChartSvg, lineChartSvg, niceTicks, writeRunPlots } from '@cohort/dashboard';
import { tempDir } from './helpers.js';

function stepMetrics(step: number): StepMetrics {
  return {
    step,
    time: new Date(1_700_000_000_000 + step * 1000).toISOString(),
    policyVersion: step,
    trajectories: 16,
    reward: step / 10,
    rewardStd: 0.25,
    responseLength: 50,
    turns: 1.2,
    searches: 1.1,
    answeredShare: 0.9,
    noiseP: 0.5,
    noisyShare: 0.5,
    timings: { generate: 1, search: 0.5, oldLogprob: 0.1, ref: 0.1, update: 0.5, allreduce: 0, weightSync: 0.05, total: 2.25 },
    simulatorBatch: { mean: 4, max: 8, batches: 3 },
    idleRatio: 0.05,
  };
}

const split = (name: string, kind: 'single-hop' | 'multi-hop', em: number): EvalSplitResult => ({ split: name, kind, questions: 50, em, coverEm: em + 5, turnsPerQuestion: 1.5, searchesPerQuestion: 1.2 });

/** Y pixel coordinates of a path's points (`M x,y L x,y ...`). */
function pathYs(svg: string, series: string): number[] {
  const d = new RegExp(`data-name="${series}" d="([^"]+)"`).exec(svg)?.[1];
  if (!d) throw new Error(`no series ${series}`);
  return [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => Number(m[2]));
}

test('writeRunPlots draws reward, EM and EM-by-type SVGs from the trainer metrics.jsonl and report.json', (t) => {
  const dir = tempDir(t);
  const w = new MetricsWriter(dir);
  // a periodic evaluation (eval.every 5) after steps 4 and 9: EM rising between before and after
  for (let s = 0; s < 10; s++) w.write(s % 5 === 4 ? { ...stepMetrics(s), em: 10 + s, emByType: { 'single-hop': 15 + s, 'multi-hop': 5 + s }, evalQuestions: 16, evalSplit: 'dev' as const, evalPool: 40 } : stepMetrics(s));
  writeReport(
    dir,
    buildReport({
      run: 'plot-run',
      seed: 1,
      algorithm: 'grpo',
      steps: 10,
      wallS: 12,
      before: [split('nq', 'single-hop', 10), split('hotpotqa', 'multi-hop', 4)],
      after: [split('nq', 'single-hop', 30), split('hotpotqa', 'multi-hop', 12)],
    }),
  );
  const out = writeRunPlots(dir);
  t.deepEqual(Object.keys(out).sort(), ['em', 'emByType', 'reward']);
  for (const f of Object.values(out)) {
    t.is(path.dirname(f!), dir);
    const svg = readFileSync(f!, 'utf8');
    t.regex(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    t.regex(svg, /<\/svg>\n$/);
  }
  const reward = readFileSync(out.reward!, 'utf8');
  const ys = pathYs(reward, 'mean reward');
  t.is(ys.length, 10);
  // reward rises every step, so the line goes up the page (smaller y) every step
  for (let i = 1; i < ys.length; i++) t.true(ys[i] < ys[i - 1]);
  t.regex(reward, /Reward · plot-run/);

  const em = readFileSync(out.em!, 'utf8');
  // the dev sample during RL (after step 4: 14, after step 9: 19) and the final test evaluation (before 7, after 21) are separate, named lines
  const devYs = pathYs(em, 'dev EM, 16 questions sampled of 40 \\(during RL\\)');
  t.is(devYs.length, 2);
  t.true(devYs[1] < devYs[0]);
  const testYs = pathYs(em, 'test EM before / after RL \\(100 questions\\)');
  t.is(testYs.length, 2);
  t.true(testYs[1] < testYs[0]);
  // 19 on the dev line is below 21 on the test line (higher y), 14 above 7
  t.true(devYs[1] > testYs[1] && devYs[0] < testYs[0]);
  t.is(pathYs(em, 'dev EM single-hop, sampled').length, 2);
  t.is(pathYs(em, 'dev EM multi-hop, sampled').length, 2);
  t.regex(em, /dev sample during RL, test before \/ after/);
  const byType = readFileSync(out.emByType!, 'utf8');
  const bars = [...byType.matchAll(/data-group="([^"]+)" data-name="(before|after)" data-value="([\d.]+)"/g)].map((m) => [m[1], m[2], Number(m[3])]);
  t.deepEqual(bars, [
    ['nq (single-hop)', 'before', 10],
    ['nq (single-hop)', 'after', 30],
    ['hotpotqa (multi-hop)', 'before', 4],
    ['hotpotqa (multi-hop)', 'after', 12],
    ['single-hop mean', 'before', 10],
    ['single-hop mean', 'after', 30],
    ['multi-hop mean', 'before', 4],
    ['multi-hop mean', 'after', 12],
    ['average', 'before', 7],
    ['average', 'after', 21],
  ]);
  // a taller bar for a larger value
  const heights = [...byType.matchAll(/data-group="nq \(single-hop\)" data-name="(?:before|after)" data-value="[\d.]+" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.true(heights[1] > 2.5 * heights[0]);
});

test('writeRunPlots: metrics alone give the reward plot; bad inputs name the file and line', (t) => {
  const dir = tempDir(t);
  t.throws(() => writeRunPlots(dir), { message: /neither metrics.jsonl nor report.json/ });
  const w = new MetricsWriter(dir);
  w.write(stepMetrics(0));
  w.write(stepMetrics(1));
  t.deepEqual(Object.keys(writeRunPlots(dir)), ['reward']);
  writeFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify(stepMetrics(0)) + '\n{"step": "two"}\n');
  t.throws(() => writeRunPlots(dir), { message: /metrics\.jsonl:2: step: .*expected/ });
  writeFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify(stepMetrics(0)) + '\n');
  writeFileSync(path.join(dir, 'report.json'), JSON.stringify({ em_before: 'x' }));
  t.throws(() => writeRunPlots(dir), { message: /report\.json: em_before: .*expected a run report/ });
});

test('svg renderer: ticks cover the data; text is escaped; empty charts say so', (t) => {
  const ticks = niceTicks(0.13, 0.87, 5);
  t.true(ticks[0] <= 0.13 && ticks.at(-1)! >= 0.87);
  t.true(ticks.length >= 3 && ticks.length <= 9);
  t.deepEqual(niceTicks(5, 5).length > 1, true);
  const svg = lineChartSvg({ title: 'a <b> & "c"', series: [{ name: 'x<y', points: [[0, 1], [1, 2]] }] });
  t.regex(svg, /a &lt;b&gt; &amp; &quot;c&quot;/);
  t.notRegex(svg, /<b>/);
  t.regex(lineChartSvg({ title: 'none', series: [] }), />no data</);
  t.regex(barChartSvg({ title: 'none', groups: [] }), />no data</);
});
