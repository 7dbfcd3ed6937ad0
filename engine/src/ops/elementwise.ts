import type { Tensor } from '../graph/tensor.js';
import { broadcastShapes, unbroadcast } from './broadcast.js';
import { greaterOrEqual } from './compare.js';
import { pair, requireFloat, sameDType, type Operand } from './operand.js';
import { neg } from './unary.js';
import { where } from './where.js';

type BinaryGrad = (a: Tensor, b: Tensor, y: Tensor, gy: Tensor) => [Tensor | null, Tensor | null];

function binary(op: string, onnxOp: string, a0: Operand, b0: Operand, grad?: BinaryGrad): Tensor {
  const [a, b] = pair(a0, b0, op);
  const dtype = sameDType(a, b, op);
  const g = a.graph;
  const shape = broadcastShapes(g, a.shape, b.shape, op);
  const [y] = g.emit(onnxOp, [a, b], [{ dtype, shape }], {
    hint: op,
    backward: grad
      ? ([y]) =>
          ([gy]) => {
            if (!gy) return [null, null];
            const [ga, gb] = grad(a, b, y, gy);
            return [ga ? unbroadcast(ga, a) : null, gb ? unbroadcast(gb, b) : null];
          }
      : undefined,
  });
  return y;
}

/** Elementwise a + b (numpy broadcasting; numbers become constants). */
export function add(a: Operand, b: Operand): Tensor {
  return binary('add', 'Add', a, b, (_a, _b, _y, gy) => [gy, gy]);
}

/** Elementwise a − b. */
export function sub(a: Operand, b: Operand): Tensor {
  return binary('sub', 'Sub', a, b, (_a, _b, _y, gy) => [gy, neg(gy)]);
}

/** Elementwise a × b. */
export function mul(a: Operand, b: Operand): Tensor {
  return binary('mul', 'Mul', a, b, (a, b, _y, gy) => [mul(gy, b), mul(gy, a)]);
}

/** Elementwise a ÷ b. */
export function div(a: Operand, b: Operand): Tensor {
  return binary('div', 'Div', a, b, (_a, b, y, gy) => {
    const ga = div(gy, b);
    return [ga, neg(mul(ga, y))];
  });
}

/** Elementwise minimum (gradient goes to `a` on ties). */
export function minimum(a: Operand, b: Operand): Tensor {
  return binary('minimum', 'Min', a, b, (a, b, _y, gy) => {
    const takeA = greaterOrEqual(b, a);
    return [where(takeA, gy, 0), where(takeA, 0, gy)];
  });
}

/** Elementwise maximum (gradient goes to `a` on ties). */
export function maximum(a: Operand, b: Operand): Tensor {
  return binary('maximum', 'Max', a, b, (a, b, _y, gy) => {
    const takeA = greaterOrEqual(a, b);
    return [where(takeA, gy, 0), where(takeA, 0, gy)];
  });
}

/** x raised to a constant power p. */
export function pow(x: Tensor, p: number): Tensor {
  requireFloat(x, 'pow');
  if (p === 1) return x;
  const [y] = x.graph.emit('Pow', [x, x.graph.constant(p, [], x.dtype)], [{ dtype: x.dtype, shape: [...x.shape] }], {
    backward: () => ([gy]) => [gy ? mul(gy, mul(pow(x, p - 1), p)) : null, null],
  });
  return y;
}
