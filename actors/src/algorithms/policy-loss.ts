import { closest } from '../config/format-issues.js';
import type { AlgorithmParams } from '../config/schema.js';
import { klEstimate, klGradient } from './kl.js';
import { aggregationWeights } from './loss-aggregation.js';

/** Inputs of a policy loss, response-aligned [batch, responseLength], row-major. */
export interface PolicyLossInput {
  batchSize: number;
  responseLength: number;
  /** Log-probabilities of the sampled tokens under the policy being trained. */
  logprobs: Float32Array;
  /** Log-probabilities under the policy that the ratio is taken against (recomputed "old" policy). */
  oldLogprobs: Float32Array;
  advantages: Float32Array;
  /** 1 on policy tokens, 0 on environment tokens and padding. */
  lossMask: Float32Array;
  /** Reference log-probabilities; needed when the KL is in the loss with coef > 0. */
  refLogprobs?: Float32Array;
  /** Per-token entropy of the policy distribution; needed when entropyCoef > 0. */
  entropy?: Float32Array;
  /** Per-token, gradient-free weights (async importance correction); 1 when absent. */
  importanceWeights?: Float32Array;
}

/** Loss value, diagnostics and the gradient the engine back-propagates from. */
export interface PolicyLossResult {
  loss: number;
  pgLoss: number;
  /** Aggregated KL estimate (positive means the policy drifted; 0 when the KL is in the reward). */
  kl: number;
  entropy: number;
  /** Share of policy tokens where the clipped branch was active. */
  clipFraction: number;
  /** ∂loss/∂logprobs per token. */
  dLogprobs: Float32Array;
  /** ∂loss/∂entropy per token (−entropyCoef × aggregation weight). */
  dEntropy: Float32Array;
}

export interface PolicyLossOptions {
  /** Add `coef × KL` to the loss (false when the algorithm puts the KL in the reward). */
  klInLoss: boolean;
}

export interface PolicyLossDefinition {
  name: string;
  description: string;
  compute(input: PolicyLossInput, params: AlgorithmParams, opts: PolicyLossOptions): PolicyLossResult;
}

const losses = new Map<string, PolicyLossDefinition>();

/** Registers a policy loss by name (the algorithm definition names the loss it uses). */
export function registerPolicyLoss(def: PolicyLossDefinition): void {
  if (losses.has(def.name)) throw new Error(`policy loss "${def.name}" is already registered; pick another name`);
  losses.set(def.name, def);
}

/** The policy loss registered under `name`. */
export function getPolicyLoss(name: string): PolicyLossDefinition {
  const def = losses.get(name);
  if (def) return def;
  const hint = closest(name, losses.keys());
  throw new Error(`unknown policy loss "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; registered: ${[...losses.keys()].join(', ')}`);
}

/**
 * PPO-clip with optional dual clip, KL penalty *added* to the loss and an
 * entropy bonus:
 *   pg_t  = max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε_high)),  ρ = exp(logp − old)
 *   dual: for A < 0, pg_t = min(pg_t, −A·c)
 *   loss  = agg(w_t · pg_t) + coef · agg(KL_t) − entropyCoef · agg(H_t)
 * where w_t is the async importance weight (1 when on-policy). Because k3 ≥ 0,
 * a policy that drifts from the reference always pays a larger loss.
 */
export function ppoClipLoss(input: PolicyLossInput, params: AlgorithmParams, opts: PolicyLossOptions): PolicyLossResult {
  const { batchSize: B, responseLength: R, logprobs, oldLogprobs, advantages, lossMask } = input;
  const n = B * R;
  for (const [name, arr] of [['logprobs', logprobs], ['oldLogprobs', oldLogprobs], ['advantages', advantages], ['lossMask', lossMask]] as const) {
    if (arr.length !== n) throw new Error(`policy loss: ${name} has ${arr.length} entries, expected batchSize × responseLength = ${n}`);
  }
  const useKl = opts.klInLoss && params.kl.coef > 0;
  if (useKl && (!input.refLogprobs || input.refLogprobs.length !== n)) {
    throw new Error('policy loss: the KL is in the loss (kl.coef > 0) but refLogprobs are missing or mis-sized; compute them with the ReferenceActor');
  }
  const useEntropy = params.entropyCoef > 0 && input.entropy !== undefined;
  const w = aggregationWeights(params.lossAggregation, lossMask, B, R);
  const epsLow = params.clipRatio;
  const epsHigh = params.clipRatioHigh ?? params.clipRatio;
  const dual = params.dualClip;
  const dLogprobs = new Float32Array(n);
  const dEntropy = new Float32Array(n);
  let pg = 0;
  let kl = 0;
  let ent = 0;
  let clipped = 0;
  let tokens = 0;
  for (let i = 0; i < n; i++) {
    if (lossMask[i] === 0) continue;
    tokens++;
    const a = advantages[i];
    const ratio = Math.exp(logprobs[i] - oldLogprobs[i]);
    const iw = input.importanceWeights ? input.importanceWeights[i] : 1;
    const l1 = -a * ratio;
    const clippedRatio = Math.min(1 + epsHigh, Math.max(1 - epsLow, ratio));
    const l2 = -a * clippedRatio;
    let loss = Math.max(l1, l2);
    // gradient of the chosen branch w.r.t. logp (d ratio / d logp = ratio)
    let grad = l1 >= l2 ? -a * ratio : clippedRatio === ratio ? -a * ratio : 0;
    if (l2 > l1) clipped++;
    if (dual !== null && a < 0) {
      const l3 = -a * dual;
      if (l3 < loss) {
        loss = l3;
        grad = 0;
      }
    }
    pg += w[i] * iw * loss;
    dLogprobs[i] = w[i] * iw * grad;
    if (useKl) {
      const ref = input.refLogprobs![i];
      kl += w[i] * klEstimate(params.kl.estimator, logprobs[i], ref, params.kl.clamp);
      dLogprobs[i] += params.kl.coef * w[i] * klGradient(params.kl.estimator, logprobs[i], ref, params.kl.clamp);
    }
    if (useEntropy) {
      ent += w[i] * input.entropy![i];
      dEntropy[i] = -params.entropyCoef * w[i];
    }
  }
  const loss = pg + (useKl ? params.kl.coef * kl : 0) - (useEntropy ? params.entropyCoef * ent : 0);
  return { loss, pgLoss: pg, kl, entropy: ent, clipFraction: tokens ? clipped / tokens : 0, dLogprobs, dEntropy };
}

registerPolicyLoss({ name: 'ppo-clip', description: 'PPO clipped surrogate (+ dual clip), KL added to the loss, entropy bonus', compute: ppoClipLoss });

/** Inputs of the clipped critic loss, response-aligned. */
export interface ValueLossInput {
  values: Float32Array;
  /** Values when the batch was collected (the clip anchor). */
  oldValues: Float32Array;
  returns: Float32Array;
  lossMask: Float32Array;
}

/**
 * Clipped value loss: ½ · token-mean(max((v − R)², (clip(v, v_old ± c) − R)²)),
 * with its gradient w.r.t. the values.
 */
export function clippedValueLoss(input: ValueLossInput, valueClip: number): { loss: number; dValues: Float32Array } {
  const { values, oldValues, returns, lossMask } = input;
  const dValues = new Float32Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (lossMask[i] !== 0) n++;
  if (n === 0) return { loss: 0, dValues };
  let loss = 0;
  for (let i = 0; i < values.length; i++) {
    if (lossMask[i] === 0) continue;
    const v = values[i];
    const vc = Math.min(oldValues[i] + valueClip, Math.max(oldValues[i] - valueClip, v));
    const e1 = (v - returns[i]) ** 2;
    const e2 = (vc - returns[i]) ** 2;
    if (e1 >= e2) {
      loss += e1;
      dValues[i] = (v - returns[i]) / n;
    } else {
      loss += e2;
      dValues[i] = vc === v ? (v - returns[i]) / n : 0;
    }
  }
  return { loss: (0.5 * loss) / n, dValues };
}
