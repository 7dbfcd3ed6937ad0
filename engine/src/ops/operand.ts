import type { DType } from '../graph/dtype.js';
import { Tensor } from '../graph/tensor.js';

/** A tensor, or a plain number lifted to a scalar constant of the other operand's dtype. */
export type Operand = Tensor | number;

/** Lifts numbers to scalar constants matching `like`'s dtype. @internal */
export function lift(x: Operand, like: Tensor): Tensor {
  return typeof x === 'number' ? like.graph.constant(x, [], like.dtype) : x;
}

/** Resolves two operands (at least one a Tensor) to tensors with a shared graph. @internal */
export function pair(a: Operand, b: Operand, where: string): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new Error(`${where}: at least one operand must be a Tensor`);
  }
  const ta = a instanceof Tensor ? a : lift(a, b as Tensor);
  const tb = b instanceof Tensor ? b : lift(b, ta);
  if (ta.graph !== tb.graph) throw new Error(`${where}: operands '${ta.name}' and '${tb.name}' are in different graphs`);
  return [ta, tb];
}

/** Throws when dtypes differ. @internal */
export function sameDType(a: Tensor, b: Tensor, where: string): DType {
  if (a.dtype !== b.dtype) {
    throw new Error(`${where}: dtype mismatch ${a.dtype} ('${a.name}') vs ${b.dtype} ('${b.name}'); cast one side with cast()`);
  }
  return a.dtype;
}

/** Throws unless `t` is float. @internal */
export function requireFloat(t: Tensor, where: string): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new Error(`${where}: needs a float tensor, got ${t.dtype} ('${t.name}'); cast it with cast(x, 'float32')`);
  }
}
