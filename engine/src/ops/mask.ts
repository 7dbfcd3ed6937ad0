import type { DType } from '../graph/dtype.js';
import { normAxis, type Tensor } from '../graph/tensor.js';
import { lessOrEqual } from './compare.js';
import { add, sub } from './elementwise.js';
import { range } from './fill.js';
import { dimSize, unsqueeze } from './shape.js';
import { where } from './where.js';

/**
 * Causal mask for attention scores shaped like `scores` (query axis `qAxis`, key axis
 * `kAxis`): bool [Tq, Tk], true where key j may be attended by query i, i.e.
 * j ≤ i + (Tk − Tq). With a KV cache the queries are the last Tq of Tk positions.
 */
export function causalMask(scores: Tensor, qAxis = -2, kAxis = -1): Tensor {
  const g = scores.graph;
  const qa = normAxis(qAxis, scores.rank, 'causalMask');
  const ka = normAxis(kAxis, scores.rank, 'causalMask');
  const tq = dimSize(scores, qa);
  const tk = dimSize(scores, ka);
  const zero = g.constant(new BigInt64Array([0n]), []);
  const one = g.constant(new BigInt64Array([1n]), []);
  const qi = add(range(zero, tq, one, scores.shape[qa]), sub(tk, tq));
  const kj = range(zero, tk, one, scores.shape[ka]);
  return lessOrEqual(unsqueeze(kj, 0), unsqueeze(qi, 1));
}

/** Additive attention bias from a bool "allowed" mask: 0 where allowed, `value` elsewhere. */
export function maskToBias(allowed: Tensor, dtype: DType = 'float32', value = -1e9): Tensor {
  const g = allowed.graph;
  return where(allowed, g.constant(0, [], dtype), g.constant(value, [], dtype));
}
