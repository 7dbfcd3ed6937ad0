import type { Graph } from '../graph/graph.js';
import { Tensor, formatShape, sameShape, type Dim } from '../graph/tensor.js';
import { sum } from './reduce.js';
import { reshapeLike } from './shape.js';

/** A user-declared dim name (not derived like 'a*b', 'a+b' or a fresh '?n'). */
export function isPlainName(d: string): boolean {
  return /^[A-Za-z_][\w.]*$/.test(d);
}

/**
 * Numpy-style broadcast of static shapes. Equal names match; 1 broadcasts; a name against a
 * number n≠1 gives n; two different declared names are an error; other name pairs give a fresh run-time dim.
 */
export function broadcastShapes(g: Graph, a: readonly Dim[], b: readonly Dim[], where: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (typeof da === 'number' && typeof db === 'number') {
      throw new Error(`${where}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast (dim ${i}: ${da} vs ${db})`);
    } else if (typeof da === 'number') out.push(da);
    else if (typeof db === 'number') out.push(db);
    else if (isPlainName(da) && isPlainName(db)) {
      throw new Error(
        `${where}: shapes ${formatShape(a)} and ${formatShape(b)} pair dims '${da}' and '${db}' (dim ${i}); if they are the same size, reshape one side to the other's name`,
      );
    } else out.push(g.freshDim());
  }
  return out;
}

/**
 * Sums a gradient `gy` (shaped like a broadcast result) back to the shape of `target`:
 * ReduceSum over the broadcast axes, then Reshape to target's shape.
 */
export function unbroadcast(gy: Tensor, target: Tensor): Tensor {
  if (sameShape(gy.shape, target.shape)) return gy;
  const lead = gy.rank - target.rank;
  const axes: number[] = [];
  for (let i = 0; i < gy.rank; i++) {
    if (i < lead) axes.push(i);
    else if (target.shape[i - lead] === 1 && gy.shape[i] !== 1) axes.push(i);
  }
  const reduced = axes.length ? sum(gy, axes, true) : gy;
  return reshapeLike(reduced, target);
}
