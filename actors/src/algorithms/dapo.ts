import { z } from 'zod';
import { groupAdvantages } from './grpo.js';
import { commonParams, entropyCoef, klLoss } from './params.js';
import { registerAlgorithm } from './registry.js';
import { clipPolicyLoss } from './standard-loss.js';
import { broadcastOverMask } from './token-rewards.js';
import type { AdvantageBatch } from './types.js';

const overlongSchema = z
  .strictObject({
    maxTokens: z.number().int().positive().optional().describe('L_max: the length the penalty reaches −penalty at; default: the response token budget (rollout.maxTurns + 1) × rollout.maxNewTokensPerTurn'),
    bufferTokens: z.number().int().positive().optional().describe('L_cache: the soft zone before L_max where the penalty grows linearly; default 20% of L_max'),
    penalty: z.number().nonnegative().default(1).describe('size of the penalty at and beyond L_max'),
  })
  .nullable()
  .prefault({})
  .describe('overlong reward shaping on the policy tokens of a response; null turns it off');

const paramsSchema = z.strictObject({
  ...commonParams({ filterGroups: true }),
  clipRatioLow: z.number().positive().lt(1).default(0.2).describe('lower clip ε_low'),
  clipRatioHigh: z.number().positive().default(0.28).describe('upper clip ε_high (clip-higher: > ε_low keeps exploration alive)'),
  kl: klLoss(0).prefault({}),
  entropyCoef: entropyCoef(0),
  overlong: overlongSchema,
});
export type DapoParams = z.output<typeof paramsSchema>;

/**
 * DAPO's soft overlong penalty for a response of `len` policy tokens: 0 up to
 * L_max − L_cache, then falling linearly to −penalty at L_max, −penalty beyond.
 */
export function overlongPenalty(len: number, maxTokens: number, bufferTokens: number, penalty: number): number {
  const start = maxTokens - bufferTokens;
  if (len <= start) return 0;
  if (len > maxTokens) return -penalty;
  return ((start - len) / bufferTokens) * penalty;
}

/** Policy tokens (loss mask 1) per response. */
function policyTokens(batch: AdvantageBatch): Int32Array {
  const out = new Int32Array(batch.batchSize);
  for (let b = 0; b < batch.batchSize; b++) for (let t = 0; t < batch.responseLength; t++) if (batch.lossMask[b * batch.responseLength + t] !== 0) out[b]++;
  return out;
}

/**
 * DAPO: decoupled clip with a higher upper bound (clip-higher), a token-level
 * loss (every token of the batch weighs the same), dynamic sampling (groups
 * whose samples all scored the same are dropped: `filterGroups`, on by
 * default; Cohort drops them rather than sampling more prompts), and overlong
 * reward shaping, then GRPO group-normalised advantages of the shaped reward.
 * No KL and no entropy bonus by default, as in the paper.
 */
registerAlgorithm({
  name: 'dapo',
  description: 'clip-higher (ε_low 0.2, ε_high 0.28), token-mean loss, dynamic sampling (filterGroups), overlong penalty; GRPO advantages',
  reference: 'Yu et al. 2025, DAPO: An Open-Source LLM Reinforcement Learning System at Scale (arXiv 2503.14476)',
  needsCritic: false,
  minSamplesPerPrompt: 2,
  klInRewardByDefault: false,
  params: paramsSchema,
  computeAdvantages(batch, ctx) {
    let scores: ArrayLike<number> = batch.scores;
    const o = ctx.params.overlong;
    if (o) {
      const maxTokens = o.maxTokens ?? ctx.maxResponseTokens;
      if (!maxTokens) throw new Error('dapo overlong shaping needs L_max: set algorithm.params.overlong.maxTokens, or pass maxResponseTokens (the trainer does)');
      const buffer = o.bufferTokens ?? Math.max(1, Math.round(0.2 * maxTokens));
      if (buffer > maxTokens) throw new Error(`dapo: overlong.bufferTokens ${buffer} exceeds L_max ${maxTokens}; lower it`);
      const lens = policyTokens(batch);
      scores = Float32Array.from(batch.scores, (s, b) => s + overlongPenalty(lens[b], maxTokens, buffer, o.penalty));
    }
    return { advantages: broadcastOverMask(groupAdvantages(scores, batch.groupIds, true), batch) };
  },
  policyLoss: (ctx) => clipPolicyLoss({ ...ctx.params, clipRatio: ctx.params.clipRatioLow, dualClip: null }, ctx, { aggregation: 'token-mean' }),
});
