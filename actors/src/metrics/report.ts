import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Evaluation of one held-out split. Scores are percentages (0–100). */
export const evalSplitResultSchema = z.strictObject({
  split: z.string().min(1),
  kind: z.enum(['single-hop', 'multi-hop']),
  questions: z.number().int().positive(),
  /** True exact match after normalisation, in percent. */
  em: z.number().min(0).max(100),
  /** Cover match (normalised gold is a substring of the prediction): the reference's "EM", in percent. */
  coverEm: z.number().min(0).max(100),
  turnsPerQuestion: z.number().nonnegative(),
  searchesPerQuestion: z.number().nonnegative(),
});
export type EvalSplitResult = z.output<typeof evalSplitResultSchema>;

/** Aggregates of one evaluation pass (before or after RL). */
export interface EvalSummary {
  /** Mean EM over single-hop splits (percent). */
  emSingleHop: number;
  /** Mean EM over multi-hop splits (percent). */
  emMultiHop: number;
  /** Mean EM over all splits, the paper's "average" (percent). */
  emAverage: number;
  coverEmAverage: number;
  turnsPerQuestion: number;
  searchesPerQuestion: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

/** Averages split results the way the paper does (mean over datasets); per-question counts weight by questions. */
export function summarizeEval(splits: readonly EvalSplitResult[]): EvalSummary {
  if (splits.length === 0) throw new Error('summarizeEval: no split results; evaluate at least one split');
  const q = splits.reduce((s, x) => s + x.questions, 0);
  return {
    emSingleHop: mean(splits.filter((s) => s.kind === 'single-hop').map((s) => s.em)),
    emMultiHop: mean(splits.filter((s) => s.kind === 'multi-hop').map((s) => s.em)),
    emAverage: mean(splits.map((s) => s.em)),
    coverEmAverage: mean(splits.map((s) => s.coverEm)),
    turnsPerQuestion: splits.reduce((s, x) => s + x.turnsPerQuestion * x.questions, 0) / q,
    searchesPerQuestion: splits.reduce((s, x) => s + x.searchesPerQuestion * x.questions, 0) / q,
  };
}

/** `runs/<name>/report.json`. EM figures are percentages. */
export const runReportSchema = z.strictObject({
  run: z.string(),
  seed: z.number().int().nonnegative(),
  algorithm: z.string(),
  configSha256: z.string().optional(),
  steps: z.number().int().nonnegative(),
  /** Average EM over all eval splits before / after RL. */
  em_before: z.number(),
  em_after: z.number(),
  em_singlehop_before: z.number(),
  em_singlehop_after: z.number(),
  em_twohop_before: z.number(),
  em_twohop_after: z.number(),
  cover_em_before: z.number(),
  cover_em_after: z.number(),
  em_gain: z.number(),
  turns_per_question_before: z.number(),
  turns_per_question_after: z.number(),
  searches_per_question_before: z.number(),
  searches_per_question_after: z.number(),
  wall_s: z.number().nonnegative(),
  /** Per-stage wall time in seconds (world, simulator tuning, warm start, eval, RL). */
  stages: z.record(z.string(), z.number().nonnegative()).default({}),
  splits: z.strictObject({ before: z.array(evalSplitResultSchema), after: z.array(evalSplitResultSchema) }),
});
export type RunReport = z.output<typeof runReportSchema>;

export interface BuildReportInput {
  run: string;
  seed: number;
  algorithm: string;
  configSha256?: string;
  steps: number;
  wallS: number;
  stages?: Record<string, number>;
  before: readonly EvalSplitResult[];
  after: readonly EvalSplitResult[];
}

/** Builds and validates the run report from the two evaluation passes. */
export function buildReport(input: BuildReportInput): RunReport {
  const b = summarizeEval(input.before);
  const a = summarizeEval(input.after);
  return runReportSchema.parse({
    run: input.run,
    seed: input.seed,
    algorithm: input.algorithm,
    configSha256: input.configSha256,
    steps: input.steps,
    em_before: b.emAverage,
    em_after: a.emAverage,
    em_singlehop_before: b.emSingleHop,
    em_singlehop_after: a.emSingleHop,
    em_twohop_before: b.emMultiHop,
    em_twohop_after: a.emMultiHop,
    cover_em_before: b.coverEmAverage,
    cover_em_after: a.coverEmAverage,
    em_gain: a.emAverage - b.emAverage,
    turns_per_question_before: b.turnsPerQuestion,
    turns_per_question_after: a.turnsPerQuestion,
    searches_per_question_before: b.searchesPerQuestion,
    searches_per_question_after: a.searchesPerQuestion,
    wall_s: input.wallS,
    stages: input.stages ?? {},
    splits: { before: [...input.before], after: [...input.after] },
  });
}

/** Writes `<runDir>/report.json`; returns its path. */
export function writeReport(runDir: string, report: RunReport): string {
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, 'report.json');
  writeFileSync(file, JSON.stringify(runReportSchema.parse(report), null, 2) + '\n');
  return file;
}
