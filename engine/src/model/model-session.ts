import * as ort from 'onnxruntime-node';

/** Feeds of one session run. */
export type Feeds = Record<string, ort.Tensor>;

/** A float32 tensor wrapping `data` (no copy). */
export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims as number[]);
}

/** An int64 tensor wrapping `data` (no copy). */
export function i64(data: BigInt64Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', data, dims as number[]);
}
