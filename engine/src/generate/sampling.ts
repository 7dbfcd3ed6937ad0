import type { Rng } from '../random/rng.js';

/** In-place log-softmax of `x[off .. off+n)` into `out` (float64 accumulation). */
export function logSoftmaxRow(x: Float32Array, off: number, n: number, out: Float64Array, temperature = 1): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[off + i] / temperature;
    out[i] = v;
    if (v > max) max = v;
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(out[i] - max);
  const lse = max + Math.log(s);
  for (let i = 0; i < n; i++) out[i] -= lse;
}

/** Index of the largest value (first on ties). */
export function argmax(x: Float64Array, n = x.length): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Samples from log-probabilities restricted to the smallest set of tokens whose probability
 * mass reaches `topP` (nucleus sampling). `order` is scratch space of length n.
 */
export function sampleTopP(logp: Float64Array, n: number, topP: number, rng: Rng, order: Int32Array): number {
  const u = rng.next();
  if (topP >= 1) {
    let target = u;
    for (let i = 0; i < n; i++) {
      target -= Math.exp(logp[i]);
      if (target < 0) return i;
    }
    return argmax(logp, n);
  }
  for (let i = 0; i < n; i++) order[i] = i;
  const idx = order.subarray(0, n);
  idx.sort((a, b) => logp[b] - logp[a] || a - b);
  let mass = 0;
  let k = 0;
  while (k < n) {
    mass += Math.exp(logp[idx[k]]);
    k++;
    if (mass >= topP) break;
  }
  let target = u * mass;
  for (let j = 0; j < k; j++) {
    target -= Math.exp(logp[idx[j]]);
    if (target < 0) return idx[j];
  }
  return idx[k - 1];
}
