import { isFloat } from '../graph/dtype.js';
import { Tensor, formatShape } from '../graph/tensor.js';
import { onesLike, zerosLike } from '../ops/fill.js';

/**
 * Reverse-mode autodiff. Appends the backward pass of `loss` with respect to each tensor in
 * `wrt` to the same graph, using only standard ONNX ops, and returns the gradients in order
 * (shaped like each `wrt`). Contributions from several consumers are summed; broadcasting is
 * reduced back; integer paths and ops without gradients pass none. A `wrt` the loss does not
 * depend on gets zeros. `seed` (default: ones shaped like `loss`) is dLoss.
 */
export function grad(loss: Tensor, wrt: Tensor[], seed?: Tensor): Tensor[] {
  if (!(loss instanceof Tensor)) throw new Error('grad: loss must be a Tensor');
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new Error(`grad: loss must be float, got ${loss.dtype} ('${loss.name}')`);
  if (!Array.isArray(wrt) || wrt.length === 0) throw new Error('grad: wrt must be a non-empty array of tensors');
  for (const w of wrt) {
    g.own(w, 'grad');
    if (!isFloat(w.dtype)) throw new Error(`grad: cannot differentiate with respect to ${w.dtype} tensor '${w.name}'`);
  }
  if (seed) {
    g.own(seed, 'grad seed');
    if (seed.dtype !== loss.dtype) throw new Error(`grad: seed dtype ${seed.dtype} differs from loss dtype ${loss.dtype}`);
  }

  const tape = g.tape.slice();
  const dependent = new Set<Tensor>(wrt);
  const active = tape.map((e) => {
    if (!e.inputs.some((t) => t !== null && dependent.has(t))) return false;
    for (const o of e.outputs) dependent.add(o);
    return true;
  });

  const pending = new Map<Tensor, Tensor[]>();
  const collect = (t: Tensor): Tensor | null => {
    const parts = pending.get(t);
    if (!parts || parts.length === 0) return null;
    if (parts.length === 1) return parts[0];
    const [s] = g.emit('Sum', parts, [{ dtype: t.dtype, shape: [...t.shape] }], {
      hint: 'gradsum',
      backward: () => ([gy]) => parts.map(() => gy), // keeps higher-order gradients flowing
    });
    pending.set(t, [s]);
    return s;
  };

  if (dependent.has(loss)) {
    pending.set(loss, [seed ?? (loss.rank === 0 ? g.constant(1, [], loss.dtype) : onesLike(loss))]);
    for (let i = tape.length - 1; i >= 0; i--) {
      const e = tape[i];
      if (!active[i] || !e.backward) continue;
      const gys = e.outputs.map(collect);
      if (gys.every((x) => x === null)) continue;
      const gxs = e.backward(gys);
      e.inputs.forEach((inp, j) => {
        const gx = gxs[j];
        if (!inp || !gx || !dependent.has(inp) || !isFloat(inp.dtype)) return;
        checkGradShape(e.op, inp, gx);
        const list = pending.get(inp);
        if (list) list.push(gx);
        else pending.set(inp, [gx]);
      });
    }
  }
  return wrt.map((w) => collect(w) ?? zerosLike(w));
}

function checkGradShape(op: string, x: Tensor, gx: Tensor): void {
  const bad =
    gx.rank !== x.rank ||
    x.shape.some((d, i) => typeof d === 'number' && typeof gx.shape[i] === 'number' && d !== gx.shape[i]);
  if (bad || gx.dtype !== x.dtype) {
    throw new Error(
      `grad: internal error in the ${op} backward rule: gradient ${gx.dtype}${formatShape(gx.shape)} does not match input '${x.name}' ${x.dtype}${formatShape(x.shape)}`,
    );
  }
}
