import type { AlgorithmParams } from './params.js';
import { klEstimate } from './kl.js';
import type { AdvantageBatch } from './types.js';

/**
 * Index (within the response) of the token that carries the scalar reward:
 * the last response token, as in the reference (`valid_response_length − 1`).
 * Cohort's rollout ends every response on a policy-generated token, so this is
 * also the last token with loss mask 1 (trajectory validation enforces it).
 */
export function rewardTokenIndex(responseLength: number): number {
  return responseLength - 1;
}

/**
 * Token-level rewards [B, R]: the score on the last response token; with
 * `klInReward`, minus `coef × KL` on every policy token (needs old and ref log-probs).
 */
export function tokenLevelRewards(batch: AdvantageBatch, params: AlgorithmParams, klInReward: boolean): Float32Array {
  const { batchSize: B, responseLength: R } = batch;
  const out = new Float32Array(B * R);
  if (klInReward && params.kl.coef > 0) {
    if (!batch.oldLogprobs || !batch.refLogprobs) {
      throw new Error('KL in reward needs oldLogprobs and refLogprobs in the batch; run the ReferenceActor or set algorithm.params.kl.inReward: false');
    }
    for (let i = 0; i < B * R; i++) {
      if (batch.lossMask[i] !== 0) {
        out[i] = -params.kl.coef * klEstimate(params.kl.estimator, batch.oldLogprobs[i], batch.refLogprobs[i], params.kl.clamp);
      }
    }
  }
  for (let b = 0; b < B; b++) {
    const len = batch.responseLengths[b];
    if (len > 0) out[b * R + rewardTokenIndex(len)] += batch.scores[b];
  }
  return out;
}

/** Broadcasts one scalar per trajectory over its policy tokens. */
export function broadcastOverMask(perSequence: ArrayLike<number>, batch: AdvantageBatch): Float32Array {
  const { batchSize: B, responseLength: R } = batch;
  const out = new Float32Array(B * R);
  for (let b = 0; b < B; b++) {
    const v = perSequence[b];
    for (let t = 0; t < R; t++) {
      const i = b * R + t;
      if (batch.lossMask[i] !== 0) out[i] = v;
    }
  }
  return out;
}

/** Trajectory indices grouped by group id, in first-seen order. */
export function groupIndices(groupIds: readonly string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  groupIds.forEach((g, i) => {
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(i);
  });
  return groups;
}
