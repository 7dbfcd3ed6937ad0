/**
 * Element-wise mean of several gradient maps (same names and sizes), weighted
 * by `weights` (e.g. rows per learner shard) when given. The driver-side
 * all-reduce used until the runtime offers collectives: every learner applies
 * the same averaged gradient, so their parameters stay identical.
 */
export function averageGradients(grads: readonly Map<string, Float32Array>[], weights?: readonly number[]): Map<string, Float32Array> {
  if (grads.length === 0) throw new Error('averageGradients: no gradients given');
  const w = weights ?? grads.map(() => 1);
  if (w.length !== grads.length) throw new Error(`averageGradients: ${grads.length} gradient maps but ${w.length} weights`);
  const total = w.reduce((s, x) => s + x, 0);
  if (!(total > 0)) throw new Error('averageGradients: the weights sum to 0');
  const out = new Map<string, Float32Array>();
  for (const [name, g0] of grads[0]) {
    const acc = new Float32Array(g0.length);
    grads.forEach((g, k) => {
      const gk = g.get(name);
      if (!gk || gk.length !== g0.length) throw new Error(`averageGradients: learner ${k} has no gradient "${name}" of size ${g0.length}`);
      const f = w[k] / total;
      for (let i = 0; i < acc.length; i++) acc[i] += f * gk[i];
    });
    out.set(name, acc);
  }
  return out;
}
