import { klInReward, registerAlgorithm } from './registry.js';
import type { AlgorithmDefinition } from './types.js';
import { maskedWhiten } from './masked-stats.js';
import { tokenLevelRewards } from './token-rewards.js';

/**
 * PPO with GAE(γ, λ) over policy tokens and a critic. The KL penalty is in the
 * token rewards by default. Environment-inserted tokens are skipped: the "next
 * value" of a policy token is the value at the next policy token. Advantages
 * are whitened over the batch; returns = GAE advantages + values (the critic's
 * targets, before whitening).
 */
const definition: AlgorithmDefinition = {
  name: 'ppo',
  description: 'GAE advantages from a critic, whitened; KL in the reward',
  needsCritic: true,
  minSamplesPerPrompt: 1,
  klInRewardByDefault: true,
  policyLoss: 'ppo-clip',
  computeAdvantages(batch, ctx) {
    const { batchSize: B, responseLength: R } = batch;
    const values = batch.values;
    if (!values) throw new Error('ppo needs critic values in the batch; the CriticActor computes them (layout.rl.shares.critic > 0)');
    const rewards = tokenLevelRewards(batch, ctx.params, klInReward(definition, ctx.params));
    const { gamma, lambda } = ctx.params;
    const adv = new Float32Array(B * R);
    const returns = new Float32Array(B * R);
    for (let b = 0; b < B; b++) {
      let lastGae = 0;
      let nextValue = 0;
      let carried = 0; // reward sitting on masked tokens after this policy token
      for (let t = batch.responseLengths[b] - 1; t >= 0; t--) {
        const i = b * R + t;
        if (batch.lossMask[i] === 0) {
          carried += rewards[i];
          continue;
        }
        const delta = rewards[i] + carried + gamma * nextValue - values[i];
        carried = 0;
        lastGae = delta + gamma * lambda * lastGae;
        adv[i] = lastGae;
        returns[i] = lastGae + values[i];
        nextValue = values[i];
      }
    }
    return { advantages: maskedWhiten(adv, batch.lossMask), returns, tokenRewards: rewards };
  },
};

registerAlgorithm(definition);
