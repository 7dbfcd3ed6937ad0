/** A seeded PRNG (sfc32, 32-bit state words from a splitmix-style seed). Deterministic across runs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
    const next = (): number => {
      s = (s + 0x6d2b79f5) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 15), z | 1);
      z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
      return (z ^ (z >>> 14)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** Next uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

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
