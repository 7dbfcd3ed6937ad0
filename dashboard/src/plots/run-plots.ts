import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseTrainingStep, type TrainingStep } from '../training-feed.js';
import { barChartSvg, lineChartSvg, type BarGroup, type LineSeries } from './svg-chart.js';

const splitSchema = z.looseObject({ split: z.string(), kind: z.string(), em: z.number(), coverEm: z.number().optional() });

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

/**
 * EM curve: EM evaluated during training (steps with `em`) between the
 * report's before (step 0) and after (last step) figures, per question type.
 */
export function emPlot(steps: readonly TrainingStep[], report: PlotReport | undefined, run = ''): string {
  const last = report?.steps ?? (steps.at(-1)?.step ?? 0) + 1;
  // x is updates done: a step's evaluation runs after its update (step index + 1); before RL is 0, after is the run's step count
  const during = steps.filter((s) => s.em !== undefined).map((s) => [s.step + 1, s.em!] as [number, number]);
  const duringOf = (type: string) => steps.filter((s) => s.emByType?.[type] !== undefined).map((s) => [s.step + 1, s.emByType![type]] as [number, number]);
  const series: LineSeries[] = [];
  if (report || during.length) {
    const avg: Array<[number, number]> = [];
    if (report) avg.push([0, report.em_before]);
    avg.push(...during);
    if (report) avg.push([last, report.em_after]);
    series.push({ name: 'EM (all splits)', points: avg, markers: true });
  }
  const byType = (name: string, type: string, before?: number, after?: number) => {
    const points: Array<[number, number]> = [];
    if (before !== undefined) points.push([0, before]);
    points.push(...duringOf(type));
    if (after !== undefined) points.push([last, after]);
    if (points.length) series.push({ name, points, markers: true });
  };
  byType('single-hop', 'single-hop', report?.em_singlehop_before, report?.em_singlehop_after);
  byType('multi-hop', 'multi-hop', report?.em_twohop_before, report?.em_twohop_after);
  return lineChartSvg({ title: `Exact match${run ? ` · ${run}` : ''}`, xLabel: 'step', yLabel: 'EM (%)', series });
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
  return barChartSvg({ title: `EM before / after RL by question type${run ? ` · ${run}` : ''}`, yLabel: 'EM (%)', groups });
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
