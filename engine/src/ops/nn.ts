import type { Tensor } from '../graph/tensor.js';
import { add, mul } from './elementwise.js';
import { mean } from './reduce.js';
import { rsqrt } from './unary.js';

/** RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const ms = mean(mul(x, x), -1, true);
  return mul(mul(x, rsqrt(add(ms, eps))), weight);
}
