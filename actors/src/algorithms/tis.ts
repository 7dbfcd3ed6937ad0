import { clip, exp, greater, cast, aggregate, minimum, mul, seqMean, stopGradient, sub, type PolicyLoss } from '@cohort/engine/loss-api';

/**
 * Truncated importance sampling (TIS) around any policy loss: the rollouts
 * sampled with weights that lag the learner's (async mode), so every
 * policy-gradient term is reweighted by the capped, gradient-free ratio of the
 * learner's old log-probs to the rollout's recorded ones,
 *   w_t = min(exp(old_t − rollout_t), cap)               per token,
 *   w_i = min(exp(mean_t(old_t − rollout_t)), cap)       per response (length-normalised),
 * given to the inner loss as its `weights` / `seqWeights` (token-level losses
 * use the first, sequence-level ones such as GSPO the second). Tokens whose
 * rollout matched the learner get weight 1. Adds the metrics `tis_weight`
 * (token mean of w_t) and `tis_capped_frac` (share of tokens at the cap).
 */
export function truncatedImportanceSampling(inner: PolicyLoss, cap: number): PolicyLoss {
  if (!(cap > 0)) throw new Error(`truncated importance sampling: cap must be > 0, got ${cap}`);
  return {
    name: `${inner.name}+tis`,
    key: `tis(${cap}):${inner.key}`,
    requires: [...new Set([...(inner.requires ?? []), 'rolloutLogprobs' as const])],
    build(x) {
      const d = clip(sub(x.oldLogprobs, x.rolloutLogprobs), -20, 20);
      const raw = exp(d);
      const w = stopGradient(minimum(raw, cap));
      const ws = stopGradient(minimum(exp(seqMean(d, x.mask)), cap));
      const out = inner.build({
        logprobs: x.logprobs,
        oldLogprobs: x.oldLogprobs,
        refLogprobs: x.refLogprobs,
        rolloutLogprobs: x.rolloutLogprobs,
        advantages: x.advantages,
        mask: x.mask,
        entropy: x.entropy,
        get seqIds() {
          return x.seqIds;
        },
        weights: mul(x.weights, w),
        seqWeights: mul(x.seqWeights, ws),
      });
      return {
        loss: out.loss,
        metrics: { ...out.metrics, tis_weight: aggregate(w, x.mask, 'token-mean'), tis_capped_frac: aggregate(cast(greater(raw, cap), 'float32'), x.mask, 'token-mean') },
      };
    },
  };
}
