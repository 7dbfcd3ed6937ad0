import type { DType } from './dtype.js';
import type { Graph } from './graph.js';

/** A dimension: a number, or a string naming a symbolic dimension (e.g. 'batch', 'seq'). */
export type Dim = number | string;

/**
 * A symbolic tensor: a named value inside one {@link Graph}. It holds no data; ops
 * on it append ONNX nodes to its graph.
 */
export class Tensor {
  /** @internal */
  constructor(
    /** The graph this tensor belongs to. */
    readonly graph: Graph,
    /** Unique value name inside the graph (the ONNX value name). */
    readonly name: string,
    /** Element type. */
    readonly dtype: DType,
    /** Static shape; strings are symbolic dims resolved at run time. */
    readonly shape: Dim[],
  ) {}

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Human-readable description, e.g. `x: float32[batch,4]`. */
  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

/** Formats a shape for error messages: `[batch,3]`. */
export function formatShape(shape: readonly Dim[]): string {
  return `[${shape.join(',')}]`;
}

/** True when two shapes are statically identical. */
export function sameShape(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalizes a possibly negative axis against a rank, with a clear error. */
export function normAxis(axis: number, rank: number, where: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new Error(`${where}: axis ${axis} out of range for rank ${rank} (valid: ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Product of numeric dims, or null when any dim is symbolic. */
export function numel(shape: readonly Dim[]): number | null {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return null;
    n *= d;
  }
  return n;
}
