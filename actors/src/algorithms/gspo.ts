import { z } from 'zod';
import { clip, clippedSurrogate, div, exp, maximum, mean, minimum, mul, seqMean, sub, sum, withRegularizers, type PolicyLoss } from '@cohort/engine/loss-api';
import { groupAdvantages } from './grpo.js';
import { commonParams, entropyCoef, klLoss } from './params.js';
import { registerAlgorithm } from './registry.js';
import { broadcastOverMask } from './token-rewards.js';
import type { LossContext } from './types.js';

const paramsSchema = z.strictObject({
  ...commonParams(),
  clipRatioLow: z.number().positive().lt(1).default(3e-4).describe('lower clip of the sequence ratio (GSPO: 3e-4; sequence ratios stay close to 1)'),
  clipRatioHigh: z.number().positive().default(4e-4).describe('upper clip of the sequence ratio (GSPO: 4e-4)'),
  kl: klLoss().prefault({}),
  entropyCoef: entropyCoef(),
});
export type GspoParams = z.output<typeof paramsSchema>;

/**
 * The GSPO loss: per response i, the length-normalised sequence ratio
 *   s_i = exp( (1/|y_i|) Σ_t (logp_t − old_t) )
 * (the geometric mean of the token ratios), clipped at the sequence level,
 *   ℓ_i = max(−A_i·s_i, −A_i·clip(s_i, 1 − ε_low, 1 + ε_high)),
 * averaged over responses, plus the KL and entropy terms (token mean per
 * response, mean over responses). A_i is the mean of the response's token
 * advantages (the outcome advantage broadcast over it). Metrics add
 * `clip_frac`: the share of responses on the clipped branch.
 */
export function gspoLoss(ctx: LossContext<GspoParams>): PolicyLoss {
  const p = ctx.params;
  const klCoef = ctx.klInLoss ? p.kl.coef : 0;
  const settings = { lo: p.clipRatioLow, hi: p.clipRatioHigh, klCoef, kl: p.kl, entropyCoef: p.entropyCoef };
  return {
    name: 'gspo',
    key: `gspo:${JSON.stringify(settings)}`,
    requires: klCoef > 0 ? ['refLogprobs'] : [],
    build(x) {
      const ratio = exp(clip(seqMean(sub(x.logprobs, x.oldLogprobs), x.mask), -20, 20)); // [B, 1]
      const adv = seqMean(x.advantages, x.mask); // [B, 1]
      const { loss: perSeq, clipped } = clippedSurrogate(ratio, adv, { clipRatio: p.clipRatioLow, clipRatioLow: p.clipRatioLow, clipRatioHigh: p.clipRatioHigh, dualClip: null });
      const pg = mean(mul(perSeq, x.seqWeights));
      const has = minimum(sum(x.mask, 1, true), 1); // responses with policy tokens
      const out = withRegularizers(pg, x, { klCoef, klType: p.kl.estimator, klClamp: p.kl.clamp, entropyCoef: p.entropyCoef, aggregation: 'seq-mean-token-mean' });
      return { loss: out.loss, metrics: { ...out.metrics, clip_frac: div(sum(mul(clipped, has)), maximum(sum(has), 1)) } };
    },
  };
}

/**
 * GSPO (Group Sequence Policy Optimization): GRPO's group-normalised outcome
 * advantages, optimised with a sequence-level importance ratio and
 * sequence-level clipping instead of per-token ratios.
 */
registerAlgorithm({
  name: 'gspo',
  description: 'sequence-level, length-normalised importance ratio with sequence-level clipping; GRPO advantages',
  reference: 'Zheng et al. 2025, Group Sequence Policy Optimization (arXiv 2507.18071)',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  params: paramsSchema,
  computeAdvantages(batch) {
    return { advantages: broadcastOverMask(groupAdvantages(batch.scores, batch.groupIds, true), batch) };
  },
  policyLoss: gspoLoss,
});
