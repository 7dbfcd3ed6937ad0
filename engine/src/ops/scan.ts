import { attr } from '../graph/graph.js';
import { normAxis, type Tensor } from '../graph/tensor.js';
import { zerosLike } from './fill.js';

/** Index of the maximum along `axis` (int64, no gradient; first index on ties). */
export function argmax(x: Tensor, axis = -1, keepdims = false): Tensor {
  const ax = normAxis(axis, x.rank, 'argmax');
  const shape = keepdims ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax);
  const [y] = x.graph.emit('ArgMax', [x], [{ dtype: 'int64', shape }], {
    attrs: { axis: attr.int(ax), keepdims: attr.int(keepdims ? 1 : 0), select_last_index: attr.int(0) },
  });
  return y;
}

/** Cumulative sum along `axis` (optionally exclusive and/or reversed). */
export function cumsum(x: Tensor, axis: number, opts: { exclusive?: boolean; reverse?: boolean } = {}): Tensor {
  const g = x.graph;
  const ax = normAxis(axis, x.rank, 'cumsum');
  const exclusive = opts.exclusive ?? false;
  const reverse = opts.reverse ?? false;
  const [y] = g.emit('CumSum', [x, g.constant(new BigInt64Array([BigInt(ax)]), [])], [{ dtype: x.dtype, shape: [...x.shape] }], {
    attrs: { exclusive: attr.int(exclusive ? 1 : 0), reverse: attr.int(reverse ? 1 : 0) },
    backward: () => ([gy]) => [gy ? cumsum(gy, ax, { exclusive, reverse: !reverse }) : null, null],
  });
  return y;
}

/**
 * The `k` largest (or smallest) entries along `axis`, sorted, with their int64 indices.
 * Gradient flows to the selected entries of `x`.
 */
export function topK(x: Tensor, k: number, axis = -1, largest = true): { values: Tensor; indices: Tensor } {
  const g = x.graph;
  const ax = normAxis(axis, x.rank, 'topK');
  const d = x.shape[ax];
  if (!Number.isInteger(k) || k < 1 || (typeof d === 'number' && k > d)) {
    throw new Error(`topK: k=${k} must be an integer in 1..${typeof d === 'number' ? d : 'dim'} for ${x}`);
  }
  const shape = x.shape.map((dd, i) => (i === ax ? k : dd));
  const [values, indices] = g.emit('TopK', [x, g.constant(new BigInt64Array([BigInt(k)]), [1])], [
    { dtype: x.dtype, shape },
    { dtype: 'int64', shape },
  ], {
    attrs: { axis: attr.int(ax), largest: attr.int(largest ? 1 : 0), sorted: attr.int(1) },
    backward: ([, idx]) => ([gv]) => {
      if (!gv) return [null, null];
      const [gx] = g.emit('ScatterElements', [zerosLike(x), idx, gv], [{ dtype: x.dtype, shape: [...x.shape] }], {
        attrs: { axis: attr.int(ax), reduction: attr.string('add') },
      });
      return [gx, null];
    },
  });
  return { values, indices };
}
