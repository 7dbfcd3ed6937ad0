import { TrajectoryError, trajectoryScalars, trajectoryScalarsSchema, validateTrajectory, type Trajectory } from './trajectory.js';

/**
 * Binary wire format of trajectories (little-endian), for the runtime's bulk
 * path. Token arrays travel as raw typed arrays, never JSON or base64:
 *
 * ```
 * batch  := "CTRB" u32 version u32 count  record*
 * record := u32 byteLength  "CTRJ" u32 headerBytes  header(JSON of the scalar fields, utf-8)
 *           pad→4  i32[promptLen] promptIds  i32[respLen] responseIds  f32[respLen] behaviourLogprobs
 *           i32[respLen] policyVersions  u8[respLen] lossMask  pad→4
 * ```
 * Array lengths are in the header (`promptLength`, `responseLength`).
 */
export const TRAJECTORY_CODEC_VERSION = 1;
const RECORD_MAGIC = 0x4a525443; // "CTRJ" little-endian
const BATCH_MAGIC = 0x42525443; // "CTRB"

const align4 = (n: number) => (n + 3) & ~3;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Bytes `encodeTrajectory` will produce for `t`. */
function encodeParts(t: Trajectory): { header: Uint8Array; size: number } {
  const header = enc.encode(JSON.stringify({ ...trajectoryScalars(t), promptLength: t.promptIds.length, responseLength: t.responseIds.length }));
  const p = t.promptIds.length;
  const r = t.responseIds.length;
  const size = 8 + align4(header.length) + 4 * p + 12 * r + align4(r);
  return { header, size };
}

function writeRecord(t: Trajectory, header: Uint8Array, out: Uint8Array, offset: number): number {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(offset, RECORD_MAGIC, true);
  dv.setUint32(offset + 4, header.length, true);
  out.set(header, offset + 8);
  let o = offset + 8 + align4(header.length);
  const put = (arr: Int32Array | Float32Array | Uint8Array) => {
    out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), o);
    o += arr.byteLength;
  };
  put(t.promptIds);
  put(t.responseIds);
  put(t.behaviourLogprobs);
  put(t.policyVersions);
  put(t.lossMask);
  return align4(o - offset) + offset;
}

/** Encodes one trajectory (validated first). */
export function encodeTrajectory(t: Trajectory): Uint8Array {
  validateTrajectory(t);
  const { header, size } = encodeParts(t);
  const out = new Uint8Array(size);
  writeRecord(t, header, out, 0);
  return out;
}

function readArray<A extends Int32Array | Float32Array | Uint8Array>(
  ctor: { new (buf: ArrayBufferLike, off: number, len: number): A; new (len: number): A; BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  offset: number,
  length: number,
): A {
  const byteLen = length * ctor.BYTES_PER_ELEMENT;
  const out = new ctor(length);
  // Copy: the source may be misaligned and is often a reused network buffer.
  new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + byteLen));
  return out;
}

/** Decodes one trajectory record; `offset` is where its magic starts. Returns it and the bytes read. */
export function decodeTrajectory(bytes: Uint8Array, offset = 0): { trajectory: Trajectory; bytesRead: number } {
  const need = (n: number, what: string) => {
    if (offset + n > bytes.length) throw new TrajectoryError(`trajectory record truncated: needs ${n} bytes for ${what} at offset ${offset}, only ${bytes.length - offset} left`);
  };
  need(8, 'the record head');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(offset, true) !== RECORD_MAGIC) throw new TrajectoryError(`not a trajectory record at offset ${offset} (bad magic); was it encoded with encodeTrajectory?`);
  const hlen = dv.getUint32(offset + 4, true);
  need(8 + hlen, 'the header');
  let head: unknown;
  try {
    head = JSON.parse(dec.decode(bytes.subarray(offset + 8, offset + 8 + hlen)));
  } catch (err) {
    throw new TrajectoryError(`trajectory header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  const { promptLength: p, responseLength: r, ...scalars } = head as Record<string, unknown> & { promptLength: unknown; responseLength: unknown };
  if (!Number.isInteger(p) || !Number.isInteger(r) || (p as number) < 0 || (r as number) < 0) {
    throw new TrajectoryError('trajectory header lacks valid promptLength/responseLength');
  }
  const parsed = trajectoryScalarsSchema.safeParse(scalars);
  if (!parsed.success) throw new TrajectoryError(`trajectory header: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  const P = p as number;
  const R = r as number;
  let o = offset + 8 + align4(hlen);
  need(o - offset + 4 * P + 12 * R + R, 'the token arrays');
  const promptIds = readArray(Int32Array, bytes, o, P);
  o += 4 * P;
  const responseIds = readArray(Int32Array, bytes, o, R);
  o += 4 * R;
  const behaviourLogprobs = readArray(Float32Array, bytes, o, R);
  o += 4 * R;
  const policyVersions = readArray(Int32Array, bytes, o, R);
  o += 4 * R;
  const lossMask = readArray(Uint8Array, bytes, o, R);
  o += R;
  const trajectory = validateTrajectory({ ...parsed.data, promptIds, responseIds, behaviourLogprobs, policyVersions, lossMask });
  return { trajectory, bytesRead: align4(o - offset) };
}

/** Encodes a list of trajectories into one buffer. */
export function encodeTrajectories(list: readonly Trajectory[]): Uint8Array {
  const parts = list.map((t) => {
    validateTrajectory(t);
    return encodeParts(t);
  });
  const total = 12 + parts.reduce((s, p) => s + 4 + p.size, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, BATCH_MAGIC, true);
  dv.setUint32(4, TRAJECTORY_CODEC_VERSION, true);
  dv.setUint32(8, list.length, true);
  let o = 12;
  list.forEach((t, i) => {
    dv.setUint32(o, parts[i].size, true);
    writeRecord(t, parts[i].header, out, o + 4);
    o += 4 + parts[i].size;
  });
  return out;
}

/** Decodes a buffer made by encodeTrajectories. */
export function decodeTrajectories(bytes: Uint8Array): Trajectory[] {
  if (bytes.length < 12) throw new TrajectoryError(`trajectory batch truncated: ${bytes.length} bytes, the head alone is 12`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== BATCH_MAGIC) throw new TrajectoryError('not a trajectory batch (bad magic); was it encoded with encodeTrajectories?');
  const version = dv.getUint32(4, true);
  if (version !== TRAJECTORY_CODEC_VERSION) throw new TrajectoryError(`trajectory batch version ${version}; this build reads version ${TRAJECTORY_CODEC_VERSION}`);
  const count = dv.getUint32(8, true);
  const out: Trajectory[] = [];
  let o = 12;
  for (let i = 0; i < count; i++) {
    if (o + 4 > bytes.length) throw new TrajectoryError(`trajectory batch truncated after ${i} of ${count} records`);
    const size = dv.getUint32(o, true);
    const { trajectory, bytesRead } = decodeTrajectory(bytes.subarray(0, o + 4 + size), o + 4);
    if (bytesRead !== size) throw new TrajectoryError(`trajectory record ${i}: length prefix says ${size} bytes, the record has ${bytesRead}`);
    out.push(trajectory);
    o += 4 + size;
  }
  if (o !== bytes.length) throw new TrajectoryError(`trajectory batch has ${bytes.length - o} trailing bytes after ${count} records`);
  return out;
}
