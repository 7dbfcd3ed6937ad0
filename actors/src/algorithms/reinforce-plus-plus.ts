import { z } from 'zod';
import { klInReward, registerAlgorithm } from './registry.js';
import type { AlgorithmDefinition } from './types.js';
import { maskedWhiten } from './masked-stats.js';
import { clipParams, commonParams, entropyCoef, klSchema, lossAggregation } from './params.js';
import { gammaParam } from './ppo.js';
import { clipPolicyLoss } from './standard-loss.js';
import { tokenLevelRewards } from './token-rewards.js';

const paramsSchema = z.strictObject({ ...commonParams(), ...clipParams, kl: klSchema.prefault({}), entropyCoef: entropyCoef(), lossAggregation, gamma: gammaParam });

/**
 * REINFORCE++: token-level rewards (the score on the last response token,
 * minus the KL penalty per token), discounted returns-to-go, then whitening
 * over the whole batch. Returns skip environment-inserted tokens: they are not
 * actions, so they neither earn reward nor advance the discount.
 */
const definition: AlgorithmDefinition<z.output<typeof paramsSchema>> = {
  name: 'reinforce++',
  description: 'discounted token returns with KL in the reward, whitened over the batch',
  reference: 'Hu 2025, REINFORCE++ (arXiv 2501.03262)',
  needsCritic: false,
  minSamplesPerPrompt: 1,
  klInRewardByDefault: true,
  params: paramsSchema,
  policyLoss: (ctx) => clipPolicyLoss(ctx.params, ctx),
  computeAdvantages(batch, ctx) {
    const { batchSize: B, responseLength: R } = batch;
    const rewards = tokenLevelRewards(batch, ctx.params, klInReward(definition as unknown as AlgorithmDefinition, ctx.params));
    const returns = new Float32Array(B * R);
    const gamma = ctx.params.gamma;
    for (let b = 0; b < B; b++) {
      let running = 0;
      for (let t = batch.responseLengths[b] - 1; t >= 0; t--) {
        const i = b * R + t;
        // The last token's reward counts even if it were masked (it is not, by construction).
        if (batch.lossMask[i] === 0) {
          running += rewards[i];
          continue;
        }
        running = rewards[i] + gamma * running;
        returns[i] = running;
      }
    }
    return { advantages: maskedWhiten(returns, batch.lossMask), tokenRewards: rewards };
  },
};

registerAlgorithm(definition);
