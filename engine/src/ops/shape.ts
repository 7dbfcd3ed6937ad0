import { attr } from '../graph/graph.js';
import { Tensor, formatShape, normAxis, numel, sameShape, type Dim } from '../graph/tensor.js';
import { broadcastShapes, unbroadcast } from './broadcast.js';

/** The run-time shape of `x` as an int64 1-D tensor (no gradient). */
export function shapeOf(x: Tensor): Tensor {
  const [y] = x.graph.emit('Shape', [x], [{ dtype: 'int64', shape: [x.rank] }], { hint: 'shape' });
  return y;
}

/** The run-time size of dim `axis` of `x` as an int64 scalar (no gradient). */
export function dimSize(x: Tensor, axis: number): Tensor {
  const g = x.graph;
  const d = g.dimOf(x, normAxis(axis, x.rank, 'dimSize'));
  const [y] = g.emit('Reshape', [d, g.constant(new BigInt64Array(0), [0])], [{ dtype: 'int64', shape: [] }], { hint: 'dimsize' });
  return y;
}

function reshapeStatic(x: Tensor, dims: Dim[]): Dim[] {
  const g = x.graph;
  const out: Dim[] = dims.map((d, i) => {
    if (d === 0) {
      if (i >= x.rank) throw new Error(`reshape: 0 at position ${i} copies a dim, but input ${formatShape(x.shape)} has rank ${x.rank}`);
      return x.shape[i];
    }
    return d;
  });
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) throw new Error(`reshape: at most one -1 allowed in ${formatShape(dims)}`);
  for (const d of out) {
    if (typeof d === 'number' && (!Number.isInteger(d) || d < -1)) throw new Error(`reshape: bad dim ${d} in ${formatShape(dims)}`);
  }
  const total = numel(x.shape);
  if (neg === 1) {
    const rest = numel(out.filter((d) => d !== -1));
    const idx = out.indexOf(-1);
    if (total !== null && rest !== null) {
      if (rest === 0 || total % rest !== 0) {
        throw new Error(`reshape: cannot reshape ${formatShape(x.shape)} (${total} elements) to ${formatShape(dims)}`);
      }
      out[idx] = total / rest;
    } else {
      // Cancel dims shared by input and target to keep names where possible.
      const inRest = [...x.shape];
      const tRest = out.filter((_, i) => i !== idx);
      const left: Dim[] = [];
      for (const d of tRest) {
        const j = inRest.indexOf(d);
        if (j >= 0) inRest.splice(j, 1);
        else left.push(d);
      }
      const inNum = numel(inRest);
      const leftNum = numel(left);
      if (inRest.length === 1 && left.length === 0) out[idx] = inRest[0];
      else if (inNum !== null && leftNum !== null && leftNum > 0 && inNum % leftNum === 0) out[idx] = inNum / leftNum;
      else if (left.length === 0 && inRest.every((d) => typeof d === 'number' || !d.startsWith('?'))) {
        // A product of named dims gets a deterministic name ('batch*seq'), so two reshapes of
        // the same dims agree statically.
        out[idx] = inRest.join('*');
      } else out[idx] = g.freshDim();
    }
  } else {
    const want = numel(out);
    if (total !== null && want !== null && total !== want) {
      throw new Error(`reshape: cannot reshape ${formatShape(x.shape)} (${total} elements) to ${formatShape(dims)} (${want} elements)`);
    }
  }
  return out;
}

/**
 * Reshape. `shape` entries: numbers (0 copies the input dim, -1 is inferred), names of
 * symbolic dims (resolved at run time), or a run-time int64 shape tensor.
 */
export function reshape(x: Tensor, shape: Dim[] | Tensor): Tensor {
  const g = x.graph;
  let outShape: Dim[];
  let shapeT: Tensor;
  if (shape instanceof Tensor) {
    g.own(shape, 'reshape');
    const k = shape.shape[0];
    if (shape.dtype !== 'int64' || shape.rank !== 1 || typeof k !== 'number') {
      throw new Error(`reshape: a shape tensor must be int64 1-D with a static length, got ${shape}`);
    }
    outShape = Array.from({ length: k }, () => g.freshDim());
    shapeT = shape;
  } else {
    outShape = reshapeStatic(x, shape);
    // A name at the same position as in x copies that dim (0), so shapes like
    // ['batch', 'seq', 4, 8] from [batch, seq, 32] become constants: no run-time Shape/Concat.
    const resolved = shape.map((d, i) => (typeof d === 'string' && i < x.rank && x.shape[i] === d ? 0 : d));
    shapeT = g.shapeTensor(resolved, 'reshape');
  }
  if (sameShape(outShape, x.shape) && !(shape instanceof Tensor)) return x;
  const [y] = g.emit('Reshape', [x, shapeT], [{ dtype: x.dtype, shape: outShape }], {
    backward: () => ([gy]) => [gy ? reshapeLike(gy, x) : null, null],
  });
  return y;
}

/** Reshapes `x` to the (run-time) shape of `like`, keeping `like`'s static shape. */
export function reshapeLike(x: Tensor, like: Tensor): Tensor {
  const g = x.graph;
  if (sameShape(x.shape, like.shape)) return x;
  const n = numel(like.shape);
  const shapeT = n !== null ? g.shapeTensor(like.shape, 'reshapeLike') : shapeOf(like);
  const [y] = g.emit('Reshape', [x, shapeT], [{ dtype: x.dtype, shape: [...like.shape] }], {
    hint: 'reshape',
    backward: () => ([gy]) => [gy ? reshapeLike(gy, x) : null, null],
  });
  return y;
}

/** Permutes axes (default: reverse them). */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  const sorted = [...p].map((a) => normAxis(a, x.rank, 'transpose')).sort((a, b) => a - b);
  if (p.length !== x.rank || sorted.some((a, i) => a !== i)) {
    throw new Error(`transpose: perm ${formatShape(p)} is not a permutation of 0..${x.rank - 1} for ${x}`);
  }
  const np = p.map((a) => normAxis(a, x.rank, 'transpose'));
  const inv = new Array<number>(np.length);
  np.forEach((a, i) => (inv[a] = i));
  const [y] = x.graph.emit('Transpose', [x], [{ dtype: x.dtype, shape: np.map((a) => x.shape[a]) }], {
    attrs: { perm: attr.ints(np) },
    backward: () => ([gy]) => [gy ? transpose(gy, inv) : null],
  });
  return y;
}

/** Inserts size-1 dims at `axes` (positions in the output). */
export function unsqueeze(x: Tensor, axes: number | number[]): Tensor {
  const list = Array.isArray(axes) ? axes : [axes];
  const rank = x.rank + list.length;
  const norm = list.map((a) => normAxis(a, rank, 'unsqueeze')).sort((a, b) => a - b);
  if (new Set(norm).size !== norm.length) throw new Error(`unsqueeze: repeated axes ${formatShape(list)}`);
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : x.shape[j++]);
  const g = x.graph;
  const [y] = g.emit('Unsqueeze', [x, g.constant(BigInt64Array.from(norm, BigInt), [norm.length])], [{ dtype: x.dtype, shape: out }], {
    backward: () => ([gy]) => [gy ? reshapeLike(gy, x) : null, null],
  });
  return y;
}

/** Removes size-1 dims at `axes` (default: all static 1s). */
export function squeeze(x: Tensor, axes?: number | number[]): Tensor {
  const list = axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : Array.isArray(axes) ? axes : [axes];
  const norm = list.map((a) => normAxis(a, x.rank, 'squeeze'));
  for (const a of norm) {
    const d = x.shape[a];
    if (typeof d === 'number' && d !== 1) throw new Error(`squeeze: dim ${a} of ${x} is ${d}, not 1`);
  }
  if (norm.length === 0) return x;
  const g = x.graph;
  const out = x.shape.filter((_, i) => !norm.includes(i));
  const [y] = g.emit('Squeeze', [x, g.constant(BigInt64Array.from(norm, BigInt), [norm.length])], [{ dtype: x.dtype, shape: out }], {
    backward: () => ([gy]) => [gy ? reshapeLike(gy, x) : null, null],
  });
  return y;
}

/** Broadcasts `x` to `shape` (numpy rules; names resolve at run time) or to a run-time shape tensor. */
export function expand(x: Tensor, shape: Dim[] | Tensor): Tensor {
  const g = x.graph;
  let outShape: Dim[];
  let shapeT: Tensor;
  if (shape instanceof Tensor) {
    g.own(shape, 'expand');
    const k = shape.shape[0];
    if (shape.dtype !== 'int64' || shape.rank !== 1 || typeof k !== 'number') {
      throw new Error(`expand: a shape tensor must be int64 1-D with a static length, got ${shape}`);
    }
    outShape = broadcastShapes(g, x.shape, Array.from({ length: k }, () => g.freshDim()), 'expand');
    shapeT = shape;
  } else {
    outShape = broadcastShapes(g, x.shape, shape, 'expand');
    // A name equal to x's aligned dim can be 1 (Expand broadcasts), avoiding run-time lookups.
    const off = shape.length - x.rank;
    const resolved = shape.map((d, i) => (typeof d === 'string' && i >= off && x.shape[i - off] === d ? 1 : d));
    shapeT = g.shapeTensor(resolved, 'expand');
  }
  const [y] = g.emit('Expand', [x, shapeT], [{ dtype: x.dtype, shape: outShape }], {
    backward: () => ([gy]) => [gy ? unbroadcast(gy, x) : null, null],
  });
  return y;
}

/** Expands `x` to the run-time shape of `like` (numpy broadcasting). */
export function expandLike(x: Tensor, like: Tensor): Tensor {
  if (sameShape(x.shape, like.shape)) return x;
  const g = x.graph;
  const shapeT = numel(like.shape) !== null ? g.shapeTensor(like.shape, 'expandLike') : shapeOf(like);
  const [y] = g.emit('Expand', [x, shapeT], [{ dtype: x.dtype, shape: broadcastShapes(g, x.shape, like.shape, 'expandLike') }], {
    hint: 'expand',
    backward: () => ([gy]) => [gy ? unbroadcast(gy, x) : null, null],
  });
  return y;
}
