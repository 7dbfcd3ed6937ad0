import v8 from 'node:v8';
import { encodeBatch, FrameKind, type Frame } from '@cohort/protos';
import { Rng as SeededRng } from '@cohort/engine';

/**
 * Seeded generators for the wire fuzz suite. Every test takes its seed from
 * COHORT_FUZZ_SEED (default 1) and its budget from COHORT_FUZZ_CASES (cases
 * per test) and COHORT_FUZZ_SECONDS (wall cap per test), so a failure is
 * replayed with the seed it prints.
 */
export const FUZZ_SEED = Number(process.env.COHORT_FUZZ_SEED ?? 1);
export const FUZZ_CASES = Number(process.env.COHORT_FUZZ_CASES ?? 200);
export const FUZZ_SECONDS = Number(process.env.COHORT_FUZZ_SECONDS ?? 20);

/** The project's seeded PRNG (zerosearch's mulberry32) with the draws the fuzzers need. */
export class Rng extends SeededRng {
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.between(0, 255);
    return b;
  }
  string(max: number): string {
    const n = this.between(0, max);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.pick([this.between(32, 126), this.between(0, 0xffff), 10, 0]));
    return s;
  }
}

/** A value of a random type (what a confused or hostile peer might put where something else belongs). */
export function randomValue(r: Rng, depth = 0): unknown {
  switch (r.between(0, depth > 2 ? 6 : 9)) {
    case 0:
      return r.between(-1e9, 1e9);
    case 1:
      return r.pick([NaN, Infinity, -0, 2 ** 53, -1]);
    case 2:
      return r.string(40);
    case 3:
      return r.pick([null, undefined, true, false]);
    case 4:
      return r.bytes(r.between(0, 64));
    case 5:
      return new Float32Array(r.between(0, 16));
    case 6:
      return BigInt(r.between(-100, 100));
    case 7:
      return Array.from({ length: r.between(0, 4) }, () => randomValue(r, depth + 1));
    case 8:
      return Object.fromEntries(Array.from({ length: r.between(0, 4) }, () => [r.pick(['id', 'name', 'owner', 'spec', 'bundles', r.string(8)]), randomValue(r, depth + 1)]));
    default:
      return new Map([[r.string(4), randomValue(r, depth + 1)]]);
  }
}

/** A payload: v8-serialized junk values, JSON-tagged junk, or raw bytes. */
export function randomPayload(r: Rng): Uint8Array {
  switch (r.between(0, 3)) {
    case 0:
      return v8.serialize(randomValue(r));
    case 1:
      return Buffer.concat([Buffer.from([1]), Buffer.from(r.string(60))]);
    case 2:
      return r.bytes(r.between(0, 200));
    default: {
      const good = v8.serialize(randomValue(r));
      return good.subarray(0, r.between(0, good.length)); // truncated
    }
  }
}

const KINDS = Object.values(FrameKind) as number[];
/** Request operations the cluster serves (control plane, object store, agent, head). */
export const OPS = [
  'cp.createActor',
  'cp.waitAlive',
  'cp.getActor',
  'cp.killActor',
  'cp.listActors',
  'cp.createPlacementGroup',
  'cp.waitPlacementGroup',
  'cp.removePlacementGroup',
  'cp.pending',
  'cp.workerStarted',
  'cp.workerReady',
  'cp.workerFailed',
  'obj.get',
  'agent.start',
  'agent.kill',
  'agent.running',
  'agent.headAddress',
  'cluster.driverHello',
  'no.such.op',
];

/** A frame with random fields: any kind (known or not), ids, unknown actor ids, junk payloads, odd bulk lengths. */
export function randomFrame(r: Rng): Frame {
  return {
    kind: r.next() < 0.8 ? r.pick(KINDS) : r.between(0, 2 ** 31),
    id: r.pick([0, 1, r.between(0, 2 ** 32 - 1)]),
    target: r.next() < 0.5 ? r.pick(OPS) : r.pick(['', `a-${r.between(0, 1e6)}-NoSuchActor`, r.string(100)]),
    method: r.pick(['', 'noop', 'add', 'constructor', '__proto__', 'toString', r.string(20)]),
    payload: randomPayload(r),
    flags: r.between(0, 15),
    bulk: r.next() < 0.85 ? [] : Array.from({ length: r.between(1, 3) }, () => r.pick([0, 1, r.between(0, 1e6), 2 ** 40])),
    count: r.between(0, 2 ** 31),
  };
}

/** A data-plane message: random bytes, a truncated batch, or a batch of random frames. */
export function randomBatch(r: Rng): Uint8Array {
  switch (r.between(0, 2)) {
    case 0:
      return r.bytes(r.between(0, 2048));
    case 1: {
      const b = encodeBatch(Array.from({ length: r.between(1, 4) }, () => randomFrame(r)));
      return b.subarray(0, r.between(0, b.length - 1));
    }
    default:
      return encodeBatch(Array.from({ length: r.between(1, 6) }, () => randomFrame(r)));
  }
}

/** Runs `body(i)` for up to `cases` iterations or `seconds` of wall time; returns how many ran. */
export async function forBudget(cases: number, seconds: number, body: (i: number) => Promise<void>): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let i = 0;
  for (; i < cases && Date.now() < end; i++) await body(i);
  return i;
}
