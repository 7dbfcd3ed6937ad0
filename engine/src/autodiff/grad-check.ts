import * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { Session } from '../session/session.js';
import type { SessionOptions } from '../session/options.js';
import { grad } from './grad.js';

/** One loss to check against the graph inputs it should be differentiated by. */
export interface GradCheckCase {
  /** Label used in output names and results. */
  name: string;
  loss: Tensor;
  /** Graph inputs (fed tensors) to differentiate by. */
  wrt: Tensor[];
}

/** Tolerances and session settings of {@link gradCheck}. */
export interface GradCheckOptions {
  /** Finite-difference step (default 1e-6 for float64 feeds, 1e-2 for float32). */
  eps?: number;
  /** Relative tolerance (default 1e-5 for float64, 1e-2 for float32). */
  rtol?: number;
  /** Absolute tolerance (default 1e-7 for float64, 1e-3 for float32). */
  atol?: number;
  session?: SessionOptions;
}

/** Result of one (case, input) pair. */
export interface GradCheckResult {
  case: string;
  wrt: string;
  ok: boolean;
  maxAbsErr: number;
  /** Worst element: flat index, analytic and numeric derivative. */
  worst: { index: number; analytic: number; numeric: number };
}

/**
 * Checks analytic gradients from {@link grad} against central finite differences. All cases
 * share one graph and one session (adds outputs `<case>.loss` and `<case>.d.<input>`; the
 * graph must have no other uses afterwards). Each loss must be a scalar.
 */
export async function gradCheck(
  g: Graph,
  cases: GradCheckCase[],
  feeds: Record<string, ort.Tensor>,
  opts: GradCheckOptions = {},
): Promise<GradCheckResult[]> {
  for (const c of cases) {
    if (c.loss.rank !== 0) throw new Error(`gradCheck: loss of case '${c.name}' must be a scalar, got rank ${c.loss.rank}`);
    for (const w of c.wrt) {
      if (!g.inputs.includes(w)) throw new Error(`gradCheck: '${w.name}' in case '${c.name}' must be a graph input`);
    }
    g.output(`${c.name}.loss`, c.loss);
    grad(c.loss, c.wrt).forEach((gt, i) => g.output(`${c.name}.d.${c.wrt[i].name}`, gt));
  }
  const session = await Session.create(g, opts.session);
  try {
    const analytic = await session.run(feeds);
    const results: GradCheckResult[] = [];
    for (const c of cases) {
      const lossName = `${c.name}.loss`;
      for (const w of c.wrt) {
        const base = feeds[w.name];
        if (!base || (base.type !== 'float64' && base.type !== 'float32')) {
          throw new Error(`gradCheck: feed '${w.name}' must be a float32 or float64 tensor`);
        }
        const f64 = base.type === 'float64';
        const eps = opts.eps ?? (f64 ? 1e-6 : 1e-2);
        const rtol = opts.rtol ?? (f64 ? 1e-5 : 1e-2);
        const atol = opts.atol ?? (f64 ? 1e-7 : 1e-3);
        const data = (base.data as Float64Array | Float32Array).slice();
        const an = analytic[`${c.name}.d.${w.name}`].data as Float64Array | Float32Array;
        let worst = { index: -1, analytic: 0, numeric: 0 };
        let worstExcess = -Infinity;
        let maxAbsErr = 0;
        for (let i = 0; i < data.length; i++) {
          const orig = data[i];
          const at = async (v: number) => {
            data[i] = v;
            const t = f64 ? new ort.Tensor('float64', data.slice(), base.dims) : new ort.Tensor('float32', data.slice() as Float32Array, base.dims);
            const r = await session.run({ ...feeds, [w.name]: t }, [lossName]);
            return Number(r[lossName].data[0]);
          };
          const num = ((await at(orig + eps)) - (await at(orig - eps))) / (2 * eps);
          data[i] = orig;
          const err = Math.abs(an[i] - num);
          maxAbsErr = Math.max(maxAbsErr, err);
          const excess = err - (atol + rtol * Math.max(Math.abs(an[i]), Math.abs(num)));
          if (excess > worstExcess) {
            worstExcess = excess;
            worst = { index: i, analytic: an[i], numeric: num };
          }
        }
        results.push({ case: c.name, wrt: w.name, ok: worstExcess <= 0, maxAbsErr, worst });
      }
    }
    return results;
  } finally {
    await session.release();
  }
}
