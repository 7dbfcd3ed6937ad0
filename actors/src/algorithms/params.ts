import { z } from 'zod';

/**
 * The parameter vocabulary algorithms build their `algorithm.params` schema from. Each
 * algorithm declares exactly the parameters it uses (a strict object): a key it does not
 * declare is rejected when the config is loaded, with the algorithm's own list of keys.
 * Descriptions show in `cohort algorithms`.
 */

const positiveInt = () => z.number().int().positive();

/** The KL penalty to the reference policy, added to the loss (`coef` default 0.001, the ZeroSearch value). */
export const klLoss = (coef = 0.001) =>
  z.strictObject({
    estimator: z.enum(['k1', 'k2', 'k3']).default('k3').describe('k1: logp − ref; k2: ½(logp − ref)²; k3 (low variance): exp(ref − logp) − (ref − logp) − 1'),
    coef: z.number().nonnegative().default(coef).describe('coefficient; the penalty is added to the loss (the ZeroSearch reference subtracts it: a bug); 0 needs no ReferenceActor'),
    clamp: z.number().positive().default(10).describe('per-token clamp of the estimate (±clamp)'),
  });
export const klLossSchema = klLoss();

/** The KL penalty for algorithms that can put it into the token rewards instead (PPO, REINFORCE++). */
export const klSchema = klLossSchema.extend({
  inReward: z.boolean().optional().describe("put the KL into the token rewards instead of the loss; absent: the algorithm's default"),
});

/** Settings the trainer reads for every algorithm. */
export const commonParams = (o: { filterGroups?: boolean } = {}) => ({
  epochs: positiveInt().default(1).describe("epochs over each step's batch"),
  filterGroups: z
    .boolean()
    .default(o.filterGroups ?? false)
    .describe('update only on trajectories with a non-zero advantage (DAPO dynamic sampling: groups whose samples all scored the same are dropped); a step with none left makes no update'),
});

/** The entropy bonus (loss −= entropyCoef · entropy). */
export const entropyCoef = (d = 0.001) => z.number().nonnegative().default(d).describe('entropy bonus coefficient (loss −= coef · entropy)');

/** PPO-clip settings: ε (both sides unless clipRatioLow / clipRatioHigh are given) and the dual clip. */
export const clipParams = {
  clipRatio: z.number().positive().lt(1).default(0.2).describe('PPO clip ε (lower and upper unless clipRatioLow / clipRatioHigh are set)'),
  clipRatioLow: z.number().positive().lt(1).optional().describe('lower clip ε_low (default clipRatio)'),
  clipRatioHigh: z.number().positive().optional().describe('upper clip ε_high (default clipRatio); DAPO clip-higher raises it'),
  dualClip: z.number().gt(1).nullable().default(null).describe('dual-clip constant c > 1 bounding the loss of negative-advantage tokens at −A·c; null disables it'),
};

/** How per-token losses become one scalar. */
export const lossAggregation = z
  .enum(['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean'])
  .default('token-mean')
  .describe('token-mean: over every policy token of the batch; seq-mean-token-sum: token sum per sequence, mean over sequences; seq-mean-token-mean: token mean per sequence, mean over sequences');

/**
 * The parameters of the PPO-clip family (REINFORCE, GRPO and plug-ins that declare no schema
 * of their own): clip, dual clip, KL in the loss, entropy bonus, aggregation, epochs, filterGroups.
 */
export const standardParamsSchema = z.strictObject({
  ...commonParams(),
  ...clipParams,
  kl: klLossSchema.prefault({}),
  entropyCoef: entropyCoef(),
  lossAggregation,
});
export type StandardParams = z.output<typeof standardParamsSchema>;

/** What every algorithm's parameters hold (the trainer reads these); the rest is the algorithm's own. */
export type AlgorithmParams = {
  epochs: number;
  filterGroups: boolean;
  kl: { estimator: 'k1' | 'k2' | 'k3'; coef: number; clamp: number; inReward?: boolean };
} & Record<string, unknown>;

/** The zod schema of an algorithm's parameters. */
export type ParamsSchema<P extends AlgorithmParams = AlgorithmParams> = z.ZodType<P, unknown>;

/** Most policy tokens one response can hold: (maxTurns + 1) turns of maxNewTokensPerTurn (Dr. GRPO's normaliser, DAPO's L_max). */
export function responseTokenBudget(rollout: { maxTurns: number; maxNewTokensPerTurn: number }): number {
  return (rollout.maxTurns + 1) * rollout.maxNewTokensPerTurn;
}
