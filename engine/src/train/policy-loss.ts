import { z } from 'zod';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { onesLike } from '../ops/fill.js';
import { sum } from '../ops/reduce.js';
import { cumsum } from '../ops/scan.js';
import { cast } from '../ops/where.js';
import { AGGREGATIONS, KL_TYPES, aggregate, klPenalty, ppoClipLoss, type Aggregation, type KlType } from './losses.js';

/**
 * What a policy loss is built from: per-token tensors [B, T] of one micro-batch, where row b is
 * sequence b and position t concerns the token at t + 1 (padding and prompt positions have
 * mask 0). `logprobs` and `entropy` carry the gradient; the rest are data.
 */
export interface PolicyLossInputs {
  /** Log-probabilities of the sampled tokens under the policy being trained. */
  readonly logprobs: Tensor;
  /** Log-probabilities under the policy the ratio is taken against (recomputed before the update). */
  readonly oldLogprobs: Tensor;
  /** Reference-policy log-probabilities (equal to `oldLogprobs` when none were given). */
  readonly refLogprobs: Tensor;
  /** Log-probabilities the rollout recorded when it sampled (equal to `oldLogprobs` when none were given). */
  readonly rolloutLogprobs: Tensor;
  readonly advantages: Tensor;
  /** 1 on tokens the policy is trained on, 0 on prompt, environment tokens and padding. */
  readonly mask: Tensor;
  /** Sequence id of each position (its row), int64 [B, T]. */
  readonly seqIds: Tensor;
  /** Entropy of the predictive distribution at each position. */
  readonly entropy: Tensor;
  /**
   * Gradient-free per-token importance weights (ones unless a wrapper such as truncated
   * importance sampling sets them); token-level losses multiply their per-token term by them.
   */
  readonly weights: Tensor;
  /** The same at sequence level, [B, 1] (for sequence-level losses such as GSPO). */
  readonly seqWeights: Tensor;
}

/** What a policy loss returns: the scalar to minimise and scalar metrics (graph outputs by name). */
export interface PolicyLossOutput {
  loss: Tensor;
  /** Scalars reported with every step, e.g. `pg_loss`, `kl_loss`, `entropy_loss`, `clip_frac`. */
  metrics?: Record<string, Tensor>;
}

/**
 * A policy loss as a function over graph ops, compiled once into the training graph (the
 * model's trunk and log-prob head feed its inputs, autodiff differentiates its output).
 */
export interface PolicyLoss {
  /** Short name for messages. */
  readonly name: string;
  /**
   * Identifies the compiled graph: two losses with the same key must build the same graph
   * (put every setting `build` reads into it). The training session is cached by it.
   */
  readonly key: string;
  /** Inputs the batch must carry for this loss (the others are filled in). */
  readonly requires?: readonly ('refLogprobs' | 'rolloutLogprobs')[];
  build(x: PolicyLossInputs): PolicyLossOutput;
}

const METRIC_NAME = /^[a-z][a-z0-9_]*$/;
/** Graph output names a loss's metrics may not take. */
const RESERVED = new Set(['loss', 'logprobs', 'entropy', 'd_logprobs', 'd_entropy']);

/** Per-token feed names of a policy-loss graph, by input. */
export const POLICY_LOSS_FEEDS = {
  mask: 'loss_mask',
  advantages: 'advantages',
  oldLogprobs: 'old_logprobs',
  refLogprobs: 'ref_logprobs',
  rolloutLogprobs: 'rollout_logprobs',
} as const;

/**
 * Declares the per-token data inputs ([batch, seq] float32) in `g` and returns the loss inputs
 * around the given `logprobs` and `entropy`. `seqIds`, `weights` and `seqWeights` are built in
 * the graph only when a loss reads them.
 */
export function declarePolicyLossInputs(g: Graph, logprobs: Tensor, entropy: Tensor, dims: readonly [string, string] = ['batch', 'seq']): PolicyLossInputs {
  const inp = (name: string) => g.input(name, 'float32', [...dims]);
  const mask = inp(POLICY_LOSS_FEEDS.mask);
  const advantages = inp(POLICY_LOSS_FEEDS.advantages);
  const oldLogprobs = inp(POLICY_LOSS_FEEDS.oldLogprobs);
  const refLogprobs = inp(POLICY_LOSS_FEEDS.refLogprobs);
  const rolloutLogprobs = inp(POLICY_LOSS_FEEDS.rolloutLogprobs);
  let seqIds: Tensor | undefined;
  let weights: Tensor | undefined;
  let seqWeights: Tensor | undefined;
  return {
    logprobs,
    entropy,
    mask,
    advantages,
    oldLogprobs,
    refLogprobs,
    rolloutLogprobs,
    get seqIds() {
      return (seqIds ??= cast(sub(cumsum(onesLike(mask), 0), 1), 'int64'));
    },
    get weights() {
      return (weights ??= onesLike(mask));
    },
    get seqWeights() {
      return (seqWeights ??= onesLike(sum(mask, 1, true)));
    },
  };
}

/** Builds `loss` on `x` in `g`, checks it and adds the outputs `loss` and one per metric. */
export function emitPolicyLoss(g: Graph, loss: PolicyLoss, x: PolicyLossInputs): Tensor {
  let out: PolicyLossOutput;
  try {
    out = loss.build(x);
  } catch (err) {
    throw new Error(`policy loss "${loss.name}" failed to build its graph: ${(err as Error).message}`);
  }
  if (!out || !out.loss || out.loss.graph !== g) throw new Error(`policy loss "${loss.name}": build() must return { loss } built from the inputs it was given`);
  if (out.loss.rank !== 0) throw new Error(`policy loss "${loss.name}": the loss must be a scalar, got shape [${out.loss.shape.join(', ')}]; reduce it (e.g. aggregate(x, mask, 'token-mean'))`);
  g.output('loss', out.loss);
  for (const [name, t] of Object.entries(out.metrics ?? {})) {
    if (!METRIC_NAME.test(name) || RESERVED.has(name) || name.startsWith('grad')) {
      throw new Error(`policy loss "${loss.name}": metric name "${name}" must be snake_case and not one of ${[...RESERVED].join(', ')} or grad*`);
    }
    if (t.rank !== 0) throw new Error(`policy loss "${loss.name}": metric "${name}" must be a scalar, got shape [${t.shape.join(', ')}]`);
    g.output(name, t);
  }
  return out.loss;
}

/** Options of the built-in PPO-clip policy loss (veRL / OpenRLHF names in comments). */
export const policyLossOptionsSchema = z
  .object({
    /** PPO clip ε (clip_ratio). */
    clipRatio: z.number().gt(0).lt(1).default(0.2),
    /** Asymmetric clip (clip_ratio_low / clip_ratio_high; DAPO's clip-higher); default clipRatio. */
    clipRatioLow: z.number().gt(0).lt(1).optional(),
    clipRatioHigh: z.number().gt(0).optional(),
    /** Dual-clip constant c > 1 (clip_ratio_c) for negative advantages; null disables. */
    dualClip: z.number().gt(1, 'dualClip must be > 1 (typically 3)').nullable().default(3),
    /** Coefficient of the KL penalty ADDED to the loss (use_kl_loss / kl_loss_coef). 0 disables. */
    klCoef: z.number().min(0).default(0),
    klType: z.enum(KL_TYPES).default('low_var_kl'),
    /** Per-token clamp of the KL estimate (±klClamp). */
    klClamp: z.number().gt(0).default(10),
    /** Entropy bonus (entropy_coeff): loss −= coef · entropy. */
    entropyCoef: z.number().min(0).default(0),
    aggregation: z.enum(AGGREGATIONS).default('token-mean'),
    /** The constant of `seq-mean-token-sum-norm` (e.g. the response token budget). */
    normTokens: z.number().gt(0).optional(),
  })
  .strict()
  .refine((o) => o.aggregation !== 'seq-mean-token-sum-norm' || o.normTokens !== undefined, {
    message: 'aggregation seq-mean-token-sum-norm needs normTokens (the constant each sequence\'s token sum is divided by)',
    path: ['normTokens'],
  });
export type PolicyLossOptions = z.input<typeof policyLossOptionsSchema>;
export type PolicyLossConfig = z.output<typeof policyLossOptionsSchema>;

/** Settings of the KL penalty and entropy bonus added to a policy-gradient term. */
export interface Regularizers {
  klCoef: number;
  klType: KlType;
  klClamp: number;
  entropyCoef: number;
  aggregation: Aggregation;
  normTokens?: number;
}

/**
 * `pg + klCoef · agg(KL(logp ‖ ref)) − entropyCoef · agg(H)`, with the KL and entropy
 * aggregated like the policy-gradient term, and the metrics `pg_loss`, `kl_loss`,
 * `entropy_loss`. The KL is *added* (the ZeroSearch reference subtracts it: a bug).
 */
export function withRegularizers(pg: Tensor, x: PolicyLossInputs, r: Regularizers): PolicyLossOutput & { metrics: Record<string, Tensor> } {
  const kl = aggregate(klPenalty(x.logprobs, x.refLogprobs, r.klType, r.klClamp), x.mask, r.aggregation, r.normTokens);
  const ent = aggregate(x.entropy, x.mask, r.aggregation, r.normTokens);
  let loss = pg;
  if (r.klCoef > 0) loss = add(loss, mul(kl, r.klCoef));
  if (r.entropyCoef > 0) loss = add(loss, mul(ent, -r.entropyCoef));
  return { loss, metrics: { pg_loss: pg, kl_loss: kl, entropy_loss: ent } };
}

/**
 * The built-in PPO-clip policy loss: per-token clipped surrogate (asymmetric clip, dual clip),
 * times the per-token importance weights, aggregated, plus the KL penalty and entropy bonus.
 * Metrics: `pg_loss`, `kl_loss`, `entropy_loss`, `clip_frac` (token share on the clipped branch).
 */
export function ppoPolicyLoss(options: PolicyLossOptions = {}): PolicyLoss & { readonly options: PolicyLossConfig } {
  const r = policyLossOptionsSchema.safeParse(options);
  if (!r.success) throw new Error(`invalid policy loss options: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const o = r.data;
  return {
    name: 'ppo-clip',
    key: `ppo-clip:${JSON.stringify(o)}`,
    options: o,
    requires: o.klCoef > 0 ? ['refLogprobs'] : [],
    build(x) {
      const { loss: pgTok, clipped } = ppoClipLoss(x.logprobs, x.oldLogprobs, x.advantages, o);
      const pg = aggregate(mul(pgTok, x.weights), x.mask, o.aggregation, o.normTokens);
      const out = withRegularizers(pg, x, o);
      return { loss: out.loss, metrics: { ...out.metrics, clip_frac: aggregate(clipped, x.mask, 'token-mean') } };
    },
  };
}
