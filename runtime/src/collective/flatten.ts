/** What an allreduce takes: one flat array, or named arrays (a Map or a plain object). */
export type ReduceInput = Float32Array | Map<string, Float32Array> | Record<string, Float32Array>;

/** Named arrays laid end to end in name order, with a signature of names and sizes. */
export interface Flattened {
  flat: Float32Array;
  /** `name:size,...` (or `flat:n`): members must agree on it. */
  signature: string;
  /** Rebuilds the caller's shape from a reduced flat array. */
  unflatten(flat: Float32Array): ReduceInput;
}

/** Copies the input into one new flat array (the caller's arrays are not changed). */
export function flatten(input: ReduceInput): Flattened {
  if (input instanceof Float32Array) {
    return { flat: input.slice(), signature: `flat:${input.length}`, unflatten: (f) => f };
  }
  const entries = (input instanceof Map ? [...input.entries()] : Object.entries(input)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let n = 0;
  for (const [name, a] of entries) {
    if (!(a instanceof Float32Array)) throw new TypeError(`allreduce: "${name}" is ${a === null ? 'null' : typeof a === 'object' ? (a as object).constructor.name : typeof a}, not a Float32Array`);
    n += a.length;
  }
  const flat = new Float32Array(n);
  let off = 0;
  for (const [, a] of entries) {
    flat.set(a, off);
    off += a.length;
  }
  const signature = entries.map(([name, a]) => `${name}:${a.length}`).join(',');
  const asMap = input instanceof Map;
  return {
    flat,
    signature,
    unflatten: (f) => {
      const out = new Map<string, Float32Array>();
      let o = 0;
      for (const [name, a] of entries) {
        out.set(name, f.subarray(o, o + a.length));
        o += a.length;
      }
      return asMap ? out : Object.fromEntries(out);
    },
  };
}

/** A short, stable digest of a signature (FNV-1a), sent with every message instead of the full text. */
export function signatureDigest(signature: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < signature.length; i++) {
    h ^= signature.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${h.toString(16)}/${signature.length}`;
}
