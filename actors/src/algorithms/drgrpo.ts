import { z } from 'zod';
import { groupAdvantages } from './grpo.js';
import { clipParams, commonParams, entropyCoef, klLoss } from './params.js';
import { registerAlgorithm } from './registry.js';
import { clipPolicyLoss } from './standard-loss.js';
import { broadcastOverMask } from './token-rewards.js';

const paramsSchema = z.strictObject({
  ...commonParams(),
  ...clipParams,
  kl: klLoss(0).prefault({}),
  entropyCoef: entropyCoef(0),
  normTokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("the constant each response's token sum is divided by; default: the response token budget (rollout.maxTurns + 1) × rollout.maxNewTokensPerTurn"),
});

/**
 * Dr. GRPO ("GRPO done right"): GRPO without its two biases. The advantage is
 * `r − mean_g` (no division by the group's std, which over-weights prompts the
 * policy finds too easy or too hard), and the loss sums each response's token
 * terms and divides by one constant for every response (no 1/|o| per-length
 * weighting, which favours long wrong answers). KL and entropy off by default,
 * as in the paper.
 */
registerAlgorithm({
  name: 'drgrpo',
  description: 'GRPO without std normalisation or per-length weighting: r − mean_g, token sums over a constant',
  reference: 'Liu et al. 2025, Understanding R1-Zero-Like Training: A Critical Perspective (arXiv 2503.20783)',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  params: paramsSchema,
  computeAdvantages(batch) {
    return { advantages: broadcastOverMask(groupAdvantages(batch.scores, batch.groupIds, false), batch) };
  },
  policyLoss(ctx) {
    const normTokens = ctx.params.normTokens ?? ctx.maxResponseTokens;
    if (!normTokens) throw new Error('drgrpo needs a normaliser: set algorithm.params.normTokens, or give the loss maxResponseTokens (the trainer does)');
    return clipPolicyLoss(ctx.params, ctx, { aggregation: 'seq-mean-token-sum-norm', normTokens });
  },
});
