import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { z } from 'zod';

/** safetensors dtypes this reader understands. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Typed data of a decoded tensor: F16/BF16/F64 are widened/narrowed to Float32Array. */
export type SafetensorsData = Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** One tensor of a safetensors file. `dtype` is the dtype stored in the file. */
export interface SafeTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: SafetensorsData;
}

/** A decoded safetensors file: tensors by name, plus the string-to-string `__metadata__`. */
export interface SafetensorsFile {
  readonly tensors: Map<string, SafeTensor>;
  readonly metadata: Record<string, string>;
}

/** A tensor to write: Float32Array → F32, BigInt64Array → I64, Int32Array → I32, Uint8Array → U8. */
export interface SafeTensorInput {
  readonly shape: readonly number[];
  readonly data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

const entrySchema = z.object({
  dtype: z.enum(['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** Thrown for a malformed safetensors buffer; the message names the problem. */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Decodes a safetensors buffer (8-byte little-endian header length, JSON header, raw little-endian data). */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) throw new SafetensorsError(`safetensors buffer is ${bytes.byteLength} bytes; it needs at least the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.byteLength - 8) {
    throw new SafetensorsError(`safetensors header length ${n} exceeds the ${bytes.byteLength - 8} bytes after it; the file is truncated or not safetensors`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (err) {
    throw new SafetensorsError(`safetensors header is not valid JSON (${(err as Error).message}); the file is corrupt`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError('safetensors header must be a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      const m = z.record(z.string(), z.string()).safeParse(raw);
      if (!m.success) throw new SafetensorsError('safetensors __metadata__ must map strings to strings');
      Object.assign(metadata, m.data);
      continue;
    }
    const p = entrySchema.safeParse(raw);
    if (!p.success) throw new SafetensorsError(`safetensors entry "${name}" is invalid: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const { dtype, shape, data_offsets: [b, e] } = p.data;
    const count = shape.reduce((a, d) => a * d, 1);
    if (e < b || e > dataLen) throw new SafetensorsError(`safetensors entry "${name}" has data_offsets [${b}, ${e}] outside the ${dataLen}-byte data section`);
    if (e - b !== count * BYTES[dtype]) {
      throw new SafetensorsError(`safetensors entry "${name}": ${e - b} bytes but shape [${shape}] of ${dtype} needs ${count * BYTES[dtype]}`);
    }
    const src = bytes.subarray(dataStart + b, dataStart + e);
    // Copy into an aligned buffer (data in the file need not be aligned).
    const buf = new Uint8Array(src.byteLength);
    buf.set(src);
    let data: SafetensorsData;
    switch (dtype) {
      case 'F32': data = new Float32Array(buf.buffer, 0, count); break;
      case 'I64': data = new BigInt64Array(buf.buffer, 0, count); break;
      case 'I32': data = new Int32Array(buf.buffer, 0, count); break;
      case 'I16': data = new Int16Array(buf.buffer, 0, count); break;
      case 'I8': data = new Int8Array(buf.buffer, 0, count); break;
      case 'U8': case 'BOOL': data = buf; break;
      case 'F64': data = Float32Array.from(new Float64Array(buf.buffer, 0, count)); break;
      case 'F16': {
        const h = new Uint16Array(buf.buffer, 0, count);
        const f = new Float32Array(count);
        for (let i = 0; i < count; i++) f[i] = halfToFloat(h[i]);
        data = f;
        break;
      }
      case 'BF16': {
        const h = new Uint16Array(buf.buffer, 0, count);
        const u = new Uint32Array(count);
        for (let i = 0; i < count; i++) u[i] = h[i] << 16;
        data = new Float32Array(u.buffer);
        break;
      }
    }
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

function dtypeOf(data: SafeTensorInput['data']): SafetensorsDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

/**
 * Encodes tensors (sorted by name, 8-byte aligned header as the reference writer does)
 * and optional string metadata into a safetensors buffer.
 */
export function encodeSafetensors(tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>, metadata?: Record<string, string>): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved; pass metadata separately');
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw new SafetensorsError(`tensor "${name}": shape [${t.shape}] has ${count} elements but data has ${t.data.length}`);
    header[name] = { dtype: dtypeOf(t.data), shape: [...t.shape], data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((Buffer.byteLength(json) + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Reads and decodes a `.safetensors` file. */
export function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readFileSync(path));
}

/** Writes a `.safetensors` file atomically (temp file + rename). */
export function writeSafetensors(path: string, tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Writes bytes to a temp file beside `path`, then renames it over `path` (readers never see half a file). */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
