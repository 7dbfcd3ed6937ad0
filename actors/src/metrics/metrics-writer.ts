import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Trajectory } from '../trajectory/trajectory.js';

const seconds = () => z.number().nonnegative();
const percent = () => z.number().min(0).max(100);

/** Wall time of each part of a step, in seconds. */
export const stepTimingsSchema = z.strictObject({
  generate: seconds(),
  search: seconds(),
  oldLogprob: seconds(),
  ref: seconds(),
  update: seconds(),
  allreduce: seconds(),
  weightSync: seconds(),
  /** Periodic evaluation (only on steps that evaluate; part of `total`). */
  eval: seconds().optional(),
  /** Critic values and updates (PPO only; the critic updates overlap the learners'). */
  critic: seconds().optional(),
  total: seconds(),
});
export type StepTimings = z.output<typeof stepTimingsSchema>;

/** One line of `runs/<name>/metrics.jsonl`. */
export const stepMetricsSchema = z.strictObject({
  step: z.number().int().nonnegative(),
  time: z.string(),
  policyVersion: z.number().int().nonnegative(),
  trajectories: z.number().int().nonnegative(),
  reward: z.number(),
  rewardStd: z.number().nonnegative(),
  responseLength: z.number().nonnegative(),
  turns: z.number().nonnegative(),
  searches: z.number().nonnegative(),
  answeredShare: z.number().min(0).max(1),
  /** The curriculum's noisy-document probability this step. */
  noiseP: z.number().min(0).max(1),
  /** Observed share of searches that got the noisy prompt. */
  noisyShare: z.number().min(0).max(1),
  timings: stepTimingsSchema,
  /** Simulator batch sizes over the step. */
  simulatorBatch: z.strictObject({ mean: z.number().nonnegative(), max: z.number().int().nonnegative(), batches: z.number().int().nonnegative() }),
  /**
   * The simulators' cost this step: searches answered, seconds inside backend calls (summed over
   * simulators), searches per busy second, and the share of the step's wall time the simulators
   * were busy (busy seconds / (simulators × step seconds); searches overlap generation, so this is
   * an upper bound on what a faster simulator could save). Absent in runs before it was recorded.
   */
  simulator: z
    .strictObject({
      searches: z.number().int().nonnegative(),
      busyS: z.number().nonnegative(),
      searchesPerS: z.number().nonnegative(),
      stepShare: z.number().min(0).max(1),
    })
    .optional(),
  /** Share of the step the learners spent waiting for data. */
  idleRatio: z.number().min(0).max(1),
  loss: z
    .strictObject({
      total: z.number(),
      pg: z.number(),
      kl: z.number(),
      entropy: z.number(),
      clipFraction: z.number().min(0).max(1),
      /** Every scalar the compiled policy loss reports, by its graph name (pg_loss, kl_loss, ..., a plug-in's own, tis_weight), mean over the step's updates. */
      terms: z.record(z.string(), z.number()).optional(),
    })
    .optional(),
  lr: z.number().nonnegative().optional(),
  gradNorm: z.number().nonnegative().optional(),
  /**
   * PPO's critic: mean clipped value loss over the step's updates, mean value and
   * return on policy tokens (values before the updates), explained variance
   * 1 − Var(R − V)/Var(R), and the last update's gradient norm and lr.
   */
  critic: z
    .strictObject({
      valueLoss: z.number().nonnegative(),
      valueMean: z.number(),
      returnMean: z.number(),
      explainedVariance: z.number(),
      gradNorm: z.number().nonnegative().optional(),
      lr: z.number().nonnegative(),
    })
    .optional(),
  /** Rows the updates used (algorithm.params.filterGroups drops rows with all-zero advantages). */
  updateRows: z.number().int().nonnegative().optional(),
  staleness: z
    .strictObject({
      maxLag: z.number().int().nonnegative(),
      meanLag: z.number().nonnegative(),
      dropped: z.number().int().nonnegative(),
      /** The staleness guard: mean |rollout − learner| log-prob of the sampled tokens of the current version, before the update. */
      logprob_gap: z.number().nonnegative().optional(),
      /** k3 estimate of KL(rollout ‖ learner) on the same tokens. */
      kl_k3: z.number().optional(),
      /** Tokens compared. */
      gapTokens: z.number().int().positive().optional(),
    })
    .optional(),
  /**
   * Greedy EM in percent (mean over eval splits) of a periodic evaluation
   * (`eval.every`): a fixed sample of `evalQuestions` questions of the
   * `evalSplit` split (dev during RL; the final test evaluation is report.json's).
   */
  em: percent().optional(),
  /** The same evaluation by question type: mean EM of the single-hop and of the multi-hop splits. */
  emByType: z.strictObject({ 'single-hop': percent().optional(), 'multi-hop': percent().optional() }).optional(),
  /** Questions that evaluation scored (over all splits). */
  evalQuestions: z.number().int().positive().optional(),
  /** The question split the periodic evaluation sampled. */
  evalSplit: z.enum(['train', 'dev', 'test']).optional(),
  /** Questions of that split's pool the sample was drawn from (over all eval splits). */
  evalPool: z.number().int().positive().optional(),
  /**
   * Data movement of the step: the weights learner 0 published (bytes, and how
   * many rollouts read the shared-memory file or got them over the bulk path),
   * and the learners' ring all-reduce (bytes over the step's updates; bus
   * bandwidth bytes·2(W−1)/W ÷ all-reduce seconds in GB/s, 0 with one learner).
   */
  transfer: z
    .strictObject({
      weightSyncBytes: z.number().int().nonnegative(),
      weightSyncShm: z.number().int().nonnegative(),
      weightSyncBulk: z.number().int().nonnegative(),
      allreduceBytes: z.number().int().nonnegative(),
      allreduceBusbw: z.number().nonnegative(),
    })
    .optional(),
  /**
   * The rollouts the step's prompts were split over and the simulators they
   * searched, with the nodes whose elastic share joined or left the pool at
   * the step's start (`layout.elastic`).
   */
  pool: z
    .strictObject({ rollouts: z.number().int().positive(), simulators: z.number().int().nonnegative(), joined: z.array(z.string()).optional(), left: z.array(z.string()).optional() })
    .optional(),
  /** The node each live actor of the job ran on at the end of the step (actor name → node id). */
  nodes: z.record(z.string(), z.string()).optional(),
  /**
   * What was lost during the step and how the run went on: actors the runtime
   * restarted, rollout calls redone, learners (critics) replaced from a peer,
   * a return to the last checkpoint; with the learners' parameter checksums
   * after it (all equal: the learners are bit-identical again).
   */
  recovery: z
    .strictObject({
      events: z.array(
        z.strictObject({
          kind: z.enum(['replaced', 'restored-from-checkpoint', 'restarted', 'redone']),
          role: z.string(),
          actor: z.string(),
          node: z.string().optional(),
          seconds: seconds(),
          detail: z.string().optional(),
        }),
      ),
      learnerChecksums: z.array(z.number()).optional(),
    })
    .optional(),
});
export type StepMetrics = z.output<typeof stepMetricsSchema>;

/** Every field optional, all the way down (what a reader of older or newer step lines may meet). */
export type DeepPartial<T> = T extends readonly (infer E)[] ? readonly E[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** A step as a reader takes it: `step`, and whatever else of {@link StepMetrics} the writer had (unknown fields kept). */
export type StepMetricsRead = { step: number } & DeepPartial<Omit<StepMetrics, 'step'>> & Record<string, unknown>;

/** `s` with every object field optional (recursively) and unknown fields kept; other schemas as they are. */
function relaxed(s: z.ZodType): z.ZodType {
  if (s instanceof z.ZodOptional) return relaxed(s.unwrap() as z.ZodType).optional();
  if (s instanceof z.ZodObject) return z.looseObject(Object.fromEntries(Object.entries(s.shape as Record<string, z.ZodType>).map(([k, v]) => [k, relaxed(v).optional()])));
  return s;
}

/**
 * The reading side of the same contract: {@link stepMetricsSchema}'s fields and
 * types, but only `step` required and unknown fields kept, so consumers (the
 * dashboard's live view and plots) show what an older or newer writer had.
 * Derived here, so the trainer's schema is the one owner of every field.
 */
export const stepMetricsReadSchema: z.ZodType<StepMetricsRead> = z.looseObject({
  ...(relaxed(stepMetricsSchema) as z.ZodObject).shape,
  step: stepMetricsSchema.shape.step,
}) as unknown as z.ZodType<StepMetricsRead>;

/** Means over a step's trajectories (reward, lengths, turns, searches). */
export function summarizeTrajectories(trajectories: readonly Trajectory[]): Pick<StepMetrics, 'trajectories' | 'reward' | 'rewardStd' | 'responseLength' | 'turns' | 'searches' | 'answeredShare' | 'noisyShare'> {
  const n = trajectories.length;
  if (n === 0) return { trajectories: 0, reward: 0, rewardStd: 0, responseLength: 0, turns: 0, searches: 0, answeredShare: 0, noisyShare: 0 };
  const rewards = trajectories.map((t) => t.reward ?? 0);
  const mean = rewards.reduce((s, r) => s + r, 0) / n;
  const variance = n > 1 ? rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / (n - 1) : 0;
  const searches = trajectories.reduce((s, t) => s + t.searches, 0);
  const noisy = trajectories.reduce((s, t) => s + t.noisySearches, 0);
  return {
    trajectories: n,
    reward: mean,
    rewardStd: Math.sqrt(variance),
    responseLength: trajectories.reduce((s, t) => s + t.responseIds.length, 0) / n,
    turns: trajectories.reduce((s, t) => s + t.turns, 0) / n,
    searches: searches / n,
    answeredShare: trajectories.filter((t) => t.answered).length / n,
    noisyShare: searches ? noisy / searches : 0,
  };
}

/**
 * Appends one validated JSON line per step to `<runDir>/metrics.jsonl`
 * (synchronously, so a crash loses at most the line being written).
 */
export class MetricsWriter {
  readonly file: string;
  /** Where an earlier run's metrics.jsonl was moved (a fresh run under the same name), if anywhere. */
  readonly previous: string | undefined;

  /**
   * A fresh run starts an empty `metrics.jsonl`, keeping an earlier run's file
   * beside it as `metrics.<time>.jsonl`; a run resumed at `resumeFrom` keeps
   * the lines of the steps before it (the later ones are redone).
   */
  constructor(runDir: string, opts: { resumeFrom?: number } = {}) {
    mkdirSync(runDir, { recursive: true });
    this.file = path.join(runDir, 'metrics.jsonl');
    if (!existsSync(this.file)) return;
    if (opts.resumeFrom === undefined) {
      if (statSync(this.file).size === 0) return;
      this.previous = path.join(runDir, `metrics.${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
      renameSync(this.file, this.previous);
      return;
    }
    this.truncateFrom(opts.resumeFrom);
  }

  /** Drops the lines of steps `fromStep` and later (the run went back to a checkpoint and redoes them). */
  truncateFrom(fromStep: number): void {
    if (!existsSync(this.file)) return;
    const kept = readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() && (JSON.parse(l) as { step: number }).step < fromStep);
    writeFileSync(this.file, kept.map((l) => `${l}\n`).join(''));
  }

  /** Validates and appends one step's metrics. */
  write(metrics: StepMetrics): void {
    const r = stepMetricsSchema.safeParse(metrics);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new Error(`step metrics for step ${metrics.step}: ${i.path.join('.')}: ${i.message}`);
    }
    appendFileSync(this.file, JSON.stringify(r.data) + '\n');
  }
}
