import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { RunReport } from './report.js';
import { summarize, type SampleSummary } from './stats.js';

/** A {@link SampleSummary} over seeds (std 0 and a zero-width CI for one seed). */
const summarySchema = z.strictObject({
  n: z.number().int().positive(),
  mean: z.number(),
  std: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
  halfWidth95: z.number(),
  min: z.number(),
  max: z.number(),
});
type Summary = z.output<typeof summarySchema>;
const summarizeSeeds = (xs: readonly number[]): Summary => {
  const s = summarize(xs);
  return { ...s, ci95: [s.ci95[0], s.ci95[1]] };
};

/** Mean, std and 95% CI over seeds of EM before, after and of the gain (percent points). */
const armFiguresSchema = z.strictObject({ before: summarySchema, after: summarySchema, gain: summarySchema });

/** One seed's figures (test split; dev where the reports have it). */
const seedRowSchema = z.strictObject({
  seed: z.number().int().nonnegative(),
  run: z.string(),
  em_before: z.number(),
  em_after: z.number(),
  em_gain: z.number(),
  dev_em_before: z.number().nullable(),
  dev_em_after: z.number().nullable(),
  rl_s: z.number().nonnegative().nullable(),
  wall_s: z.number().nonnegative(),
  control: z
    .strictObject({ run: z.string(), em_after: z.number(), em_gain: z.number(), dev_em_after: z.number().nullable(), sft_steps: z.number().int().nonnegative(), sft_s: z.number().nonnegative(), wall_s: z.number().nonnegative() })
    .nullable(),
});

/**
 * `runs/<name>/seeds.json`: the job run once per seed (`cohort train CONFIG
 * --seeds 7,8,9`), with mean, sample std and Student-t 95% CI over the seeds of
 * the test EM before, after and of the gain, per eval split and for the
 * average; the same for the control arm (more warm-start SFT for the RL
 * phase's wall time instead of RL) when it ran; and the dev EM averages.
 */
export const seedsReportSchema = z.strictObject({
  run: z.string(),
  configSha256: z.string().optional(),
  seeds: z.array(z.number().int().nonnegative()).min(1),
  /** How the control arm's compute was matched to the RL phase's (null: no control arm). */
  control_budget: z.literal('rl_wall_s').nullable(),
  runs: z.array(seedRowSchema),
  /** Test figures: by eval split name, and `average` (the mean over splits, as report.json's em_*). */
  test: z.record(z.string(), armFiguresSchema),
  control_test: z.record(z.string(), armFiguresSchema).nullable(),
  /** Dev-split averages (null when the reports have no dev evaluation). */
  dev: armFiguresSchema.nullable(),
  control_dev: armFiguresSchema.nullable(),
  em_gain_mean: z.number(),
  em_gain_std: z.number(),
  em_gain_ci95: z.tuple([z.number(), z.number()]),
  control_em_gain_mean: z.number().nullable(),
  control_em_gain_std: z.number().nullable(),
  control_em_gain_ci95: z.tuple([z.number(), z.number()]).nullable(),
});
export type SeedsReport = z.output<typeof seedsReportSchema>;

/** One seed's reports: the RL arm's, and the control arm's when it ran. */
export interface SeedRuns {
  seed: number;
  rl: RunReport;
  control?: RunReport;
}

/** EM of a named split in a report's before/after list (the average when `split` is "average"). */
function emOf(r: RunReport, when: 'before' | 'after', split: string): number {
  if (split === 'average') return when === 'before' ? r.em_before : r.em_after;
  const s = r.splits[when].find((x) => x.split === split);
  if (!s) throw new Error(`run ${r.run} has no eval split "${split}" ${when} RL; every seed must evaluate the same splits`);
  return s.em;
}

/** EM before, after and gain of runs over seeds, for one eval split or the `average` (the one aggregation of `seeds.json` and `cohort experiment`). */
export type EmFigures = z.output<typeof armFiguresSchema>;

/** {@link EmFigures} of `reports` for `split` (a split name, or `average`). */
export function emFigures(reports: readonly RunReport[], split: string): EmFigures {
  const b = reports.map((r) => emOf(r, 'before', split));
  const a = reports.map((r) => emOf(r, 'after', split));
  return { before: summarizeSeeds(b), after: summarizeSeeds(a), gain: summarizeSeeds(a.map((x, i) => x - b[i])) };
}

function devFigures(reports: readonly RunReport[]): z.output<typeof armFiguresSchema> | null {
  if (!reports.every((r) => typeof r.dev_em_before === 'number' && typeof r.dev_em_after === 'number')) return null;
  const b = reports.map((r) => r.dev_em_before as number);
  const a = reports.map((r) => r.dev_em_after as number);
  return { before: summarizeSeeds(b), after: summarizeSeeds(a), gain: summarizeSeeds(a.map((x, i) => x - b[i])) };
}

/** Builds and validates the multi-seed report (every seed with a control, or none). */
export function buildSeedsReport(run: string, runs: readonly SeedRuns[], configSha256?: string): SeedsReport {
  if (runs.length === 0) throw new Error('buildSeedsReport: no seeds ran');
  const withControl = runs.filter((r) => r.control).length;
  if (withControl !== 0 && withControl !== runs.length) throw new Error(`buildSeedsReport: ${withControl} of ${runs.length} seeds have a control arm; give every seed one or none`);
  const rl = runs.map((r) => r.rl);
  const ctl = withControl ? runs.map((r) => r.control!) : null;
  const names = ['average', ...rl[0].splits.after.map((s) => s.split)];
  const by = (reports: readonly RunReport[]) => Object.fromEntries(names.map((n) => [n, emFigures(reports, n)]));
  const test = by(rl);
  const controlTest = ctl ? by(ctl) : null;
  const g: Summary = test.average.gain;
  const cg: Summary | null = controlTest ? controlTest.average.gain : null;
  return seedsReportSchema.parse({
    run,
    configSha256,
    seeds: runs.map((r) => r.seed),
    control_budget: ctl ? 'rl_wall_s' : null,
    runs: runs.map(({ seed, rl: r, control: c }) => ({
      seed,
      run: r.run,
      em_before: r.em_before,
      em_after: r.em_after,
      em_gain: r.em_after - r.em_before,
      dev_em_before: r.dev_em_before ?? null,
      dev_em_after: r.dev_em_after ?? null,
      rl_s: r.stages.rl ?? null,
      wall_s: r.wall_s,
      control: c
        ? { run: c.run, em_after: c.em_after, em_gain: c.em_after - c.em_before, dev_em_after: c.dev_em_after ?? null, sft_steps: c.control?.sft_steps ?? c.steps, sft_s: c.control?.sft_s ?? 0, wall_s: c.wall_s }
        : null,
    })),
    test,
    control_test: controlTest,
    dev: devFigures(rl),
    control_dev: ctl ? devFigures(ctl) : null,
    em_gain_mean: g.mean,
    em_gain_std: g.std,
    em_gain_ci95: g.ci95,
    control_em_gain_mean: cg?.mean ?? null,
    control_em_gain_std: cg?.std ?? null,
    control_em_gain_ci95: cg?.ci95 ?? null,
  });
}

/** Writes `<dir>/seeds.json`; returns its path. */
export function writeSeedsReport(dir: string, report: SeedsReport): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'seeds.json');
  writeFileSync(file, JSON.stringify(seedsReportSchema.parse(report), null, 2) + '\n');
  return file;
}

const pm = (s: SampleSummary) => `${s.mean.toFixed(1)} ± ${s.n > 1 ? s.std.toFixed(1) : '—'}`;
const ci = (s: SampleSummary) => (s.n > 1 ? `[${s.ci95[0].toFixed(1)}, ${s.ci95[1].toFixed(1)}]` : '—');

/** The short text table `cohort train --seeds` prints: mean ± std and CI95 per split, RL and control. */
export function formatSeedsTable(r: SeedsReport): string {
  const rows: string[][] = [];
  const add = (label: string, f: z.output<typeof armFiguresSchema>) => rows.push([label, pm(f.before), pm(f.after), pm(f.gain), ci(f.gain)]);
  for (const [name, f] of Object.entries(r.test)) add(`test ${name}`, f);
  if (r.control_test) for (const [name, f] of Object.entries(r.control_test)) add(`control test ${name}`, f);
  if (r.dev) add('dev average', r.dev);
  if (r.control_dev) add('control dev average', r.control_dev);
  const header = ['EM (%)', 'before', 'after', 'gain', 'gain CI95'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((x) => x[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [
    `${r.run}: seeds ${r.seeds.join(', ')} (mean ± sample std, Student-t 95% CI over ${r.seeds.length} seeds)${r.control_budget ? '; control: warm-start SFT for the RL phase\'s wall time' : ''}`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ].join('\n') + '\n';
}
