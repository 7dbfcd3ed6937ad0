import { assertDType, DTYPE_BYTES, type DType } from './dtype.js';
import { Tensor, formatShape, numel, type Dim } from './tensor.js';
import { serializeModel } from './onnx-model.js';

/** A typed ONNX node attribute. Build with the `attr` helpers. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: ConstantData };

/** Attribute constructors. */
export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: ConstantData): Attr => ({ kind: 'tensor', value }),
};

/** Raw little-endian data of a constant with its dtype and shape. */
export interface ConstantData {
  dtype: DType;
  shape: number[];
  bytes: Uint8Array;
}

/** One ONNX node as recorded by the builder. */
export interface NodeRecord {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

/**
 * Backward rule of a recorded op: receives the gradient of each output (null when that
 * output gets none) and returns the gradient of each input (null = no gradient).
 */
export type BackwardFn = (gradOutputs: (Tensor | null)[]) => (Tensor | null)[];

/** A differentiable (or explicitly non-differentiable) op application, in creation order. */
export interface TapeEntry {
  op: string;
  inputs: (Tensor | null)[];
  outputs: Tensor[];
  backward?: BackwardFn;
}

/** Value spec of a node output. */
export interface OutputSpec {
  dtype: DType;
  shape: Dim[];
}

/** Options of {@link Graph.emit}. */
export interface EmitOptions {
  attrs?: Record<string, Attr>;
  /** Gradient rule; omit for ops without gradients. */
  backward?: (outputs: Tensor[]) => BackwardFn;
  /** Name prefix of the outputs (defaults to the op type in lower case). */
  hint?: string;
}

type ConstantValue = number | number[] | Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/**
 * An ONNX graph under construction. Create inputs, parameters and constants, apply ops
 * (plain functions from the ops module), mark outputs, then {@link Graph.toOnnx}.
 */
export class Graph {
  /** Trainable parameters, in declaration order (graph inputs fed per run). */
  readonly params: Tensor[] = [];
  /** Graph inputs (including parameters), in declaration order. */
  readonly inputs: Tensor[] = [];
  /** Graph outputs by name. */
  readonly outputs: { name: string; tensor: Tensor }[] = [];
  /** @internal */ readonly nodes: NodeRecord[] = [];
  /** @internal */ readonly initializers: { name: string; data: ConstantData }[] = [];
  /** @internal */ readonly tape: TapeEntry[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly symbolSources = new Map<string, { tensor: Tensor; axis: number }>();
  private readonly dimCache = new Map<string, Tensor>();
  private readonly scalarCache = new Map<string, Tensor>();
  private fresh = 0;

  constructor(readonly name: string) {
    if (!name) throw new Error('Graph: name must be a non-empty string');
  }

  /** Declares a graph input. Strings in `shape` are symbolic dims (e.g. 'batch'). */
  input(name: string, dtype: DType, shape: Dim[]): Tensor {
    assertDType(dtype, `input '${name}'`);
    this.checkShape(shape, `input '${name}'`);
    const t = new Tensor(this, this.claim(name, `input '${name}'`), dtype, [...shape]);
    this.inputs.push(t);
    this.registerSymbols(t);
    return t;
  }

  /**
   * Declares a trainable parameter: a graph input (float32 by default) fed on every run, so
   * new weights need no re-export. Listed in {@link Graph.params}.
   */
  param(name: string, shape: number[], dtype: DType = 'float32'): Tensor {
    if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`param '${name}': shape ${formatShape(shape)} must be positive integers`);
    }
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw new Error(`param '${name}': dtype must be float32 or float64, got ${dtype}`);
    }
    const t = this.input(name, dtype, shape);
    this.params.push(t);
    return t;
  }

  /**
   * Adds a constant (stored as an initializer). A number gives a scalar, a number[] a 1-D
   * tensor, unless `shape` says otherwise. The dtype follows the array type
   * (Float32Array → float32, Float64Array → float64, BigInt64Array → int64, Int32Array → int32,
   * Uint8Array → bool) or `dtype` (default float32 for plain numbers).
   */
  constant(value: ConstantValue, shape?: number[], dtype?: DType): Tensor {
    const data = toConstantData(value, shape, dtype);
    const scalarKey =
      typeof value === 'number' && (shape === undefined || shape.length === 0) ? `${data.dtype}:${value}` : null;
    if (scalarKey) {
      const hit = this.scalarCache.get(scalarKey);
      if (hit) return hit;
    }
    const t = new Tensor(this, this.uniqueName('const'), data.dtype, [...data.shape]);
    this.initializers.push({ name: t.name, data });
    if (scalarKey) this.scalarCache.set(scalarKey, t);
    return t;
  }

  /** Marks `t` as a graph output named `name` (an Identity node is added when names differ). */
  output(name: string, t: Tensor): void {
    this.own(t, `output '${name}'`);
    if (this.outputs.some((o) => o.name === name)) throw new Error(`output '${name}' is already defined`);
    let out = t;
    const isInputOrInit = this.inputs.includes(t) || this.initializers.some((i) => i.name === t.name);
    if (t.name !== name || isInputOrInit) {
      this.claim(name, `output '${name}'`);
      out = new Tensor(this, name, t.dtype, [...t.shape]);
      this.nodes.push({ name: `n${this.nodes.length}_Identity`, opType: 'Identity', inputs: [t.name], outputs: [name], attrs: {} });
    }
    this.outputs.push({ name, tensor: out });
  }

  /** Serializes the graph as an ONNX ModelProto (opset 18, IR version 8). */
  toOnnx(): Uint8Array {
    if (this.outputs.length === 0) throw new Error(`graph '${this.name}' has no outputs; call graph.output(name, tensor)`);
    return serializeModel(this);
  }

  /**
   * Appends one ONNX node (default domain) and returns its output tensors. Op functions use
   * this; pass `backward` to make the op differentiable. `null` inputs become empty (optional)
   * inputs. Output specs are trusted: the caller does the shape/dtype inference.
   */
  emit(opType: string, inputs: (Tensor | null)[], outputs: OutputSpec[], opts: EmitOptions = {}): Tensor[] {
    for (const t of inputs) if (t) this.own(t, opType);
    const hint = opts.hint ?? opType.toLowerCase();
    const outs = outputs.map((o) => new Tensor(this, this.uniqueName(hint), o.dtype, [...o.shape]));
    this.nodes.push({
      name: `n${this.nodes.length}_${opType}`,
      opType,
      inputs: inputs.map((t) => (t ? t.name : '')),
      outputs: outs.map((t) => t.name),
      attrs: opts.attrs ?? {},
    });
    for (const t of outs) this.registerSymbols(t);
    this.tape.push({ op: opType, inputs, outputs: outs, backward: opts.backward?.(outs) });
    return outs;
  }

  /**
   * Builds a composite with ops, then replaces the tape entries it recorded by one entry with
   * a hand-written gradient (a fused backward needs fewer nodes than the chain rule through
   * every primitive). `backward` receives the outputs and returns the rule over `inputs`.
   */
  customGrad(inputs: Tensor[], build: () => Tensor[], backward: (outputs: Tensor[]) => BackwardFn, op = 'custom'): Tensor[] {
    for (const t of inputs) this.own(t, op);
    const start = this.tape.length;
    const outs = build();
    this.tape.splice(start);
    this.tape.push({ op, inputs, outputs: outs, backward: backward(outs) });
    return outs;
  }

  /** A fresh symbolic dim name (unknown at build time, resolved at run time). @internal */
  freshDim(): string {
    return `?${++this.fresh}`;
  }

  /**
   * The run-time size of dim `axis` of `t` as an int64 tensor of shape [1].
   * Numeric dims become constants. @internal
   */
  dimOf(t: Tensor, axis: number): Tensor {
    const d = t.shape[axis];
    if (typeof d === 'number') return this.constant(new BigInt64Array([BigInt(d)]), [1]);
    const key = `${t.name}:${axis}`;
    let hit = this.dimCache.get(key);
    if (!hit) {
      [hit] = this.emit('Shape', [t], [{ dtype: 'int64', shape: [1] }], {
        attrs: { start: attr.int(axis), end: attr.int(axis + 1) },
        hint: 'dim',
      });
      this.dimCache.set(key, hit);
    }
    return hit;
  }

  /** Run-time size of a symbolic dim name, as int64 [1]. @internal */
  symbolSize(dim: Dim, where: string): Tensor {
    if (typeof dim === 'number') return this.constant(new BigInt64Array([BigInt(dim)]), [1]);
    const src = this.symbolSources.get(dim);
    if (!src) throw new Error(`${where}: symbolic dim '${dim}' is not the dim of any tensor in graph '${this.name}'`);
    return this.dimOf(src.tensor, src.axis);
  }

  /** A run-time int64 shape tensor for `dims` (constant when all numeric). @internal */
  shapeTensor(dims: Dim[], where: string): Tensor {
    if (dims.every((d) => typeof d === 'number')) {
      return this.constant(BigInt64Array.from(dims as number[], (d) => BigInt(d)), [dims.length]);
    }
    const parts = dims.map((d) => this.symbolSize(d, where));
    const [out] = this.emit('Concat', parts, [{ dtype: 'int64', shape: [dims.length] }], {
      attrs: { axis: attr.int(0) },
      hint: 'shape',
    });
    return out;
  }

  /** Throws unless `t` belongs to this graph. @internal */
  own(t: Tensor, where: string): void {
    if (!(t instanceof Tensor)) throw new Error(`${where}: expected a Tensor, got ${typeof t}`);
    if (t.graph !== this) {
      throw new Error(`${where}: tensor '${t.name}' belongs to graph '${t.graph.name}', not '${this.name}'`);
    }
  }

  private registerSymbols(t: Tensor): void {
    t.shape.forEach((d, axis) => {
      if (typeof d === 'string' && !this.symbolSources.has(d)) this.symbolSources.set(d, { tensor: t, axis });
    });
  }

  private checkShape(shape: Dim[], where: string): void {
    if (!Array.isArray(shape)) throw new Error(`${where}: shape must be an array of dims`);
    for (const d of shape) {
      const ok = typeof d === 'string' ? d.length > 0 && !d.startsWith('?') : Number.isInteger(d) && d >= 0;
      if (!ok) {
        throw new Error(`${where}: bad dim ${JSON.stringify(d)} in ${formatShape(shape)}; use non-negative integers or names like 'batch'`);
      }
    }
  }

  private claim(name: string, where: string): string {
    if (!name || typeof name !== 'string') throw new Error(`${where}: name must be a non-empty string`);
    if (this.names.has(name)) throw new Error(`${where}: name '${name}' is already used in graph '${this.name}'; pick a unique name`);
    this.names.add(name);
    return name;
  }

  private uniqueName(hint: string): string {
    let n = this.counters.get(hint) ?? 0;
    let name: string;
    do name = `${hint}_${n++}`;
    while (this.names.has(name));
    this.counters.set(hint, n);
    this.names.add(name);
    return name;
  }
}

function toConstantData(value: ConstantValue, shape: number[] | undefined, dtype: DType | undefined): ConstantData {
  let arr: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  let dt: DType;
  if (typeof value === 'number' || Array.isArray(value)) {
    const nums = typeof value === 'number' ? [value] : value;
    dt = dtype ?? 'float32';
    assertDType(dt, 'constant');
    switch (dt) {
      case 'float32': arr = Float32Array.from(nums); break;
      case 'float64': arr = Float64Array.from(nums); break;
      case 'int32': arr = Int32Array.from(nums); break;
      case 'int64': arr = BigInt64Array.from(nums, (v) => BigInt(Math.trunc(v))); break;
      case 'bool': arr = Uint8Array.from(nums, (v) => (v ? 1 : 0)); break;
    }
    shape ??= typeof value === 'number' ? [] : [nums.length];
  } else {
    const inferred: DType | undefined =
      value instanceof Float32Array ? 'float32'
      : value instanceof Float64Array ? 'float64'
      : value instanceof BigInt64Array ? 'int64'
      : value instanceof Int32Array ? 'int32'
      : value instanceof Uint8Array ? 'bool'
      : undefined;
    if (!inferred) throw new Error('constant: value must be a number, number[] or a typed array');
    if (dtype && dtype !== inferred) {
      throw new Error(`constant: dtype '${dtype}' does not match the ${value.constructor.name} given; pass a matching typed array or a number[]`);
    }
    dt = inferred;
    arr = value;
    shape ??= [value.length];
  }
  const n = numel(shape);
  if (n !== arr.length) {
    throw new Error(`constant: ${arr.length} values do not fill shape ${formatShape(shape)} (${n} elements)`);
  }
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.length * DTYPE_BYTES[dt]).slice();
  return { dtype: dt, shape: [...shape], bytes };
}
