import type { Tensor } from '../graph/tensor.js';
import { unbroadcast } from './broadcast.js';
import { add, mul, sub } from './elementwise.js';
import { requireFloat } from './operand.js';
import { mean } from './reduce.js';
import { rsqrt, sigmoid } from './unary.js';

/**
 * RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · weight, with a fused backward
 * (dx = r·(g·w − x̂·mean(g·w·x̂)), dw = Σ g·x̂) instead of the chain rule through each op.
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  requireFloat(x, 'rmsNorm');
  const g = x.graph;
  let r!: Tensor;
  let xn!: Tensor;
  const [y] = g.customGrad(
    [x, weight],
    () => {
      r = rsqrt(add(mean(mul(x, x), -1, true), eps));
      xn = mul(x, r);
      return [mul(xn, weight)];
    },
    () => ([gy]) => {
      if (!gy) return [null, null];
      const gw = unbroadcast(mul(gy, xn), weight);
      const gxn = mul(gy, weight);
      const gx = mul(r, sub(gxn, mul(xn, mean(mul(gxn, xn), -1, true))));
      return [unbroadcast(gx, x), gw];
    },
    'rmsNorm',
  );
  return y;
}

/** SiLU / swish x·sigmoid(x), with a fused backward gy·s·(1 + x·(1 − s)). */
export function silu(x: Tensor): Tensor {
  requireFloat(x, 'silu');
  let s!: Tensor;
  const [y] = x.graph.customGrad(
    [x],
    () => {
      s = sigmoid(x);
      return [mul(x, s)];
    },
    () => ([gy]) => [gy ? mul(gy, mul(s, add(mul(x, sub(1, s)), 1))) : null],
    'silu',
  );
  return y;
}
