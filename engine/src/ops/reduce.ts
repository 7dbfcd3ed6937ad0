import { attr } from '../graph/graph.js';
import { Tensor, normAxis, numel, type Dim } from '../graph/tensor.js';
import { equal } from './compare.js';
import { add, div, mul, sub } from './elementwise.js';
import { requireFloat } from './operand.js';
import { expandLike, shapeOf, squeeze, unsqueeze } from './shape.js';
import { exp, log, stopGradient } from './unary.js';
import { cast } from './where.js';

function normAxes(x: Tensor, axes: number | number[] | undefined, where: string): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : Array.isArray(axes) ? axes : [axes];
  const norm = [...new Set(list.map((a) => normAxis(a, x.rank, where)))].sort((a, b) => a - b);
  return norm;
}

function reducedShape(x: Tensor, axes: number[], keepdims: boolean): Dim[] {
  return keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
}

function reduce(
  op: string,
  onnxOp: string,
  x: Tensor,
  axes0: number | number[] | undefined,
  keepdims: boolean,
  grad: ((axes: number[], y: Tensor, gyKeep: Tensor) => Tensor) | null,
): Tensor {
  const g = x.graph;
  const axes = normAxes(x, axes0, op);
  if (axes.length === 0) return x;
  const axesT = g.constant(BigInt64Array.from(axes, BigInt), [axes.length]);
  const [y] = g.emit(onnxOp, [x, axesT], [{ dtype: x.dtype, shape: reducedShape(x, axes, keepdims) }], {
    attrs: { keepdims: attr.int(keepdims ? 1 : 0) },
    hint: op,
    backward: grad
      ? ([y]) =>
          ([gy]) => {
            if (!gy) return [null, null];
            const gyKeep = keepdims ? gy : unsqueeze(gy, axes);
            return [grad(axes, y, gyKeep), null];
          }
      : undefined,
  });
  return y;
}

/** Sum over `axes` (default: all). */
export function sum(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return reduce('sum', 'ReduceSum', x, axes, keepdims, (_axes, _y, gk) => expandLike(gk, x));
}

/** Number of elements reduced over `axes`, as a scalar of x's dtype (run time if symbolic). @internal */
export function reducedCount(x: Tensor, axes: number[]): Tensor {
  const g = x.graph;
  const n = numel(axes.map((a) => x.shape[a]));
  if (n !== null) return g.constant(n, [], x.dtype);
  const [dims] = g.emit('Gather', [shapeOf(x), g.constant(BigInt64Array.from(axes, BigInt), [axes.length])], [{ dtype: 'int64', shape: [axes.length] }], {
    attrs: { axis: attr.int(0) },
  });
  const [prod] = g.emit('ReduceProd', [dims], [{ dtype: 'int64', shape: [] }], { attrs: { keepdims: attr.int(0) } });
  return stopGradient(cast(prod, x.dtype));
}

/** Mean over `axes` (default: all). */
export function mean(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  requireFloat(x, 'mean');
  return reduce('mean', 'ReduceMean', x, axes, keepdims, (axes, _y, gk) => div(expandLike(gk, x), reducedCount(x, axes)));
}

/** Maximum over `axes`; the gradient is split evenly among tied maxima. */
export function max(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return reduce('max', 'ReduceMax', x, axes, keepdims, (axes, y, gk) => {
    const yk = keepdims ? y : unsqueeze(y, axes);
    const mask = cast(equal(x, expandLike(yk, x)), x.dtype);
    return div(mul(mask, gk), sum(mask, axes, true));
  });
}

/** Minimum over `axes` (no gradient; use for masks and statistics). */
export function min(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return reduce('min', 'ReduceMin', x, axes, keepdims, null);
}

/** Numerically stable log Σ exp(x) over `axis`. */
export function logSumExp(x: Tensor, axis: number, keepdims = false): Tensor {
  const m = stopGradient(max(x, axis, true));
  const r = add(log(sum(exp(sub(x, m)), axis, true)), m);
  return keepdims ? r : squeeze(r, axis);
}
