import type { Tensor } from '../graph/tensor.js';
import { formatShape } from '../graph/tensor.js';
import { broadcastShapes, isPlainName, unbroadcast } from './broadcast.js';
import { requireFloat, sameDType } from './operand.js';
import { reshape, reshapeLike, transpose } from './shape.js';

function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

/**
 * Batched matrix product a[..., m, k] × b[..., k, n] → [..., m, n] with numpy broadcasting
 * over the batch dims. Both operands need rank ≥ 2 (unsqueeze vectors first).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const g = a.graph;
  g.own(b, 'matmul');
  sameDType(a, b, 'matmul');
  requireFloat(a, 'matmul');
  if (a.rank < 2 || b.rank < 2) {
    throw new Error(`matmul: operands need rank >= 2, got ${formatShape(a.shape)} x ${formatShape(b.shape)}; unsqueeze vectors first`);
  }
  const k1 = a.shape[a.rank - 1];
  const k2 = b.shape[b.rank - 2];
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new Error(`matmul: inner dims differ: ${formatShape(a.shape)} x ${formatShape(b.shape)} (${k1} vs ${k2})`);
  }
  if (typeof k1 === 'string' && typeof k2 === 'string' && k1 !== k2 && isPlainName(k1) && isPlainName(k2)) {
    throw new Error(`matmul: inner dims '${k1}' and '${k2}' differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
  }
  const batch = broadcastShapes(g, a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul (batch dims)');
  const shape = [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]];
  const [y] = g.emit('MatMul', [a, b], [{ dtype: a.dtype, shape }], {
    backward: () => ([gy]) => {
      if (!gy) return [null, null];
      const ga = unbroadcast(matmul(gy, swapLast(b)), a);
      if (b.rank === 2 && a.rank > 2) {
        // Weight gradient of a batched activation: one GEMM over all rows instead of a
        // batched product followed by a ReduceSum.
        const a2 = reshape(a, [-1, a.shape[a.rank - 1]]);
        const gy2 = reshape(gy, [-1, gy.shape[gy.rank - 1]]);
        return [ga, reshapeLike(matmul(transpose(a2, [1, 0]), gy2), b)];
      }
      return [ga, unbroadcast(matmul(swapLast(a), gy), b)];
    },
  });
  return y;
}
