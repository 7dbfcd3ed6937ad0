// Float arrays for collective tests: seeded values, an elementwise mean, a max difference.

/** `n` floats in [-0.5, 0.5) from a linear congruential generator seeded with `seed`. */
export function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

/** The elementwise mean, in float64. */
export function mean(xs: Float32Array[]): Float64Array {
  const out = new Float64Array(xs[0].length);
  for (const x of xs) for (let i = 0; i < x.length; i++) out[i] += x[i] / xs.length;
  return out;
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
