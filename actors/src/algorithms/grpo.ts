import { registerAlgorithm } from './registry.js';
import { broadcastOverMask, groupIndices } from './token-rewards.js';

/** Epsilon added to the group standard deviation. */
export const GRPO_EPS = 1e-6;

/**
 * GRPO outcome advantages: (r − mean_g) / (std_g + 1e-6) with the unbiased
 * standard deviation over the `n` samples of one prompt. Groups are keyed by
 * the trajectory's unique group id (one per prompt per step), never by a data
 * source index, so two prompts that share an index are never merged. A group
 * of one gets mean 0 and std 1 (its raw reward).
 */
registerAlgorithm({
  name: 'grpo',
  description: 'group-normalised outcome reward over the n samples of each prompt',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  policyLoss: 'ppo-clip',
  computeAdvantages(batch) {
    const perSeq = new Float32Array(batch.batchSize);
    for (const members of groupIndices(batch.groupIds).values()) {
      let mean = 0;
      let std = 1;
      if (members.length > 1) {
        mean = members.reduce((s, i) => s + batch.scores[i], 0) / members.length;
        const ss = members.reduce((s, i) => s + (batch.scores[i] - mean) ** 2, 0);
        std = Math.sqrt(ss / (members.length - 1));
      }
      for (const i of members) perSeq[i] = (batch.scores[i] - mean) / (std + GRPO_EPS);
    }
    return { advantages: broadcastOverMask(perSeq, batch) };
  },
});
