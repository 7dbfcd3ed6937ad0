import { assertDType, isFloat, type DType } from '../graph/dtype.js';
import { attr } from '../graph/graph.js';
import { Tensor } from '../graph/tensor.js';
import { broadcastShapes, unbroadcast } from './broadcast.js';
import { and, greaterOrEqual, lessOrEqual } from './compare.js';
import { lift, sameDType, type Operand } from './operand.js';

/** Elementwise select: cond ? a : b (numpy broadcasting over all three). */
export function where(cond: Tensor, a0: Operand, b0: Operand): Tensor {
  if (!(cond instanceof Tensor) || cond.dtype !== 'bool') {
    throw new Error(`where: condition must be a bool tensor, got ${cond instanceof Tensor ? cond.dtype : typeof cond}`);
  }
  if (typeof a0 === 'number' && typeof b0 === 'number') throw new Error('where: at least one branch must be a Tensor');
  const a = typeof a0 === 'number' ? lift(a0, b0 as Tensor) : a0;
  const b = lift(b0, a);
  const dtype = sameDType(a, b, 'where');
  const g = cond.graph;
  const shape = broadcastShapes(g, broadcastShapes(g, cond.shape, a.shape, 'where'), b.shape, 'where');
  const [y] = g.emit('Where', [cond, a, b], [{ dtype, shape }], {
    backward: () => ([gy]) => {
      if (!gy) return [null, null, null];
      return [null, unbroadcast(where(cond, gy, 0), a), unbroadcast(where(cond, 0, gy), b)];
    },
  });
  return y;
}

/** Converts the element type (gradient flows between float types). */
export function cast(x: Tensor, dtype: DType): Tensor {
  assertDType(dtype, 'cast');
  if (x.dtype === dtype) return x;
  const [y] = x.graph.emit('Cast', [x], [{ dtype, shape: [...x.shape] }], {
    attrs: { to: attr.int(onnxCode(dtype)) },
    backward: () => ([gy]) => [gy && isFloat(x.dtype) && isFloat(dtype) ? cast(gy, x.dtype) : null],
  });
  return y;
}

function onnxCode(d: DType): number {
  return { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 }[d];
}

/** Clamps x to [lo, hi] (either bound optional); gradient passes inside the range. */
export function clip(x: Tensor, lo?: number, hi?: number): Tensor {
  const g = x.graph;
  const loT = lo === undefined ? null : g.constant(lo, [], x.dtype);
  const hiT = hi === undefined ? null : g.constant(hi, [], x.dtype);
  const [y] = g.emit('Clip', [x, loT, hiT], [{ dtype: x.dtype, shape: [...x.shape] }], {
    backward: () => ([gy]) => {
      if (!gy) return [null, null, null];
      let inside: Tensor | null = null;
      if (loT) inside = greaterOrEqual(x, loT);
      if (hiT) inside = inside ? and(inside, lessOrEqual(x, hiT)) : lessOrEqual(x, hiT);
      return [inside ? where(inside, gy, 0) : gy, null, null];
    },
  });
  return y;
}

/** Keeps values where `mask` is true and writes `value` elsewhere (e.g. −1e9 for attention). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, x, value);
}
