import { registerAlgorithm } from './registry.js';
import { broadcastOverMask } from './token-rewards.js';

/**
 * REINFORCE, the ZeroSearch paper's default: the raw outcome reward is the
 * advantage of every policy token (no baseline), optimised through the
 * PPO-clip loss; KL to the reference goes into the loss.
 */
registerAlgorithm({
  name: 'reinforce',
  description: 'raw outcome reward broadcast over response tokens, no baseline (ZeroSearch default)',
  needsCritic: false,
  minSamplesPerPrompt: 1,
  klInRewardByDefault: false,
  policyLoss: 'ppo-clip',
  computeAdvantages(batch) {
    return { advantages: broadcastOverMask(batch.scores, batch) };
  },
});
