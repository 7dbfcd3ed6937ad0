import type { DType } from '../graph/dtype.js';
import { Tensor, formatShape } from '../graph/tensor.js';
import { concat, slice } from './concat-slice.js';
import { add, mul } from './elementwise.js';
import { unsqueeze } from './shape.js';
import { cos, neg, sin } from './unary.js';
import { cast } from './where.js';

/** Inverse frequencies θ^(−2i/d), i < d/2 (Llama/Qwen2 rotary convention). */
export function rotaryInvFreq(headDim: number, theta = 10000): Float64Array {
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2 !== 0) {
    throw new Error(`rotary: headDim must be a positive even integer, got ${headDim}`);
  }
  return Float64Array.from({ length: headDim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / headDim));
}

/**
 * Cos/sin tables for rotary embeddings computed in-graph from integer positions
 * [..., T] → [..., T, headDim] each (frequencies repeated twice, HF "rotate_half" layout).
 */
export function rotaryTables(positions: Tensor, headDim: number, theta = 10000, dtype: DType = 'float32'): { cos: Tensor; sin: Tensor } {
  const g = positions.graph;
  const inv = rotaryInvFreq(headDim, theta);
  const invT = dtype === 'float64' ? g.constant(inv, [inv.length]) : g.constant(Float32Array.from(inv), [inv.length]);
  const freqs = mul(unsqueeze(cast(positions, dtype), -1), invT);
  const emb = concat([freqs, freqs], -1);
  return { cos: cos(emb), sin: sin(emb) };
}

/** rotate_half: concat(−x[..., d/2:], x[..., :d/2]) on the last axis. */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1];
  if (typeof d !== 'number' || d % 2 !== 0) throw new Error(`rotateHalf: last dim must be a static even number, got ${formatShape(x.shape)}`);
  const x1 = slice(x, [0], [d / 2], [-1]);
  const x2 = slice(x, [d / 2], [d], [-1]);
  return concat([neg(x2), x1], -1);
}

/** Applies rotary embeddings: x·cos + rotate_half(x)·sin (cos/sin broadcast against x). */
export function applyRotary(x: Tensor, cosT: Tensor, sinT: Tensor): Tensor {
  return add(mul(x, cosT), mul(rotateHalf(x), sinT));
}
