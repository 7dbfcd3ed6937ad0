import type { DType } from '../graph/dtype.js';
import { attr } from '../graph/graph.js';
import type { Dim, Tensor } from '../graph/tensor.js';
import { shapeOf } from './shape.js';

/** A tensor of `value` with the run-time shape of `like` (and its static shape). */
export function fullLike(like: Tensor, value: number, dtype: DType = like.dtype): Tensor {
  const g = like.graph;
  const data = g.constant(value, [1], dtype);
  const init = g.initializers.find((i) => i.name === data.name);
  if (!init) throw new Error('fullLike: internal error, constant not found');
  const [y] = g.emit('ConstantOfShape', [shapeOf(like)], [{ dtype, shape: [...like.shape] }], {
    attrs: { value: attr.tensor(init.data) },
    hint: 'full',
  });
  return y;
}

/** Zeros shaped like `like`. */
export const zerosLike = (like: Tensor, dtype?: DType): Tensor => fullLike(like, 0, dtype);
/** Ones shaped like `like`. */
export const onesLike = (like: Tensor, dtype?: DType): Tensor => fullLike(like, 1, dtype);

/**
 * 1-D range [start, limit) with step `delta`; scalar tensors of one dtype (e.g. from dimSize).
 * `length` optionally names the static length of the result (e.g. 'seq').
 */
export function range(start: Tensor, limit: Tensor, delta: Tensor, length?: Dim): Tensor {
  const g = start.graph;
  for (const t of [limit, delta]) g.own(t, 'range');
  if (start.rank !== 0 || limit.rank !== 0 || delta.rank !== 0) throw new Error('range: start, limit and delta must be scalars (rank 0)');
  if (start.dtype !== limit.dtype || start.dtype !== delta.dtype) throw new Error('range: start, limit and delta must share a dtype');
  const [y] = g.emit('Range', [start, limit, delta], [{ dtype: start.dtype, shape: [length ?? g.freshDim()] }]);
  return y;
}
