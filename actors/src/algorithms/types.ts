import type { PolicyLoss } from '@cohort/engine';
import type { TrainConfig } from '../config/schema.js';
import type { AlgorithmParams, ParamsSchema } from './params.js';

/**
 * Response-aligned batch the advantage estimators read. Arrays of shape
 * [batch, responseLength] are row-major: token t of trajectory b is at
 * `b * responseLength + t`. Padding positions have `lossMask` 0.
 */
export interface AdvantageBatch {
  batchSize: number;
  responseLength: number;
  /** 1 on tokens the policy generated, 0 on environment-inserted tokens and padding. */
  lossMask: Float32Array;
  /** Number of real (non-padding) response tokens per trajectory. */
  responseLengths: Int32Array;
  /** The scalar outcome reward per trajectory (F1 in ZeroSearch). */
  scores: Float32Array;
  /** One id per trajectory; samples of the same prompt share it, different prompts never do. */
  groupIds: readonly string[];
  /** Behaviour/old log-probabilities per token (for KL-in-reward). */
  oldLogprobs?: Float32Array;
  /** Reference-policy log-probabilities per token (for KL-in-reward). */
  refLogprobs?: Float32Array;
  /** Critic values per token (PPO). */
  values?: Float32Array;
}

/** Per-token advantages (and returns for a critic), response-aligned like the inputs. */
export interface AdvantageResult {
  advantages: Float32Array;
  /** Value targets for the critic (PPO only). */
  returns?: Float32Array;
  /** Token-level rewards actually used (score on the last response token, minus KL when in reward). */
  tokenRewards?: Float32Array;
}

export interface AdvantageContext<P extends AlgorithmParams = AlgorithmParams> {
  /** This algorithm's parameters (`algorithm.params`, validated by its schema, defaults filled in). */
  params: P;
  /** `algorithm.options` from the config, for plug-ins. */
  options: Record<string, unknown>;
  /**
   * Most policy tokens one response can hold: (rollout.maxTurns + 1) × rollout.maxNewTokensPerTurn.
   * The trainer always gives it; an algorithm that needs it says so when it is missing.
   */
  maxResponseTokens?: number;
}

/** What an algorithm's policy loss is built from. */
export interface LossContext<P extends AlgorithmParams = AlgorithmParams> {
  params: P;
  /** Whether the KL penalty belongs in the loss (false when this run puts it in the rewards). */
  klInLoss: boolean;
  /** Most policy tokens one response can hold (the constant of Dr. GRPO-style aggregation); the learners always get it. */
  maxResponseTokens?: number;
}

/**
 * A named RL algorithm: its parameters, how advantages are estimated, and the policy loss the
 * learners compile into their training graph.
 */
export interface AlgorithmDefinition<P extends AlgorithmParams = AlgorithmParams> {
  /** Name chosen in config (`algorithm.name`). */
  name: string;
  /** One line for `cohort algorithms` and docs. */
  description: string;
  /** Where the method comes from (paper or reference implementation), for listings and docs. */
  reference?: string;
  /** Whether a CriticActor is needed (values in, returns out). */
  needsCritic: boolean;
  /** Smallest `batch.samplesPerPrompt` that makes sense (2 for group baselines). */
  minSamplesPerPrompt: number;
  /** Whether the KL penalty goes into the token rewards rather than the loss, unless the config says otherwise. */
  klInRewardByDefault: boolean;
  /**
   * The parameters `algorithm.params` may hold (a strict zod object with defaults); a key it does
   * not declare is rejected. Default: {@link standardParamsSchema} (the PPO-clip family's).
   */
  params?: ParamsSchema<P>;
  /** Advantage estimator. Must leave masked positions at 0. */
  computeAdvantages(batch: AdvantageBatch, ctx: AdvantageContext<P>): AdvantageResult;
  /**
   * The policy loss, a function over the engine's graph ops compiled once into every learner's
   * training graph. Default: PPO-clip from the standard parameters.
   */
  policyLoss?(ctx: LossContext<P>): PolicyLoss;
  /** Extra config checks; return one message per problem (naming the key and the fix). */
  validateConfig?(config: TrainConfig): string[];
}
