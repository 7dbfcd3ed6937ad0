/**
 * KL estimators between a policy and the reference, per token, for the KL-in-reward token
 * rewards (PPO, REINFORCE++). The KL in the loss is the engine's `klPenalty` graph op.
 */
export type KlEstimator = 'k1' | 'k2' | 'k3';

/**
 * Per-token KL estimate from log-probabilities of the sampled token.
 * - k1: `logp − ref`
 * - k2: `½ (logp − ref)²`
 * - k3 (low variance, always ≥ 0): `exp(ref − logp) − (ref − logp) − 1`
 * The result is clamped to ±clamp (the reference clamps k3 to ±10).
 */
export function klEstimate(estimator: KlEstimator, logp: number, ref: number, clamp = 10): number {
  const v = rawKl(estimator, logp, ref);
  return Math.min(clamp, Math.max(-clamp, v));
}

function rawKl(estimator: KlEstimator, logp: number, ref: number): number {
  switch (estimator) {
    case 'k1':
      return logp - ref;
    case 'k2':
      return 0.5 * (logp - ref) * (logp - ref);
    case 'k3': {
      const x = ref - logp;
      return Math.exp(x) - x - 1;
    }
  }
}
