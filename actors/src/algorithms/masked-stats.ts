/** Mean of `x` over positions where `mask` is non-zero (0 when the mask is empty). */
export function maskedMean(x: ArrayLike<number>, mask: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (mask[i] !== 0) {
      s += x[i];
      n++;
    }
  }
  return n > 0 ? s / n : 0;
}

/** Unbiased (Bessel-corrected) variance over masked positions; 0 with fewer than two. */
export function maskedVariance(x: ArrayLike<number>, mask: ArrayLike<number>): number {
  const mean = maskedMean(x, mask);
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    if (mask[i] !== 0) {
      const d = x[i] - mean;
      s += d * d;
      n++;
    }
  }
  return n > 1 ? s / (n - 1) : 0;
}

/**
 * Batch whitening over masked positions: `(x − mean) / sqrt(var + 1e-8)`,
 * masked positions set to 0. With `shiftMean: false` the mean is added back.
 */
export function maskedWhiten(x: ArrayLike<number>, mask: ArrayLike<number>, shiftMean = true): Float32Array {
  const mean = maskedMean(x, mask);
  const inv = 1 / Math.sqrt(maskedVariance(x, mask) + 1e-8);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (mask[i] !== 0) out[i] = (x[i] - mean) * inv + (shiftMean ? 0 : mean);
  }
  return out;
}
