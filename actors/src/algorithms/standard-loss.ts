import { ppoPolicyLoss, type Aggregation, type PolicyLoss } from '@cohort/engine/loss-api';
import type { LossContext } from './types.js';

/** The parameters the PPO-clip loss reads (the standard schema holds them all). */
export interface ClipLossParams {
  clipRatio?: number;
  clipRatioLow?: number;
  clipRatioHigh?: number;
  dualClip?: number | null;
  kl: { estimator: 'k1' | 'k2' | 'k3'; coef: number; clamp: number };
  entropyCoef: number;
  lossAggregation?: Exclude<Aggregation, 'seq-mean-token-sum-norm'>;
}

/**
 * The engine's PPO-clip loss with an algorithm's parameters: clip (asymmetric when
 * clipRatioLow / clipRatioHigh are set), dual clip, the KL in the loss unless this run puts it
 * in the rewards (estimator, coefficient and clamp), the entropy bonus and the aggregation.
 * `aggregation` overrides the parameter (Dr. GRPO, DAPO fix theirs).
 */
export function clipPolicyLoss(p: ClipLossParams, ctx: Pick<LossContext, 'klInLoss'>, fixed: { aggregation?: Aggregation; normTokens?: number } = {}): PolicyLoss {
  const ratio = p.clipRatio ?? p.clipRatioLow ?? 0.2;
  return ppoPolicyLoss({
    clipRatio: ratio,
    clipRatioLow: p.clipRatioLow,
    clipRatioHigh: p.clipRatioHigh,
    dualClip: p.dualClip ?? null,
    klCoef: ctx.klInLoss ? p.kl.coef : 0,
    klType: p.kl.estimator,
    klClamp: p.kl.clamp,
    entropyCoef: p.entropyCoef,
    aggregation: fixed.aggregation ?? p.lossAggregation ?? 'token-mean',
    normTokens: fixed.normTokens,
  });
}
