import type { Tensor } from '../graph/tensor.js';
import { greater } from './compare.js';
import { div, mul, sub } from './elementwise.js';
import { requireFloat } from './operand.js';
import { where } from './where.js';

type UnaryGrad = (x: Tensor, y: Tensor, gy: Tensor) => Tensor;

function unary(op: string, onnxOp: string, x: Tensor, grad: UnaryGrad | null, float = true): Tensor {
  if (float) requireFloat(x, op);
  const [y] = x.graph.emit(onnxOp, [x], [{ dtype: x.dtype, shape: [...x.shape] }], {
    hint: op,
    backward: grad ? ([y]) => ([gy]) => [gy ? grad(x, y, gy) : null] : undefined,
  });
  return y;
}

/** −x. */
export function neg(x: Tensor): Tensor {
  return unary('neg', 'Neg', x, (_x, _y, gy) => neg(gy), false);
}
/** eˣ. */
export function exp(x: Tensor): Tensor {
  return unary('exp', 'Exp', x, (_x, y, gy) => mul(gy, y));
}
/** Natural log. */
export function log(x: Tensor): Tensor {
  return unary('log', 'Log', x, (x, _y, gy) => div(gy, x));
}
/** √x. */
export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', 'Sqrt', x, (_x, y, gy) => div(mul(gy, 0.5), y));
}
/** 1/√x. */
export function rsqrt(x: Tensor): Tensor {
  const s = sqrt(x);
  return reciprocal(s);
}
/** 1/x. */
export function reciprocal(x: Tensor): Tensor {
  return unary('reciprocal', 'Reciprocal', x, (_x, y, gy) => neg(mul(gy, mul(y, y))));
}
/** tanh x. */
export function tanh(x: Tensor): Tensor {
  return unary('tanh', 'Tanh', x, (_x, y, gy) => mul(gy, sub(1, mul(y, y))));
}
/** Logistic sigmoid. */
export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', 'Sigmoid', x, (_x, y, gy) => mul(gy, mul(y, sub(1, y))));
}
/** max(x, 0). */
export function relu(x: Tensor): Tensor {
  return unary('relu', 'Relu', x, (x, _y, gy) => where(greater(x, 0), gy, 0));
}
/** |x|. */
export function abs(x: Tensor): Tensor {
  return unary('abs', 'Abs', x, (x, _y, gy) => mul(gy, sign(x)), false);
}
/** Sign of x (−1, 0, 1); no gradient. */
export function sign(x: Tensor): Tensor {
  return unary('sign', 'Sign', x, null, false);
}
/** sin x. */
export function sin(x: Tensor): Tensor {
  return unary('sin', 'Sin', x, (x, _y, gy) => mul(gy, cos(x)));
}
/** cos x. */
export function cos(x: Tensor): Tensor {
  return unary('cos', 'Cos', x, (x, _y, gy) => neg(mul(gy, sin(x))));
}
/** x². */
export function square(x: Tensor): Tensor {
  return mul(x, x);
}
/** Floor (no gradient). */
export function floor(x: Tensor): Tensor {
  return unary('floor', 'Floor', x, null);
}
/** Softplus log(1+eˣ). */
export function softplus(x: Tensor): Tensor {
  return unary('softplus', 'Softplus', x, (x, _y, gy) => mul(gy, sigmoid(x)));
}
/** Identity with a gradient of zero (detach from autodiff). */
export function stopGradient(x: Tensor): Tensor {
  return unary('stopgrad', 'Identity', x, null, false);
}
/** SiLU (fused backward); defined in nn.ts, re-exported here for existing imports. */
export { silu } from './nn.js';
