import { attr } from '../graph/graph.js';
import { Tensor, formatShape, normAxis, type Dim } from '../graph/tensor.js';
import { range, zerosLike } from './fill.js';
import { dimSize, expandLike, reshape } from './shape.js';

/** Concatenates tensors along `axis`; other dims must match. */
export function concat(xs: Tensor[], axis: number): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: needs a non-empty array of tensors');
  const g = xs[0].graph;
  const first = xs[0];
  const ax = normAxis(axis, first.rank, 'concat');
  for (const x of xs) {
    g.own(x, 'concat');
    if (x.dtype !== first.dtype) throw new Error(`concat: dtype mismatch ${first.dtype} vs ${x.dtype} ('${x.name}')`);
    if (x.rank !== first.rank) throw new Error(`concat: rank mismatch ${formatShape(first.shape)} vs ${formatShape(x.shape)}`);
    x.shape.forEach((d, i) => {
      const d0 = first.shape[i];
      if (i !== ax && typeof d === 'number' && typeof d0 === 'number' && d !== d0) {
        throw new Error(`concat: dim ${i} differs: ${formatShape(first.shape)} vs ${formatShape(x.shape)} (axis ${ax})`);
      }
    });
  }
  if (xs.length === 1) return first;
  const parts = xs.map((x) => x.shape[ax]);
  const axisDim: Dim = parts.every((d) => typeof d === 'number') ? (parts as number[]).reduce((a, b) => a + b, 0) : parts.join('+');
  const shape = first.shape.map((d, i) => {
    if (i === ax) return axisDim;
    const num = xs.map((x) => x.shape[i]).find((v) => typeof v === 'number');
    return num ?? d;
  });
  const [y] = g.emit('Concat', xs, [{ dtype: first.dtype, shape }], {
    attrs: { axis: attr.int(ax) },
    backward: () => ([gy]) => {
      if (!gy) return xs.map(() => null);
      const splitT = parts.every((d) => typeof d === 'number')
        ? g.shapeTensor(parts, 'concat backward')
        : g.emit('Concat', xs.map((x) => g.dimOf(x, ax)), [{ dtype: 'int64', shape: [xs.length] }], { attrs: { axis: attr.int(0) } })[0];
      return split(gy, splitT, ax, xs);
    },
  });
  return y;
}

function split(x: Tensor, sizes: Tensor, axis: number, likes: Tensor[]): Tensor[] {
  return x.graph.emit('Split', [x, sizes], likes.map((l) => ({ dtype: x.dtype, shape: [...l.shape] })), {
    attrs: { axis: attr.int(axis) },
  });
}

const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;
function toI64(v: number): bigint {
  if (v >= 2 ** 53) return I64_MAX;
  if (v <= -(2 ** 53)) return I64_MIN;
  if (!Number.isInteger(v)) throw new Error(`slice: bound ${v} is not an integer`);
  return BigInt(v);
}

function sliceLen(d: Dim, start: number, end: number, step: number, fresh: () => string): Dim {
  if (typeof d === 'number') {
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    if (step > 0) {
      const s = clamp(start < 0 ? start + d : start, 0, d);
      const e = clamp(end < 0 ? end + d : end, 0, d);
      return Math.max(0, Math.ceil((e - s) / step));
    }
    const s = clamp(start < 0 ? start + d : start, 0, d - 1);
    const e = clamp(end < 0 ? end + d : end, -1, d - 1);
    return Math.max(0, Math.ceil((s - e) / -step));
  }
  if (step === 1) {
    const big = 2 ** 53;
    if (start >= 0 && end >= 0 && end < big) return end - start;
    if (start < 0 && end >= big) return -start;
    if (start < 0 && end < 0) return Math.max(0, end - start);
  }
  return fresh();
}

function slice1(x: Tensor, start: number, end: number, axis: number, step: number): Tensor {
  const g = x.graph;
  const shape = [...x.shape];
  shape[axis] = sliceLen(x.shape[axis], start, end, step, () => g.freshDim());
  const c = (v: number) => g.constant(new BigInt64Array([toI64(v)]), [1]);
  const [s, e, a, st] = [c(start), c(end), c(axis), c(step)];
  const [y] = g.emit('Slice', [x, s, e, a, st], [{ dtype: x.dtype, shape }], {
    backward: () => ([gy]) => {
      if (!gy) return [null, null, null, null, null];
      // Positions this slice took along `axis`, scattered back into zeros shaped like x.
      const zero = g.constant(new BigInt64Array([0n]), []);
      const one = g.constant(new BigInt64Array([1n]), []);
      const iota = range(zero, dimSize(x, axis), one);
      const [pos] = g.emit('Slice', [iota, s, e, g.constant(new BigInt64Array([0n]), [1]), st], [{ dtype: 'int64', shape: [shape[axis]] }]);
      const idxShape = x.shape.map((_, i) => (i === axis ? -1 : 1));
      const idx = expandLike(reshape(pos, idxShape), gy);
      const [gx] = g.emit('ScatterElements', [zerosLike(x), idx, gy], [{ dtype: x.dtype, shape: [...x.shape] }], {
        attrs: { axis: attr.int(axis) },
      });
      return [gx, null, null, null, null];
    },
  });
  return y;
}

/**
 * Slices like ONNX Slice: for each i, x[starts[i]:ends[i]:steps[i]] along axes[i] (default
 * axes 0..n-1, steps 1). Negative bounds count from the end; use Infinity for "to the end".
 * On a symbolic dim the static length assumes the bounds fit (x[:, 0:5] of 'seq' is 5 long).
 */
export function slice(x: Tensor, starts: number[], ends: number[], axes?: number[], steps?: number[]): Tensor {
  const ax = axes ?? starts.map((_, i) => i);
  const st = steps ?? starts.map(() => 1);
  if (starts.length !== ends.length || ax.length !== starts.length || st.length !== starts.length) {
    throw new Error(`slice: starts, ends, axes and steps need equal lengths, got ${starts.length}, ${ends.length}, ${ax.length}, ${st.length}`);
  }
  let y = x;
  for (let i = 0; i < starts.length; i++) {
    if (!Number.isInteger(st[i]) || st[i] === 0) throw new Error(`slice: step must be a non-zero integer, got ${st[i]}`);
    y = slice1(y, starts[i], ends[i], normAxis(ax[i], x.rank, 'slice'), st[i]);
  }
  return y;
}

/** Splits `x` along `axis` into pieces of the given static sizes. */
export function splitSizes(x: Tensor, sizes: number[], axis: number): Tensor[] {
  const ax = normAxis(axis, x.rank, 'split');
  let off = 0;
  return sizes.map((n) => {
    const s = slice(x, [off], [off + n], [ax]);
    off += n;
    return s;
  });
}

