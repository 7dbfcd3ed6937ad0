/** Element types a graph tensor can carry. 'float64' exists mainly for precise gradient checks. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

/** All supported dtypes, in a stable order (used in error messages). */
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32', 'bool'];

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

/** Bytes per element. */
export const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, bool: 1 };

/** True for dtypes that carry gradients. */
export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

/** Throws a clear error when `d` is not a supported dtype. */
export function assertDType(d: string, where: string): asserts d is DType {
  if (!(DTYPES as readonly string[]).includes(d)) {
    throw new Error(`${where}: unknown dtype '${d}'; use one of ${DTYPES.join(', ')}`);
  }
}
