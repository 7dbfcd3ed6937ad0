import { CollectiveMismatchError } from './errors.js';

/** Reduction of an allreduce. */
export type ReduceOp = 'sum' | 'mean';

/**
 * One ring step: sends `chunk` to the next rank and resolves with what the
 * previous rank sent at the same step.
 */
export type RingExchange = (step: number, chunk: Float32Array) => Promise<Float32Array>;

/** Chunk boundaries: chunk i is [b[i], b[i+1]); sizes differ by at most one, any length works. */
export function chunkBounds(length: number, world: number): number[] {
  return Array.from({ length: world + 1 }, (_, i) => Math.floor((i * length) / world));
}

const mod = (a: number, w: number) => ((a % w) + w) % w;

/** dst += src, elementwise (unrolled by four: about 1.5x the speed of the plain loop in V8). */
function addInto(dst: Float32Array, src: Float32Array): void {
  const n = dst.length;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    dst[k] += src[k];
    dst[k + 1] += src[k + 1];
    dst[k + 2] += src[k + 2];
    dst[k + 3] += src[k + 3];
  }
  for (; k < n; k++) dst[k] += src[k];
}

/** dst = (dst + src) / w, elementwise (unrolled likewise). */
function addDivideInto(dst: Float32Array, src: Float32Array, w: number): void {
  const n = dst.length;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    dst[k] = (dst[k] + src[k]) / w;
    dst[k + 1] = (dst[k + 1] + src[k + 1]) / w;
    dst[k + 2] = (dst[k + 2] + src[k + 2]) / w;
    dst[k + 3] = (dst[k + 3] + src[k + 3]) / w;
  }
  for (; k < n; k++) dst[k] = (dst[k] + src[k]) / w;
}

/**
 * The chunk of `chunkBounds(length, world)` that rank `rank` holds after a ring reduce-scatter:
 * chunk (rank + 1) mod world (the one its last reduce step completes). {@link ringAllgather}
 * takes the same assignment, so reduce-scatter then allgather is exactly {@link ringAllreduce}.
 */
export function ownedChunk(rank: number, world: number): number {
  return mod(rank + 1, world);
}

/** [start, end) of the elements rank `rank` holds after a ring reduce-scatter of `length` elements. */
export function ownedRange(length: number, rank: number, world: number): [number, number] {
  const b = chunkBounds(length, world);
  const c = ownedChunk(rank, world);
  return [b[c], b[c + 1]];
}

function expectLength(got: Float32Array, want: number, rank: number, world: number, step: number): void {
  if (got.length !== want) {
    throw new CollectiveMismatchError(`ring step ${step}: rank ${mod(rank - 1, world)} sent ${got.length} values where ${want} were expected; every member must pass the same total length`);
  }
}

/**
 * Ring reduce-scatter of `data` in place (W-1 steps, each rank adds the chunk it receives into
 * its copy): afterwards this rank's {@link ownedRange} of `data` holds the sum (or mean) over
 * every rank; the rest of `data` is partial sums. Returns the owned range (a view). `release`
 * gets each received array once its values are used.
 */
export async function ringReduceScatter(data: Float32Array, rank: number, world: number, op: ReduceOp, exchange: RingExchange, release?: (got: Float32Array) => void): Promise<Float32Array> {
  const b = chunkBounds(data.length, world);
  const chunk = (i: number) => data.subarray(b[mod(i, world)], b[mod(i, world) + 1]);
  if (world === 1) return chunk(0);
  for (let s = 0; s < world - 1; s++) {
    const got = await exchange(s, chunk(rank - s));
    const i = rank - s - 1;
    expectLength(got, chunk(i).length, rank, world, s);
    // The last step completes chunk rank+1, which this rank owns: a mean divides it there, in the same pass.
    if (op === 'mean' && s === world - 2) addDivideInto(chunk(i), got, world);
    else addInto(chunk(i), got);
    release?.(got);
  }
  return chunk(ownedChunk(rank, world));
}

/**
 * Ring allgather in place: every rank's {@link ownedRange} of `data` is copied, bit for bit, into
 * the same range on every other rank (W-1 steps of forwarding). `stepBase` numbers the exchanges
 * after those of a preceding reduce-scatter.
 */
export async function ringAllgather(data: Float32Array, rank: number, world: number, exchange: RingExchange, release?: (got: Float32Array) => void, stepBase = 0): Promise<Float32Array> {
  if (world === 1) return data;
  const b = chunkBounds(data.length, world);
  const chunk = (i: number) => data.subarray(b[mod(i, world)], b[mod(i, world) + 1]);
  for (let s = 0; s < world - 1; s++) {
    const step = stepBase + s;
    const got = await exchange(step, chunk(rank + 1 - s));
    const i = rank - s;
    expectLength(got, chunk(i).length, rank, world, step);
    chunk(i).set(got);
    release?.(got);
  }
  return data;
}

/**
 * Ring allreduce of `data` in place: {@link ringReduceScatter} (W-1 steps) then
 * {@link ringAllgather} (W-1 steps). Every rank moves 2(W-1)/W of the data; the finished chunks
 * are copied bit for bit, so all ranks end with identical values. `mean` divides the owned chunk
 * before the allgather. `release` gets each received array once its values are used (to give
 * pooled receive buffers back).
 */
export async function ringAllreduce(data: Float32Array, rank: number, world: number, op: ReduceOp, exchange: RingExchange, release?: (got: Float32Array) => void): Promise<Float32Array> {
  if (world === 1) return data;
  await ringReduceScatter(data, rank, world, op, exchange, release);
  return ringAllgather(data, rank, world, exchange, release, world - 1);
}
