/** Gradients by parameter name. */
export type GradMap = Map<string, Float32Array>;

/** Global L2 norm of all gradients (accumulated in float64). */
export function globalGradNorm(grads: GradMap): number {
  let s = 0;
  for (const g of grads.values()) {
    let part = 0;
    for (let i = 0; i < g.length; i++) part += g[i] * g[i];
    s += part;
  }
  return Math.sqrt(s);
}

/**
 * Scales all gradients in place so their global norm is at most `maxNorm` (PyTorch's
 * clip_grad_norm_). Returns the norm before clipping. A non-finite norm leaves grads as is.
 * `norm` is the global norm when the caller knows it (e.g. summed over the shards of a
 * sharded gradient, of which `grads` is one); default: the norm of `grads`.
 */
export function clipGradNorm(grads: GradMap, maxNorm: number, norm = globalGradNorm(grads)): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const k = maxNorm / (norm + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] *= k;
  }
  return norm;
}

/** Sums micro-batch gradients (each scaled by `scale`) into one buffer per parameter. */
export class GradAccumulator {
  readonly grads: GradMap = new Map();
  /** Micro-batches added since the last reset. */
  count = 0;

  /** Adds `scale · g` for each gradient. */
  add(grads: Map<string, Float32Array>, scale = 1): void {
    for (const [name, g] of grads) {
      let acc = this.grads.get(name);
      if (!acc) {
        acc = new Float32Array(g.length);
        this.grads.set(name, acc);
      }
      if (acc.length !== g.length) throw new Error(`GradAccumulator: gradient '${name}' has ${g.length} elements, expected ${acc.length}`);
      for (let i = 0; i < g.length; i++) acc[i] += scale * g[i];
    }
    this.count++;
  }

  /** Zeroes the buffers (keeps the memory). */
  reset(): void {
    for (const g of this.grads.values()) g.fill(0);
    this.count = 0;
  }
}
