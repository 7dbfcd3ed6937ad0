import { z } from 'zod';
import type { Tensor } from '../graph/tensor.js';
import { add, div, maximum, minimum, mul, sub } from '../ops/elementwise.js';
import { less, greater } from '../ops/compare.js';
import { mean, sum } from '../ops/reduce.js';
import { exp, neg, square, stopGradient } from '../ops/unary.js';
import { cast, clip, where } from '../ops/where.js';

/** How per-token losses [B, T] are reduced to a scalar (veRL's `loss_agg_mode`). */
export const AGGREGATIONS = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** KL penalty estimators of log π/π_ref: k1 = Δ, k2 = ½Δ², k3 ("low_var_kl") = e^{-Δ} + Δ − 1, clamped to ±10. */
export const KL_TYPES = ['k1', 'k2', 'k3', 'low_var_kl'] as const;
export type KlType = (typeof KL_TYPES)[number];

/** Policy-gradient loss options (veRL / OpenRLHF naming in comments). */
export const policyLossOptionsSchema = z
  .object({
    /** PPO clip ε (clip_ratio). */
    clipRatio: z.number().gt(0).lt(1).default(0.2),
    /** Asymmetric clip (clip_ratio_low / clip_ratio_high); default clipRatio. */
    clipRatioLow: z.number().gt(0).lt(1).optional(),
    clipRatioHigh: z.number().gt(0).optional(),
    /** Dual-clip constant c > 1 (clip_ratio_c) for negative advantages; null disables. */
    dualClip: z.number().gt(1, 'dualClip must be > 1 (typically 3)').nullable().default(3),
    /** Coefficient of the KL penalty ADDED to the loss (use_kl_loss / kl_loss_coef). 0 disables. */
    klCoef: z.number().min(0).default(0),
    klType: z.enum(KL_TYPES).default('low_var_kl'),
    /** Entropy bonus (entropy_coeff): loss −= coef · entropy. */
    entropyCoef: z.number().min(0).default(0),
    aggregation: z.enum(AGGREGATIONS).default('token-mean'),
  })
  .strict();
export type PolicyLossOptions = z.input<typeof policyLossOptionsSchema>;
export type PolicyLossConfig = z.output<typeof policyLossOptionsSchema>;

/** Reduces per-token values x [B, T] under a 0/1 mask [B, T] to a scalar. */
export function aggregate(x: Tensor, mask: Tensor, mode: Aggregation): Tensor {
  const xm = mul(x, mask);
  switch (mode) {
    case 'token-mean':
      return div(sum(xm), maximum(sum(mask), 1));
    case 'seq-mean-token-sum':
      return mean(sum(xm, 1));
    case 'seq-mean-token-mean':
      return mean(div(sum(xm, 1), maximum(sum(mask, 1), 1)));
  }
}

/** Per-token KL estimate between the policy and the reference from their log-probs. */
export function klPenalty(logp: Tensor, refLogp: Tensor, type: KlType): Tensor {
  switch (type) {
    case 'k1':
      return sub(logp, refLogp);
    case 'k2':
      return mul(square(sub(logp, refLogp)), 0.5);
    case 'k3':
    case 'low_var_kl': {
      const kl = clip(sub(refLogp, logp), -20, 20);
      return clip(sub(sub(exp(kl), kl), 1), -10, 10);
    }
  }
}

/** Per-token PPO-clip surrogate (with optional dual clip) and the clip indicator. */
export function ppoClipLoss(logp: Tensor, oldLogp: Tensor, adv: Tensor, o: PolicyLossConfig): { loss: Tensor; clipped: Tensor } {
  const lo = o.clipRatioLow ?? o.clipRatio;
  const hi = o.clipRatioHigh ?? o.clipRatio;
  const ratio = exp(clip(sub(logp, oldLogp), -20, 20));
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
    aggregation: z.enum(AGGREGATIONS).default('token-mean'),
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
