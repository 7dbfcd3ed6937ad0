import { z } from 'zod';
import type { Tensor } from '../graph/tensor.js';
import { add, div, maximum, minimum, mul, sub } from '../ops/elementwise.js';
import { less, greater } from '../ops/compare.js';
import { mean, sum } from '../ops/reduce.js';
import { exp, neg, square, stopGradient } from '../ops/unary.js';
import { cast, clip, where } from '../ops/where.js';

/**
 * How per-token losses [B, T] are reduced to a scalar (veRL's `loss_agg_mode`):
 * - `token-mean`: mean over every unmasked token of the batch;
 * - `seq-mean-token-sum`: sum over a sequence's tokens, mean over sequences;
 * - `seq-mean-token-mean`: mean over a sequence's tokens, mean over sequences;
 * - `seq-mean-token-sum-norm`: token sum divided by a constant (`normTokens`), mean over
 *   sequences (Dr. GRPO: no per-length weighting).
 * Sequences without unmasked tokens still count in the means over sequences.
 */
export const AGGREGATIONS = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
/** The aggregations that need no constant (SFT and value losses take these). */
export type BasicAggregation = Exclude<Aggregation, 'seq-mean-token-sum-norm'>;

/**
 * KL penalty estimators of log π/π_ref per token: k1 = Δ, k2 = ½Δ², k3 ("low_var_kl") =
 * e^{-Δ} + Δ − 1 (Δ = logp − ref), each clamped to ±clamp.
 */
export const KL_TYPES = ['k1', 'k2', 'k3', 'low_var_kl'] as const;
export type KlType = (typeof KL_TYPES)[number];

/** Reduces per-token values x [B, T] under a 0/1 mask [B, T] to a scalar. */
export function aggregate(x: Tensor, mask: Tensor, mode: Aggregation, normTokens?: number): Tensor {
  const xm = mul(x, mask);
  switch (mode) {
    case 'token-mean':
      return div(sum(xm), maximum(sum(mask), 1));
    case 'seq-mean-token-sum':
      return mean(sum(xm, 1));
    case 'seq-mean-token-mean':
      return mean(div(sum(xm, 1), maximum(sum(mask, 1), 1)));
    case 'seq-mean-token-sum-norm':
      if (!(normTokens !== undefined && normTokens > 0)) throw new Error('aggregate: seq-mean-token-sum-norm needs normTokens > 0 (the constant a sequence\'s token sum is divided by)');
      return mul(mean(sum(xm, 1)), 1 / normTokens);
  }
}

/** Per-sequence sum of x [B, T] under the mask, [B, 1]. */
export function seqSum(x: Tensor, mask: Tensor): Tensor {
  return sum(mul(x, mask), 1, true);
}

/** Per-sequence mean of x [B, T] under the mask (0 for a sequence without tokens), [B, 1]. */
export function seqMean(x: Tensor, mask: Tensor): Tensor {
  return div(seqSum(x, mask), maximum(sum(mask, 1, true), 1));
}

/** Per-token KL estimate between the policy and the reference from their log-probs, clamped to ±clamp. */
export function klPenalty(logp: Tensor, refLogp: Tensor, type: KlType, clamp = 10): Tensor {
  if (!(clamp > 0)) throw new Error(`klPenalty: clamp must be > 0, got ${clamp}`);
  switch (type) {
    case 'k1':
      return clip(sub(logp, refLogp), -clamp, clamp);
    case 'k2':
      return clip(mul(square(sub(logp, refLogp)), 0.5), -clamp, clamp);
    case 'k3':
    case 'low_var_kl': {
      const kl = clip(sub(refLogp, logp), -20, 20);
      return clip(sub(sub(exp(kl), kl), 1), -clamp, clamp);
    }
  }
}

/** Clip settings of the PPO surrogate (veRL: clip_ratio, clip_ratio_low, clip_ratio_high, clip_ratio_c). */
export interface ClipSettings {
  clipRatio: number;
  clipRatioLow?: number;
  clipRatioHigh?: number;
  /** Dual-clip constant c > 1 for negative advantages; null disables it. */
  dualClip: number | null;
}

/**
 * Per-token PPO-clip surrogate `max(−A·ρ, −A·clip(ρ, 1−ε_low, 1+ε_high))` with ρ = exp(logp − old),
 * and with dual clip `min(·, −A·c)` where A < 0. Returns the loss and the clip indicator
 * (1 where the clipped branch is taken).
 */
export function ppoClipLoss(logp: Tensor, oldLogp: Tensor, adv: Tensor, o: ClipSettings): { loss: Tensor; clipped: Tensor } {
  return clippedSurrogate(exp(clip(sub(logp, oldLogp), -20, 20)), adv, o);
}

/**
 * The clipped surrogate for any importance ratio ρ (per token, or per sequence broadcast over
 * its tokens as in GSPO): `max(−A·ρ, −A·clip(ρ, 1−ε_low, 1+ε_high))`, dual clip for A < 0.
 */
export function clippedSurrogate(ratio: Tensor, adv: Tensor, o: ClipSettings): { loss: Tensor; clipped: Tensor } {
  const lo = o.clipRatioLow ?? o.clipRatio;
  const hi = o.clipRatioHigh ?? o.clipRatio;
  const negA = neg(adv);
  const l1 = mul(negA, ratio);
  const l2 = mul(negA, clip(ratio, 1 - lo, 1 + hi));
  let loss = maximum(l1, l2);
  const clipped = cast(greater(stopGradient(l2), stopGradient(l1)), 'float32');
  if (o.dualClip !== null) {
    const lower = minimum(mul(negA, o.dualClip), loss);
    loss = where(less(adv, 0), lower, loss);
  }
  return { loss, clipped };
}

/** Value-head options (PPO critic). */
export const valueLossOptionsSchema = z
  .object({
    /** Clip of the new value around the old one (cliprange_value); null disables. */
    clipRange: z.number().gt(0).nullable().default(0.5),
    aggregation: z.enum(AGGREGATIONS).exclude(['seq-mean-token-sum-norm']).default('token-mean'),
  })
  .strict();
export type ValueLossOptions = z.input<typeof valueLossOptionsSchema>;

/** Clipped value loss ½·max((v−R)², (clip(v, v_old±c)−R)²) per token. */
export function clippedValueLoss(v: Tensor, oldV: Tensor, returns: Tensor, clipRange: number | null): Tensor {
  const l1 = square(sub(v, returns));
  if (clipRange === null) return mul(l1, 0.5);
  const vc = add(oldV, clip(sub(v, oldV), -clipRange, clipRange));
  return mul(maximum(l1, square(sub(vc, returns))), 0.5);
}
