import v8 from 'node:v8';
import { MessageTooLargeError, SerializationError } from './errors.js';

/** Objects that travel as a descriptor (actor handles, object refs) implement this. */
export const TO_WIRE = Symbol.for('cohort.toWire');

/** Marker key of placeholder objects inside a serialized payload. */
const K = '\u0000cohort';

/** A handle or ref as plain data. */
export type WireDescriptor =
  | { t: 'h'; id: string; name?: string; cls?: string; retries?: number }
  | { t: 'r'; id: string; owner: string };

export interface Wireable {
  [TO_WIRE](): WireDescriptor;
}

/** What the codec needs from the runtime of the receiving process. */
export interface CodecHooks {
  revive(d: WireDescriptor): unknown;
}

export interface EncodeOptions {
  /** Binary payloads at least this big take the bulk path. */
  bulkThreshold: number;
  /** Limit on the serialized (non-bulk) payload. */
  maxBytes: number;
  /** Limit on each bulk attachment (default: none). */
  maxBulkBytes?: number;
  /** Names the message in errors, e.g. `arguments of Counter.add`. */
  what: string;
}

/** A value ready for the wire: v8-serialized payload plus raw bulk attachments. */
export interface Encoded {
  payload: Uint8Array;
  special: boolean;
  bulk: Uint8Array[];
}

const TYPES: Record<string, (b: ArrayBuffer, off: number, len: number) => unknown> = {
  Buffer: (b, o, l) => Buffer.from(b, o, l),
  Uint8Array: (b, o, l) => new Uint8Array(b, o, l),
  Int8Array: (b, o, l) => new Int8Array(b, o, l),
  Uint8ClampedArray: (b, o, l) => new Uint8ClampedArray(b, o, l),
  Int16Array: (b, o, l) => new Int16Array(b, o, l / 2),
  Uint16Array: (b, o, l) => new Uint16Array(b, o, l / 2),
  Int32Array: (b, o, l) => new Int32Array(b, o, l / 4),
  Uint32Array: (b, o, l) => new Uint32Array(b, o, l / 4),
  Float32Array: (b, o, l) => new Float32Array(b, o, l / 4),
  Float64Array: (b, o, l) => new Float64Array(b, o, l / 8),
  BigInt64Array: (b, o, l) => new BigInt64Array(b, o, l / 8),
  BigUint64Array: (b, o, l) => new BigUint64Array(b, o, l / 8),
  DataView: (b, o, l) => new DataView(b, o, l),
  ArrayBuffer: (b, o, l) => (o === 0 && l === b.byteLength ? b : b.slice(o, o + l)),
};

interface State {
  threshold: number;
  bulk: Uint8Array[];
  special: boolean;
}

function isPlain(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Returns `v` itself when nothing inside needs replacing, else a copy with placeholders. */
function prep(v: unknown, st: State, depth: number): unknown {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'function' && (v as unknown as Partial<Wireable>)[TO_WIRE]) {
      st.special = true;
      return { [K]: (v as unknown as Wireable)[TO_WIRE]() };
    }
    return v;
  }
  if (depth > 64) return v;
  const w = (v as Partial<Wireable>)[TO_WIRE];
  if (typeof w === 'function') {
    st.special = true;
    return { [K]: w.call(v) };
  }
  if (ArrayBuffer.isView(v)) {
    if (v.byteLength < st.threshold) return v;
    st.special = true;
    const type = Buffer.isBuffer(v) ? 'Buffer' : v.constructor.name;
    st.bulk.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    return { [K]: { t: 'b', i: st.bulk.length - 1, type } };
  }
  if (v instanceof ArrayBuffer) {
    if (v.byteLength < st.threshold) return v;
    st.special = true;
    st.bulk.push(new Uint8Array(v));
    return { [K]: { t: 'b', i: st.bulk.length - 1, type: 'ArrayBuffer' } };
  }
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x === null || (typeof x !== 'object' && typeof x !== 'function')) continue;
      const y = prep(x, st, depth + 1);
      if (y !== x) {
        out ??= v.slice();
        out[i] = y;
      }
    }
    return out ?? v;
  }
  if (v instanceof Map) {
    // Map values too (e.g. weights by tensor name): their large arrays take the bulk path.
    let out: Map<unknown, unknown> | undefined;
    for (const [key, x] of v) {
      if (x === null || (typeof x !== 'object' && typeof x !== 'function')) continue;
      const y = prep(x, st, depth + 1);
      if (y !== x) {
        out ??= new Map(v);
        out.set(key, y);
      }
    }
    return out ?? v;
  }
  if (isPlain(v)) {
    let out: Record<string, unknown> | undefined;
    const o = v as Record<string, unknown>;
    for (const key in o) {
      const x = o[key];
      if (x === null || (typeof x !== 'object' && typeof x !== 'function')) continue;
      const y = prep(x, st, depth + 1);
      if (y !== x) {
        out ??= { ...o };
        out[key] = y;
      }
    }
    return out ?? v;
  }
  return v;
}

/** Finds the path of the first value v8 cannot clone (for the error message). */
function findUnserializable(v: unknown, path: string, depth = 0): string | undefined {
  if (typeof v === 'function') return `${path} is a function`;
  if (typeof v === 'symbol') return `${path} is a symbol`;
  if (v === null || typeof v !== 'object' || depth > 32) return undefined;
  if (v instanceof Promise) return `${path} is a Promise (await it, or pass an ObjectRef)`;
  if (v instanceof WeakMap || v instanceof WeakSet) return `${path} is a ${v.constructor.name}`;
  const entries: Array<[string, unknown]> = v instanceof Map ? [...v.entries()].map(([k, x]) => [String(k), x]) : Object.entries(v);
  for (const [k, x] of entries) {
    const r = findUnserializable(x, `${path}.${k}`, depth + 1);
    if (r) return r;
  }
  return undefined;
}

// Fast path for the common small values (numbers, short strings, booleans,
// null, undefined, short flat arrays of those): JSON instead of a v8
// Serializer (whose construction dominates for tiny values). v8 payloads
// always start with 0xFF, so the first byte tells the formats apart.
const TAG_JSON = 0x01;
const TAG_UNDEFINED = 0x02;
const UNDEFINED_PAYLOAD = new Uint8Array([TAG_UNDEFINED]);
const NO_BULK: Uint8Array[] = [];

function jsonScalar(v: unknown): boolean {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'string':
      return v.length < 4096;
    case 'boolean':
      return true;
    case 'object':
      return v === null;
    default:
      return false;
  }
}

function jsonSafe(v: unknown): boolean {
  if (jsonScalar(v)) return true;
  if (!Array.isArray(v) || v.length > 32) return false;
  for (let i = 0; i < v.length; i++) if (!(i in v) || !jsonScalar(v[i])) return false;
  return true;
}

/** Serializes a value; large binary payloads come out as separate raw attachments. */
export function encodeValue(value: unknown, opts: EncodeOptions): Encoded {
  if (value === undefined) return { payload: UNDEFINED_PAYLOAD, special: false, bulk: NO_BULK };
  if (jsonSafe(value)) {
    const payload = Buffer.from('\u0001' + JSON.stringify(value));
    if (payload.byteLength <= opts.maxBytes) return { payload, special: false, bulk: NO_BULK };
    throw tooLarge(payload.byteLength, opts);
  }
  const st: State = { threshold: opts.bulkThreshold, bulk: [], special: false };
  const prepared = prep(value, st, 0);
  let payload: Uint8Array;
  try {
    payload = v8.serialize(prepared);
  } catch (err) {
    const where = findUnserializable(value, 'value');
    throw new SerializationError(
      `cannot send ${opts.what}: ${where ?? (err as Error).message}. Only data (primitives, plain objects, arrays, Map, Set, Date, typed arrays, Buffers, Errors), actor handles and object refs can cross processes.`,
    );
  }
  if (payload.byteLength > opts.maxBytes) throw tooLarge(payload.byteLength, opts);
  if (opts.maxBulkBytes !== undefined) {
    for (const b of st.bulk) {
      if (b.byteLength > opts.maxBulkBytes) {
        throw new MessageTooLargeError(
          `${opts.what} hold a binary array of ${b.byteLength} bytes, over the ${opts.maxBulkBytes}-byte bulk limit. Send it in slices, or raise maxBulkBytes in init() (or COHORT_MAX_BULK_BYTES) on every process: receivers refuse bigger attachments.`,
        );
      }
    }
  }
  return { payload, special: st.special, bulk: st.bulk };
}

function revive(v: unknown, bulk: Uint8Array[], hooks: CodecHooks, depth: number): unknown {
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i], bulk, hooks, depth + 1);
    return v;
  }
  if (v instanceof Map) {
    for (const [key, x] of v) {
      const y = revive(x, bulk, hooks, depth + 1);
      if (y !== x) v.set(key, y);
    }
    return v;
  }
  if (!isPlain(v)) return v;
  const o = v as Record<string, unknown>;
  const d = o[K] as ({ t: 'b'; i: number; type: string } | WireDescriptor) | undefined;
  if (d !== undefined) {
    if (d.t === 'b') {
      const raw = bulk[d.i];
      const make = TYPES[d.type] ?? TYPES.Uint8Array;
      return make(raw.buffer as ArrayBuffer, raw.byteOffset, raw.byteLength);
    }
    return hooks.revive(d);
  }
  for (const key in o) o[key] = revive(o[key], bulk, hooks, depth + 1);
  return o;
}

function tooLarge(n: number, opts: EncodeOptions): MessageTooLargeError {
  return new MessageTooLargeError(
    `${opts.what} serialize to ${n} bytes, over the ${opts.maxBytes}-byte message limit. Raise maxMessageBytes in init() (or COHORT_MAX_MESSAGE_BYTES), pass large binary data as typed arrays/Buffers (they take the bulk path), or put() it once and pass the ref.`,
  );
}

/** Inverse of encodeValue. */
export function decodeValue(payload: Uint8Array, special: boolean, bulk: Uint8Array[], hooks: CodecHooks): unknown {
  const tag = payload[0];
  if (tag === TAG_JSON) return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8', 1));
  if (tag === TAG_UNDEFINED) return undefined;
  const v = v8.deserialize(payload);
  return special ? revive(v, bulk, hooks, 0) : v;
}
