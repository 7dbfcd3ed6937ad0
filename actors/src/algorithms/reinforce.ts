import { registerAlgorithm } from './registry.js';
import { standardParamsSchema } from './params.js';
import { clipPolicyLoss } from './standard-loss.js';
import { broadcastOverMask } from './token-rewards.js';

/**
 * REINFORCE, the ZeroSearch paper's default: the raw outcome reward is the
 * advantage of every policy token (no baseline), optimised through the
 * PPO-clip loss; KL to the reference goes into the loss.
 */
registerAlgorithm({
  name: 'reinforce',
  description: 'raw outcome reward broadcast over response tokens, no baseline (ZeroSearch default)',
  reference: 'Williams 1992; ZeroSearch (arXiv 2505.04588) default',
  needsCritic: false,
  minSamplesPerPrompt: 1,
  klInRewardByDefault: false,
  params: standardParamsSchema,
  computeAdvantages(batch) {
    return { advantages: broadcastOverMask(batch.scores, batch) };
  },
  policyLoss: (ctx) => clipPolicyLoss(ctx.params, ctx),
});
