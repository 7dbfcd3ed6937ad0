import { z } from 'zod';
import { klInReward, registerAlgorithm } from './registry.js';
import type { AlgorithmDefinition } from './types.js';
import { maskedWhiten } from './masked-stats.js';
import { clipParams, commonParams, entropyCoef, klSchema, lossAggregation, type AlgorithmParams } from './params.js';
import { clipPolicyLoss } from './standard-loss.js';
import { tokenLevelRewards } from './token-rewards.js';

/** Discount γ (PPO, REINFORCE++). */
export const gammaParam = z.number().min(0).max(1).default(1).describe('discount γ');

/** PPO's parameters: the PPO-clip family's, the KL (in the reward by default), GAE and the critic's. */
export const ppoParamsSchema = z.strictObject({
  ...commonParams(),
  ...clipParams,
  kl: klSchema.prefault({}),
  entropyCoef: entropyCoef(),
  lossAggregation,
  gamma: gammaParam,
  lambda: z.number().min(0).max(1).default(1).describe('GAE λ'),
  criticLr: z.number().positive().default(1e-5).describe("the critic's learning rate"),
  valueClip: z.number().positive().default(0.5).describe('clip of the new value around the old one in the value loss'),
});
export type PpoParams = z.output<typeof ppoParamsSchema>;

/** The critic's settings from an algorithm's parameters (an algorithm with a critic declares criticLr and valueClip). */
export function criticParams(params: AlgorithmParams): { criticLr: number; valueClip: number } {
  const { criticLr, valueClip } = params;
  if (typeof criticLr !== 'number' || typeof valueClip !== 'number') {
    throw new Error('the critic needs algorithm.params.criticLr and valueClip; an algorithm with needsCritic must declare them in its params schema (as ppo does)');
  }
  return { criticLr, valueClip };
}

/**
 * PPO with GAE(γ, λ) over policy tokens and a critic. The KL penalty is in the
 * token rewards by default. Environment-inserted tokens are skipped: the "next
 * value" of a policy token is the value at the next policy token. Advantages
 * are whitened over the batch; returns = GAE advantages + values (the critic's
 * targets, before whitening).
 */
const definition: AlgorithmDefinition<PpoParams> = {
  name: 'ppo',
  description: 'GAE advantages from a critic, whitened; KL in the reward',
  reference: 'Schulman et al. 2017 (arXiv 1707.06347); GAE: Schulman et al. 2015 (arXiv 1506.02438)',
  needsCritic: true,
  minSamplesPerPrompt: 1,
  klInRewardByDefault: true,
  params: ppoParamsSchema,
  policyLoss: (ctx) => clipPolicyLoss(ctx.params, ctx),
  computeAdvantages(batch, ctx) {
    const { batchSize: B, responseLength: R } = batch;
    const values = batch.values;
    if (!values) throw new Error('ppo needs critic values in the batch; the CriticActor computes them (layout.rl.shares.critic > 0)');
    const rewards = tokenLevelRewards(batch, ctx.params, klInReward(definition as unknown as AlgorithmDefinition, ctx.params));
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
