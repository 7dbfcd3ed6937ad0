import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseTrainingStep, type TrainingStep } from '../training-feed.js';
import { barChartSvg, lineChartSvg, type BarGroup, type LineSeries } from './svg-chart.js';

const splitSchema = z.looseObject({ split: z.string(), kind: z.string(), em: z.number(), coverEm: z.number().optional(), questions: z.number().optional() });
const splitSizeSchema = z.looseObject({ evaluated: z.number(), pool: z.number() });

/** The fields of `runs/<name>/report.json` the plots read (see `@cohort/actors` RunReport). */
export const plotReportSchema = z.looseObject({
  run: z.string().optional(),
  steps: z.number().optional(),
  em_before: z.number(),
  em_after: z.number(),
  em_singlehop_before: z.number().optional(),
  em_singlehop_after: z.number().optional(),
  em_twohop_before: z.number().optional(),
  em_twohop_after: z.number().optional(),
  splits: z.looseObject({ before: z.array(splitSchema), after: z.array(splitSchema) }).optional(),
  /** Whole-dev-split EM before / after RL (reports since the dev split). */
  dev_em_before: z.number().optional(),
  dev_em_after: z.number().optional(),
  splits_sizes: z.looseObject({ train: splitSizeSchema.optional(), dev: splitSizeSchema.optional(), test: splitSizeSchema.optional() }).optional(),
});
export type PlotReport = z.output<typeof plotReportSchema>;

/** Reads `metrics.jsonl`; a bad line is an error naming the file and line. */
export function readMetricsJsonl(file: string): TrainingStep[] {
  const out: TrainingStep[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new Error(`${file}:${i + 1}: not JSON (each line must be one step's metrics object)`);
      }
      out.push(parseTrainingStep(v, `${file}:${i + 1}`));
    });
  return out;
}

/** Reads and checks `report.json`. */
export function readPlotReport(file: string): PlotReport {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  const r = plotReportSchema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${file}: ${i.path.join('.') || '(top)'}: ${i.message} (expected a run report with em_before/em_after and splits)`);
  }
  return r.data;
}

/** Reward curve (mean ± nothing; std as its own line) over steps. */
export function rewardPlot(steps: readonly TrainingStep[], run = ''): string {
  const series: LineSeries[] = [{ name: 'mean reward', points: steps.filter((s) => s.reward !== undefined).map((s) => [s.step, s.reward!]) }];
  if (steps.some((s) => s.rewardStd !== undefined)) series.push({ name: 'reward std', points: steps.filter((s) => s.rewardStd !== undefined).map((s) => [s.step, s.rewardStd!]) });
  return lineChartSvg({ title: `Reward${run ? ` · ${run}` : ''}`, xLabel: 'step', yLabel: 'reward', series });
}

/** How the points of a periodic evaluation are labelled: "dev EM, 8 questions sampled of 36". */
function sampleLabel(steps: readonly TrainingStep[]): string {
  const evals = steps.filter((s) => s.em !== undefined);
  const split = evals.find((s) => s.evalSplit)?.evalSplit ?? 'held-out';
  const n = Math.max(0, ...evals.map((s) => s.evalQuestions ?? 0));
  const pool = Math.max(0, ...evals.map((s) => s.evalPool ?? 0));
  return `${split} EM, ${n ? `${n} questions sampled` : 'a sample'}${pool ? ` of ${pool}` : ''}`;
}

/**
 * EM curve. Two kinds of points, drawn and named apart so one is not read as
 * the other: the periodic evaluation during RL (a fixed sample of the dev
 * split, `eval.every`; x = updates done), and the final evaluations of
 * report.json before (x = 0) and after (x = the run's steps) RL: the whole
 * test split, and the whole dev split when the report has it. Each name says
 * the split and how many questions its points cover.
 */
export function emPlot(steps: readonly TrainingStep[], report: PlotReport | undefined, run = ''): string {
  const last = report?.steps ?? (steps.at(-1)?.step ?? 0) + 1;
  // x is updates done: a step's evaluation runs after its update (step index + 1)
  const during = steps.filter((s) => s.em !== undefined).map((s) => [s.step + 1, s.em!] as [number, number]);
  const duringOf = (type: 'single-hop' | 'multi-hop') => steps.filter((s) => s.emByType?.[type] !== undefined).map((s) => [s.step + 1, s.emByType![type]!] as [number, number]);
  const series: LineSeries[] = [];
  const label = sampleLabel(steps);
  if (during.length) {
    series.push({ name: `${label} (during RL)`, points: during, markers: true });
    for (const type of ['single-hop', 'multi-hop'] as const) {
      const pts = duringOf(type);
      if (pts.length) series.push({ name: `${label.split(',')[0]} ${type}, sampled`, points: pts, markers: true });
    }
  }
  if (report) {
    const tested = (report.splits?.after ?? []).reduce((a, x) => a + (x.questions ?? 0), 0);
    series.push({ name: `test EM before / after RL${tested ? ` (${tested} questions)` : ''}`, points: [[0, report.em_before], [last, report.em_after]], markers: true });
    if (report.dev_em_before !== undefined && report.dev_em_after !== undefined) {
      const devN = report.splits_sizes?.dev?.evaluated;
      series.push({ name: `dev EM before / after RL${devN ? ` (${devN} questions)` : ''}`, points: [[0, report.dev_em_before], [last, report.dev_em_after]], markers: true });
    }
  }
  return lineChartSvg({ title: `Exact match${run ? ` · ${run}` : ''}: dev sample during RL, test before / after`, xLabel: 'RL updates done', yLabel: 'EM (%)', series });
}

/** EM before and after RL by question type: one group per split plus the single-/multi-hop means. */
export function emByTypePlot(report: PlotReport, run = ''): string {
  const groups: BarGroup[] = [];
  const before = new Map((report.splits?.before ?? []).map((s) => [s.split, s]));
  const after = new Map((report.splits?.after ?? []).map((s) => [s.split, s]));
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const kind = (before.get(name) ?? after.get(name))!.kind;
    groups.push({ label: `${name} (${kind})`, values: [{ name: 'before', value: before.get(name)?.em ?? NaN }, { name: 'after', value: after.get(name)?.em ?? NaN }] });
  }
  if (report.em_singlehop_before !== undefined) groups.push({ label: 'single-hop mean', values: [{ name: 'before', value: report.em_singlehop_before }, { name: 'after', value: report.em_singlehop_after ?? NaN }] });
  if (report.em_twohop_before !== undefined) groups.push({ label: 'multi-hop mean', values: [{ name: 'before', value: report.em_twohop_before }, { name: 'after', value: report.em_twohop_after ?? NaN }] });
  groups.push({ label: 'average', values: [{ name: 'before', value: report.em_before }, { name: 'after', value: report.em_after }] });
  return barChartSvg({ title: `Test EM before / after RL by question type${run ? ` · ${run}` : ''}`, yLabel: 'EM (%)', groups });
}

/** Files {@link writeRunPlots} wrote. */
export interface RunPlots {
  reward?: string;
  em?: string;
  emByType?: string;
}

/**
 * Writes the run's plots as SVG into `runDir`: `reward.svg` (from
 * `metrics.jsonl`), `em.svg` (EM curve) and `em-by-type.svg` (before/after
 * by question type, from `report.json`). Plots whose inputs are missing are
 * skipped; returns the paths written.
 */
export function writeRunPlots(runDir: string): RunPlots {
  const mFile = path.join(runDir, 'metrics.jsonl');
  const rFile = path.join(runDir, 'report.json');
  const steps = existsSync(mFile) ? readMetricsJsonl(mFile) : [];
  const report = existsSync(rFile) ? readPlotReport(rFile) : undefined;
  if (!steps.length && !report) throw new Error(`${runDir}: neither metrics.jsonl nor report.json is there; run training first (cohort train CONFIG)`);
  const run = report?.run ?? path.basename(path.resolve(runDir));
  const out: RunPlots = {};
  const write = (name: string, svg: string) => {
    const f = path.join(runDir, name);
    writeFileSync(f, svg);
    return f;
  };
  if (steps.length) out.reward = write('reward.svg', rewardPlot(steps, run));
  if (report || steps.some((s) => s.em !== undefined)) out.em = write('em.svg', emPlot(steps, report, run));
  if (report) out.emByType = write('em-by-type.svg', emByTypePlot(report, run));
  return out;
}
