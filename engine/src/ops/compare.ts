import type { Tensor } from '../graph/tensor.js';
import { broadcastShapes } from './broadcast.js';
import { pair, sameDType, type Operand } from './operand.js';

function compare(op: string, onnxOp: string, a0: Operand, b0: Operand): Tensor {
  const [a, b] = pair(a0, b0, op);
  sameDType(a, b, op);
  const g = a.graph;
  const [y] = g.emit(onnxOp, [a, b], [{ dtype: 'bool', shape: broadcastShapes(g, a.shape, b.shape, op) }], { hint: op });
  return y;
}

/** a < b (bool, no gradient). */
export const less = (a: Operand, b: Operand): Tensor => compare('less', 'Less', a, b);
/** a ≤ b. */
export const lessOrEqual = (a: Operand, b: Operand): Tensor => compare('lessOrEqual', 'LessOrEqual', a, b);
/** a > b. */
export const greater = (a: Operand, b: Operand): Tensor => compare('greater', 'Greater', a, b);
/** a ≥ b. */
export const greaterOrEqual = (a: Operand, b: Operand): Tensor => compare('greaterOrEqual', 'GreaterOrEqual', a, b);
/** a = b. */
export const equal = (a: Operand, b: Operand): Tensor => compare('equal', 'Equal', a, b);

function logical(op: string, onnxOp: string, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'bool' || b.dtype !== 'bool') throw new Error(`${op}: needs bool tensors, got ${a.dtype} and ${b.dtype}`);
  const g = a.graph;
  const [y] = g.emit(onnxOp, [a, b], [{ dtype: 'bool', shape: broadcastShapes(g, a.shape, b.shape, op) }], { hint: op });
  return y;
}
/** Logical and of bool tensors. */
export const and = (a: Tensor, b: Tensor): Tensor => logical('and', 'And', a, b);
/** Logical or of bool tensors. */
export const or = (a: Tensor, b: Tensor): Tensor => logical('or', 'Or', a, b);
/** Logical not of a bool tensor. */
export function not(x: Tensor): Tensor {
  if (x.dtype !== 'bool') throw new Error(`not: needs a bool tensor, got ${x.dtype}`);
  const [y] = x.graph.emit('Not', [x], [{ dtype: 'bool', shape: [...x.shape] }]);
  return y;
}
