/**
 * Example plug-in: CISPO (clipped importance-sampling-weight policy optimisation,
 * MiniMax-M1, arXiv 2506.13585). Instead of clipping the PPO surrogate, and so
 * dropping the gradient of every clipped token, CISPO clips the importance
 * weight itself and keeps every token's REINFORCE gradient:
 *
 *   loss = token-mean( −sg(min(ρ_t, 1 + ε_high)) · A_t · log π(t) ),  ρ_t = π(t) / π_old(t)
 *
 * where sg() stops the gradient. The whole algorithm is this file: it declares
 * its parameters, computes group-normalised advantages, and builds its loss
 * from the engine's graph ops; the learners compile the loss into their
 * training graph. Use it with
 *
 *   algorithm: { name: cispo, plugins: [path/to/cispo.ts], params: { clipRatioHigh: 0.28 } }
 */
import { z } from 'zod';
import { aggregate, cast, clip, exp, greater, minimum, mul, neg, stopGradient, sub, withRegularizers } from '@cohort/engine';
import { broadcastOverMask, commonParams, entropyCoef, groupAdvantages, klLoss, registerAlgorithm } from '@cohort/actors';

const params = z.strictObject({
  ...commonParams(), // epochs, filterGroups: the trainer reads these for every algorithm
  clipRatioHigh: z.number().positive().default(0.28).describe('the importance weight is capped at 1 + clipRatioHigh (this example\'s default)'),
  kl: klLoss(0).prefault({}), // estimator, coef (0: no reference model needed), clamp
  entropyCoef: entropyCoef(0),
});

registerAlgorithm({
  name: 'cispo',
  description: 'clipped importance-sampling weights times the REINFORCE gradient of every token; GRPO advantages',
  reference: 'MiniMax 2025, MiniMax-M1 (arXiv 2506.13585)',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  params,

  // (r − mean) / (std + 1e-6) over the samples of each prompt, on every policy token.
  computeAdvantages(batch) {
    return { advantages: broadcastOverMask(groupAdvantages(batch.scores, batch.groupIds, true), batch) };
  },

  // A function over graph ops: per-token tensors [batch, seq] in, a scalar out.
  policyLoss({ params: p, klInLoss }) {
    const settings = { cap: 1 + p.clipRatioHigh, kl: p.kl, entropyCoef: p.entropyCoef, klInLoss };
    return {
      name: 'cispo',
      // Same key, same graph: every setting build() reads is in it.
      key: `cispo:${JSON.stringify(settings)}`,
      requires: klInLoss && p.kl.coef > 0 ? ['refLogprobs'] : [],
      build(x) {
        const ratio = exp(clip(sub(x.logprobs, x.oldLogprobs), -20, 20));
        const weight = stopGradient(minimum(ratio, settings.cap));
        // x.weights: 1, or the truncated importance weights of async mode.
        const perToken = mul(neg(mul(mul(weight, x.advantages), x.logprobs)), x.weights);
        const pg = aggregate(perToken, x.mask, 'token-mean');
        const out = withRegularizers(pg, x, { klCoef: klInLoss ? p.kl.coef : 0, klType: p.kl.estimator, klClamp: p.kl.clamp, entropyCoef: p.entropyCoef, aggregation: 'token-mean' });
        // Scalars reported in every step's metrics (loss.terms).
        const capped = aggregate(cast(greater(ratio, settings.cap), 'float32'), x.mask, 'token-mean');
        return { loss: out.loss, metrics: { ...out.metrics, cispo_capped_frac: capped } };
      },
    };
  },
});
