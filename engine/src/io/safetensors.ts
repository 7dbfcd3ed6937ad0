import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
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

/** One validated header entry: dtype, shape and the byte range in the data section. */
export interface SafetensorsEntry {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** [begin, end) byte offsets relative to the start of the data section. */
  readonly offsets: readonly [number, number];
}

/** A parsed header: entries by name (in header order), the `__metadata__`, and where the data section starts. */
export interface SafetensorsHeader {
  readonly entries: Map<string, SafetensorsEntry>;
  readonly metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header length). */
  readonly dataStart: number;
}

/**
 * Parses the JSON header (`headerBytes`, without the 8-byte length) and checks every entry against
 * a data section of `dataLen` bytes. `where` names the file in errors.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLen: number, where = 'safetensors'): SafetensorsHeader {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes)) as Record<string, unknown>;
  } catch (err) {
    throw new SafetensorsError(`${where}: header is not valid JSON (${(err as Error).message}); the file is corrupt`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(`${where}: header must be a JSON object`);
  const metadata: Record<string, string> = {};
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      const m = z.record(z.string(), z.string()).safeParse(raw);
      if (!m.success) throw new SafetensorsError(`${where}: __metadata__ must map strings to strings`);
      Object.assign(metadata, m.data);
      continue;
    }
    const p = entrySchema.safeParse(raw);
    if (!p.success) throw new SafetensorsError(`${where}: entry "${name}" is invalid: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const { dtype, shape, data_offsets: [b, e] } = p.data;
    const count = shape.reduce((a, d) => a * d, 1);
    if (e < b || e > dataLen) throw new SafetensorsError(`${where}: entry "${name}" has data_offsets [${b}, ${e}] outside the ${dataLen}-byte data section`);
    if (e - b !== count * BYTES[dtype]) {
      throw new SafetensorsError(`${where}: entry "${name}": ${e - b} bytes but shape [${shape}] of ${dtype} needs ${count * BYTES[dtype]}`);
    }
    entries.set(name, { dtype, shape, offsets: [b, e] });
  }
  return { entries, metadata, dataStart: 0 };
}

function halfBitsToFloat32(h: Uint16Array): Float32Array {
  const f = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) f[i] = halfToFloat(h[i]);
  return f;
}

function bf16BitsToFloat32(h: Uint16Array): Float32Array {
  const u = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
  return new Float32Array(u.buffer);
}

/**
 * Typed data of a tensor's raw little-endian bytes (copied into an aligned buffer: data in a
 * file need not be aligned). F16 / BF16 / F64 become Float32Array (BF16 exactly; F16 exactly;
 * F64 rounded to float32).
 */
export function tensorData(dtype: SafetensorsDType, src: Uint8Array, count: number): SafetensorsData {
  const buf = new Uint8Array(src.byteLength);
  buf.set(src);
  switch (dtype) {
    case 'F32': return new Float32Array(buf.buffer, 0, count);
    case 'I64': return new BigInt64Array(buf.buffer, 0, count);
    case 'I32': return new Int32Array(buf.buffer, 0, count);
    case 'I16': return new Int16Array(buf.buffer, 0, count);
    case 'I8': return new Int8Array(buf.buffer, 0, count);
    case 'U8': case 'BOOL': return buf;
    case 'F64': return Float32Array.from(new Float64Array(buf.buffer, 0, count));
    case 'F16': return halfBitsToFloat32(new Uint16Array(buf.buffer, 0, count));
    case 'BF16': return bf16BitsToFloat32(new Uint16Array(buf.buffer, 0, count));
  }
}

/** Decodes a safetensors buffer (8-byte little-endian header length, JSON header, raw little-endian data). */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) throw new SafetensorsError(`safetensors buffer is ${bytes.byteLength} bytes; it needs at least the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.byteLength - 8) {
    throw new SafetensorsError(`safetensors header length ${n} exceeds the ${bytes.byteLength - 8} bytes after it; the file is truncated or not safetensors`);
  }
  const dataStart = 8 + n;
  const h = parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.byteLength - dataStart);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, e] of h.entries) {
    const count = e.shape.reduce((a, d) => a * d, 1);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: tensorData(e.dtype, bytes.subarray(dataStart + e.offsets[0], dataStart + e.offsets[1]), count) });
  }
  return { tensors, metadata: h.metadata };
}

/**
 * A safetensors file read tensor by tensor (the header first, then each tensor's byte range on
 * demand), so a multi-GB shard never has to fit in one buffer. Close it when done.
 */
export class SafetensorsReader {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    readonly header: SafetensorsHeader,
  ) {
    this.fd = fd;
  }

  /** Opens `path` and reads and validates its header. */
  static open(path: string): SafetensorsReader {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(`${path} is ${size} bytes; a safetensors file needs at least the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const n = Number(lenBuf.readBigUInt64LE(0));
      if (n > size - 8) throw new SafetensorsError(`${path}: header length ${n} exceeds the ${size - 8} bytes after it; the file is truncated or not safetensors`);
      if (n > 100 * 1024 * 1024) throw new SafetensorsError(`${path}: header length ${n} is over 100 MB; the file is corrupt or not safetensors`);
      const hb = Buffer.alloc(n);
      readExactly(fd, hb, 8);
      const h = parseSafetensorsHeader(hb, size - 8 - n, path);
      return new SafetensorsReader(path, fd, { ...h, dataStart: 8 + n });
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** The raw little-endian bytes of one tensor (as stored: half precision stays 2 bytes an element). */
  readRaw(name: string): Uint8Array {
    if (this.fd === null) throw new SafetensorsError(`${this.path}: reader is closed`);
    const e = this.header.entries.get(name);
    if (!e) throw new SafetensorsError(`${this.path} has no tensor "${name}"`);
    const buf = Buffer.alloc(e.offsets[1] - e.offsets[0]);
    readExactly(this.fd, buf, this.header.dataStart + e.offsets[0]);
    return buf;
  }

  /** One tensor, decoded as {@link decodeSafetensors} does. */
  read(name: string): SafeTensor {
    const raw = this.readRaw(name);
    const e = this.header.entries.get(name)!;
    return { dtype: e.dtype, shape: e.shape, data: tensorData(e.dtype, raw, e.shape.reduce((a, d) => a * d, 1)) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function readExactly(fd: number, buf: Uint8Array, position: number): void {
  let off = 0;
  while (off < buf.byteLength) {
    // readSync reads at most 2 GiB at a time.
    const n = readSync(fd, buf, off, Math.min(buf.byteLength - off, 1 << 30), position + off);
    if (n === 0) throw new SafetensorsError(`unexpected end of file after ${position + off} bytes`);
    off += n;
  }
}

function dtypeOf(data: SafeTensorInput['data']): SafetensorsDType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  return 'U8';
}

/** Float32 → bfloat16 bits, rounding to nearest even (as torch's `.to(torch.bfloat16)`); NaN stays a quiet NaN. */
export function float32ToBf16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Float32 → IEEE half bits, rounding to nearest even (overflow → ±Inf, tiny values → subnormals or ±0). */
export function float32ToF16(src: Float32Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 112;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rem > halfway || (rem === halfway && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
    out[i] = sign | h;
  }
  return out;
}

/**
 * Encodes tensors (sorted by name, 8-byte aligned header as the reference writer does)
 * and optional string metadata into a safetensors buffer.
 */
export function encodeSafetensors(tensors: Map<string, SafeTensorInput> | Record<string, SafeTensorInput>, metadata?: Record<string, string>): Uint8Array {
  const entries = sortedEntries(tensors);
  const { header, size } = headerBytes(entries.map(([name, t]) => ({ name, shape: t.shape, dtype: dtypeOf(t.data), count: t.data.length })), metadata);
  const out = new Uint8Array(8 + header.byteLength + size);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  out.set(header, 8);
  let p = 8 + header.byteLength;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

function sortedEntries<T>(tensors: Map<string, T> | Record<string, T>): [string, T][] {
  return (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The JSON header (padded to 8-byte alignment) of tensors laid out in the given order, and the data section size. */
function headerBytes(entries: { name: string; shape: readonly number[]; dtype: SafetensorsDType; count: number }[], metadata?: Record<string, string>): { header: Uint8Array; size: number } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const t of entries) {
    if (t.name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved; pass metadata separately');
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.count) throw new SafetensorsError(`tensor "${t.name}": shape [${t.shape}] has ${count} elements but data has ${t.count}`);
    const bytes = count * BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((Buffer.byteLength(json) + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  return { header: new TextEncoder().encode(json), size: off };
}

/** Reads and decodes a `.safetensors` file (whole; use {@link SafetensorsReader} for large files). */
export function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readFileSync(path));
}

/** Float dtypes a writer can store float32 data as. */
export type FloatStoreDType = 'F32' | 'BF16' | 'F16';

/** A tensor to write whose data may be produced on demand (so a writer holds one tensor's copy at a time). */
export interface LazyTensorInput {
  readonly shape: readonly number[];
  readonly data: SafeTensorInput['data'] | (() => SafeTensorInput['data']);
}

/**
 * Writes a `.safetensors` file atomically (temp file + rename), tensor by tensor (no
 * whole-file buffer, so files over 2 GiB work). `floatDType` stores Float32Array data as
 * BF16 or F16 (round to nearest even); other dtypes are written as they are.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, LazyTensorInput> | Record<string, LazyTensorInput>,
  metadata?: Record<string, string>,
  opts: { floatDType?: FloatStoreDType } = {},
): { bytes: number } {
  const store = opts.floatDType ?? 'F32';
  const entries = sortedEntries(tensors);
  // Data is produced lazily, so the dtype comes from a probe of each entry's kind: a function
  // producing floats is declared F32 data (the common case: model weights).
  const resolved = entries.map(([name, t]) => {
    const probe = typeof t.data === 'function' ? null : t.data;
    const src: SafetensorsDType = probe ? dtypeOf(probe) : 'F32';
    const count = probe ? probe.length : t.shape.reduce((a, d) => a * d, 1);
    return { name, shape: t.shape, src, dtype: src === 'F32' ? store : src, count, t };
  });
  const { header } = headerBytes(resolved, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.byteLength));
    writeAll(fd, len);
    writeAll(fd, header);
    bytes = 8 + header.byteLength;
    for (const r of resolved) {
      const data = typeof r.t.data === 'function' ? r.t.data() : r.t.data;
      if (dtypeOf(data) !== r.src || data.length !== r.count) throw new SafetensorsError(`tensor "${r.name}": the data produced is ${dtypeOf(data)}[${data.length}], declared ${r.src}[${r.count}]`);
      const out = r.dtype === 'BF16' ? float32ToBf16(data as Float32Array) : r.dtype === 'F16' ? float32ToF16(data as Float32Array) : data;
      writeAll(fd, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      bytes += out.byteLength;
    }
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return { bytes };
}

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.byteLength) off += writeSync(fd, buf, off, Math.min(buf.byteLength - off, 1 << 30));
}

/** Writes bytes to a temp file beside `path`, then renames it over `path` (readers never see half a file). */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
