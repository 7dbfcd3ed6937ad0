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

/** Questions evaluated of one split, and how many its pool holds. */
export const splitSizeSchema = z.strictObject({ evaluated: z.number().int().nonnegative(), pool: z.number().int().nonnegative() });

/** The search simulator the run trained against, with its fidelity when its tune report measured it (null otherwise). */
export const reportSimulatorSchema = z.strictObject({
  backend: z.string(),
  useful_answer_rate: z.number().min(0).max(1).nullable(),
  noisy_answer_rate: z.number().min(0).max(1).nullable(),
  format_ok_rate: z.number().min(0).max(1).nullable(),
  /** Over the run's RL steps (null: no step measured it): searches per second the simulators were busy, and their busy share of step wall time. */
  searches_per_s: z.number().nonnegative().nullable().optional(),
  step_share: z.number().min(0).max(1).nullable().optional(),
});
export type ReportSimulator = z.output<typeof reportSimulatorSchema>;

/** What the control arm did instead of RL: more warm-start SFT for the RL phase's wall time. */
export const controlArmSchema = z.strictObject({
  /** The budget is the RL arm's `stages.rl` wall time (same seed, same machine). */
  budget: z.literal('rl_wall_s'),
  budget_s: z.number().nonnegative(),
  sft_steps: z.number().int().nonnegative(),
  sft_s: z.number().nonnegative(),
  sft_lr: z.number().positive(),
  sft_batch_size: z.number().int().positive(),
});
export type ControlArm = z.output<typeof controlArmSchema>;

/** `runs/<name>/report.json`. EM figures are percentages; `em_*` are the test split's (the final evaluation). */
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
  /** `rl`: the job as configured; `control`: the same start, more warm-start SFT instead of RL. */
  arm: z.enum(['rl', 'control']).default('rl'),
  control: controlArmSchema.optional(),
  /** Questions evaluated per question split, out of its pool (train: the RL prompts). */
  splits_sizes: z.strictObject({ train: splitSizeSchema.optional(), dev: splitSizeSchema.optional(), test: splitSizeSchema.optional() }).optional(),
  /** Average EM over the eval splits on the whole dev split, before / after RL (null when the world has no dev split). */
  dev_em_before: z.number().nullable().optional(),
  dev_em_after: z.number().nullable().optional(),
  dev_splits: z.strictObject({ before: z.array(evalSplitResultSchema), after: z.array(evalSplitResultSchema) }).optional(),
  simulator: reportSimulatorSchema.optional(),
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
  arm?: 'rl' | 'control';
  control?: ControlArm;
  splitsSizes?: Partial<Record<'train' | 'dev' | 'test', { evaluated: number; pool: number }>>;
  /** The same evaluations on the dev split (empty: none). */
  devBefore?: readonly EvalSplitResult[];
  devAfter?: readonly EvalSplitResult[];
  simulator?: ReportSimulator;
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
    arm: input.arm ?? 'rl',
    control: input.control,
    splits_sizes: input.splitsSizes,
    ...(input.devBefore?.length || input.devAfter?.length
      ? {
          dev_em_before: input.devBefore?.length ? summarizeEval(input.devBefore).emAverage : null,
          dev_em_after: input.devAfter?.length ? summarizeEval(input.devAfter).emAverage : null,
          dev_splits: { before: [...(input.devBefore ?? [])], after: [...(input.devAfter ?? [])] },
        }
      : {}),
    simulator: input.simulator,
  });
}

/** Writes `<runDir>/report.json`; returns its path. */
export function writeReport(runDir: string, report: RunReport): string {
  mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, 'report.json');
  writeFileSync(file, JSON.stringify(runReportSchema.parse(report), null, 2) + '\n');
  return file;
}
