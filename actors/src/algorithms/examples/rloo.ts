/**
 * Example plug-in: RLOO (REINFORCE leave-one-out). This whole file is what a
 * new algorithm takes: register it, then set `algorithm.name: rloo` and list
 * this file in `algorithm.plugins` of the training config.
 */
import { registerAlgorithm } from '../registry.js';
import { broadcastOverMask, groupIndices } from '../token-rewards.js';

registerAlgorithm({
  name: 'rloo',
  description: 'leave-one-out baseline: r_i minus the mean reward of the other samples of the prompt',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  computeAdvantages(batch) {
    const perSeq = new Float32Array(batch.batchSize);
    for (const members of groupIndices(batch.groupIds).values()) {
      const n = members.length;
      const sum = members.reduce((s, i) => s + batch.scores[i], 0);
      for (const i of members) perSeq[i] = n > 1 ? batch.scores[i] - (sum - batch.scores[i]) / (n - 1) : 0;
    }
    return { advantages: broadcastOverMask(perSeq, batch) };
  },
});
