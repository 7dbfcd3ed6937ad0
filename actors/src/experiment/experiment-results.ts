// `runs/<exp>/results.json`: every trial's report, and per arm the mean, std
// and 95% CI over seeds of test EM after RL and of the gain, per eval split.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { summarize, type SampleSummary } from '../metrics/stats.js';
import type { RunReport } from '../metrics/report.js';
import { emFigures } from '../metrics/seeds-report.js';
import type { Experiment } from './experiment-spec.js';
import type { TrialResult } from './experiment-runner.js';

/** Over-seed figures of one quantity. */
export type Figure = SampleSummary;

/** One arm's results. */
export interface ArmResults {
  readonly name: string;
  readonly description: string;
  readonly set: Record<string, unknown>;
  readonly seeds: readonly number[];
  /** Average test EM over the eval splits (the paper's "average"). */
  readonly em_before: Figure;
  readonly em_after: Figure;
  readonly em_gain: Figure;
  /** Per eval split: test EM after RL and its gain, with the questions it covers. */
  readonly splits: Record<string, { kind: string; questions: number; em_after: Figure; em_gain: Figure }>;
  /** Dev EM over RL steps, mean over seeds at each step measured (from metrics.jsonl). */
  readonly dev_curve: ReadonlyArray<{ step: number; em: number; seeds: number }>;
  /** Questions in each periodic dev evaluation (from the step metrics), when known. */
  readonly dev_curve_questions: number | null;
  readonly wall_s: Figure;
}

/** A paired comparison: per seed, arm a's EM after training minus arm b's, over the seeds both ran. */
export interface Comparison {
  readonly a: string;
  readonly b: string;
  readonly finding: string;
  readonly seeds: readonly number[];
  /** Test EM (average over the eval splits). */
  readonly test_after_diff: Figure;
  /** Dev EM after training (null when the runs measured no dev split). */
  readonly dev_after_diff: Figure | null;
}

export interface ExperimentResults {
  readonly format: 'cohort-experiment-results/1';
  readonly experiment: string;
  readonly base: string;
  readonly seeds: readonly number[];
  readonly arms: readonly ArmResults[];
  readonly comparisons: readonly Comparison[];
  readonly runs: ReadonlyArray<{ arm: string; seed: number; run_dir: string; report: RunReport }>;
  readonly generated_at: string;
}


/** The dev-EM points of a run's metrics.jsonl (`em` of the periodic evaluation) and the questions each covers. */
function devPoints(runDir: string): { points: Array<[number, number]>; questions: number | null } {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) return { points: [], questions: null };
  const points: Array<[number, number]> = [];
  let questions: number | null = null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as { step?: number; em?: number; evalQuestions?: number };
    if (typeof m.step === 'number' && typeof m.em === 'number') {
      points.push([m.step, m.em]);
      if (typeof m.evalQuestions === 'number') questions = m.evalQuestions;
    }
  }
  return { points, questions };
}

/** Aggregates the trials of an experiment (every trial must have a result). */
export function experimentResults(exp: Experiment, trials: readonly TrialResult[]): ExperimentResults {
  const arms: ArmResults[] = exp.spec.arms.map((arm) => {
    const mine = trials.filter((r) => r.trial.arm === arm.name);
    if (mine.length === 0) throw new Error(`arm "${arm.name}" has no finished run`);
    const reports = mine.map((r) => r.report);
    const splitNames = [...new Set(reports.flatMap((r) => r.splits.after.map((s) => s.split)))];
    const splits: ArmResults['splits'] = {};
    for (const name of splitNames) {
      const f = emFigures(reports, name);
      const after = reports[0].splits.after.find((s) => s.split === name)!;
      splits[name] = { kind: after.kind, questions: after.questions, em_after: f.after, em_gain: f.gain };
    }
    const average = emFigures(reports, 'average');
    const curves = mine.map((r) => devPoints(r.trial.runDir));
    const bySteps = new Map<number, number[]>();
    for (const c of curves) for (const [step, em] of c.points) (bySteps.get(step) ?? bySteps.set(step, []).get(step)!).push(em);
    return {
      name: arm.name,
      description: arm.description,
      set: arm.set,
      seeds: mine.map((r) => r.trial.seed),
      em_before: average.before,
      em_after: average.after,
      em_gain: average.gain,
      splits,
      dev_curve: [...bySteps.entries()].sort((a, b) => a[0] - b[0]).map(([step, ems]) => ({ step, em: ems.reduce((s, x) => s + x, 0) / ems.length, seeds: ems.length })),
      dev_curve_questions: curves.find((c) => c.questions !== null)?.questions ?? null,
      wall_s: summarize(reports.map((r) => r.wall_s)),
    };
  });
  const comparisons = exp.spec.compare.map((c): Comparison => {
    const of = (arm: string) => new Map(trials.filter((r) => r.trial.arm === arm).map((r) => [r.trial.seed, r.report]));
    const [a, b] = [of(c.a), of(c.b)];
    const seeds = exp.spec.seeds.filter((s) => a.has(s) && b.has(s));
    if (seeds.length === 0) throw new Error(`compare ${c.a} with ${c.b}: no seed has a finished run of both arms`);
    const dev = seeds.map((s) => [a.get(s)!.dev_em_after, b.get(s)!.dev_em_after]);
    return {
      a: c.a,
      b: c.b,
      finding: c.finding,
      seeds,
      test_after_diff: summarize(seeds.map((s) => a.get(s)!.em_after - b.get(s)!.em_after)),
      dev_after_diff: dev.every(([x, y]) => typeof x === 'number' && typeof y === 'number') ? summarize(dev.map(([x, y]) => x! - y!)) : null,
    };
  });
  return {
    format: 'cohort-experiment-results/1',
    experiment: exp.spec.name,
    base: path.relative(path.dirname(exp.file), exp.baseFile),
    seeds: exp.spec.seeds,
    arms,
    comparisons,
    runs: trials.map((r) => ({ arm: r.trial.arm, seed: r.trial.seed, run_dir: r.trial.runDir, report: r.report })),
    generated_at: new Date().toISOString(),
  };
}
