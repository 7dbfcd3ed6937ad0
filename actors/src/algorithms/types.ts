import type { AlgorithmParams, TrainConfig } from '../config/schema.js';

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

export interface AdvantageContext {
  params: AlgorithmParams;
  /** `algorithm.options` from the config, for plug-ins. */
  options: Record<string, unknown>;
}

/** A named RL algorithm: how advantages are estimated and which policy loss is used. */
export interface AlgorithmDefinition {
  /** Name chosen in config (`algorithm.name`). */
  name: string;
  /** One line for `cohort` listings and docs. */
  description: string;
  /** Whether a CriticActor is needed (values in, returns out). */
  needsCritic: boolean;
  /** Smallest `batch.samplesPerPrompt` that makes sense (2 for group baselines). */
  minSamplesPerPrompt: number;
  /** Whether the KL penalty goes into the token rewards rather than the loss, unless the config says otherwise. */
  klInRewardByDefault: boolean;
  /** Name of a registered policy loss (`ppo-clip` for every built-in). */
  policyLoss: string;
  /** Advantage estimator. Must leave masked positions at 0. */
  computeAdvantages(batch: AdvantageBatch, ctx: AdvantageContext): AdvantageResult;
  /** Extra config checks; return one message per problem (naming the key and the fix). */
  validateConfig?(config: TrainConfig): string[];
}
