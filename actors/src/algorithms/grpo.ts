import { registerAlgorithm } from './registry.js';
import { standardParamsSchema } from './params.js';
import { clipPolicyLoss } from './standard-loss.js';
import { broadcastOverMask, groupIndices } from './token-rewards.js';

/** Epsilon added to the group standard deviation. */
export const GRPO_EPS = 1e-6;

/**
 * Group baselines over the samples of each prompt: `r − mean_g`, divided by
 * `std_g + 1e-6` (unbiased std) when `scaleByStd`. Groups are keyed by the
 * trajectory's unique group id (one per prompt per step), never by a data
 * source index, so two prompts that share an index are never merged. A group
 * of one gets mean 0 and std 1 (its raw reward).
 */
export function groupAdvantages(scores: ArrayLike<number>, groupIds: readonly string[], scaleByStd: boolean): Float32Array {
  const perSeq = new Float32Array(groupIds.length);
  for (const members of groupIndices(groupIds).values()) {
    let mean = 0;
    let std = 1;
    if (members.length > 1) {
      mean = members.reduce((s, i) => s + scores[i], 0) / members.length;
      const ss = members.reduce((s, i) => s + (scores[i] - mean) ** 2, 0);
      std = Math.sqrt(ss / (members.length - 1));
    }
    for (const i of members) perSeq[i] = scaleByStd ? (scores[i] - mean) / (std + GRPO_EPS) : scores[i] - mean;
  }
  return perSeq;
}

/**
 * GRPO outcome advantages: (r − mean_g) / (std_g + 1e-6) over the `n` samples
 * of one prompt, through the PPO-clip loss with the KL in the loss.
 */
registerAlgorithm({
  name: 'grpo',
  description: 'group-normalised outcome reward over the n samples of each prompt',
  reference: 'Shao et al. 2024, DeepSeekMath (arXiv 2402.03300)',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  params: standardParamsSchema,
  computeAdvantages(batch) {
    return { advantages: broadcastOverMask(groupAdvantages(batch.scores, batch.groupIds, true), batch) };
  },
  policyLoss: (ctx) => clipPolicyLoss(ctx.params, ctx),
});
