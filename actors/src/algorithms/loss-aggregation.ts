/** How per-token losses become one scalar. */
export type LossAggregation = 'token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-mean';

/**
 * Per-token weights w such that the aggregated loss is Σ_i w_i · x_i:
 * - token-mean: 1 / (number of policy tokens in the batch);
 * - seq-mean-token-sum: 1 / batchSize (sum over a sequence, mean over sequences);
 * - seq-mean-token-mean: 1 / (batchSize × tokens of this sequence).
 * Sequences without policy tokens still count in the batch mean (as in veRL and the engine's loss graph).
 * Masked positions get weight 0.
 */
export function aggregationWeights(mode: LossAggregation, mask: ArrayLike<number>, batchSize: number, responseLength: number): Float32Array {
  const w = new Float32Array(batchSize * responseLength);
  if (mode === 'token-mean') {
    let n = 0;
    for (let i = 0; i < w.length; i++) if (mask[i] !== 0) n++;
    if (n === 0) return w;
    for (let i = 0; i < w.length; i++) if (mask[i] !== 0) w[i] = 1 / n;
    return w;
  }
  const perSeq = new Int32Array(batchSize);
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t < responseLength; t++) if (mask[b * responseLength + t] !== 0) perSeq[b]++;
  }
  for (let b = 0; b < batchSize; b++) {
    if (perSeq[b] === 0) continue;
    const wb = mode === 'seq-mean-token-sum' ? 1 / batchSize : 1 / (batchSize * perSeq[b]);
    for (let t = 0; t < responseLength; t++) {
      const i = b * responseLength + t;
      if (mask[i] !== 0) w[i] = wb;
    }
  }
  return w;
}
